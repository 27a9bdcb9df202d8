// Package trustenv knows, per runtime, the environment variables and files
// that make one process (and its children) send HTTP(S) through a proxy and
// trust the proxy's CA, without touching anything system-wide: the proxy
// variables, the CA bundle variables of curl, git, Python, Go, Ruby, .NET
// and the AWS SDKs, a preload for Node versions that ignore HTTPS_PROXY, and
// a PKCS#12 trust store plus JAVA_TOOL_OPTIONS for Java.
//
// Prepare writes the files into the data directory; Setup.Vars lists the
// variables; Environ applies them to an environment; Render prints them for
// a shell or for `docker run`. `oauthproxy exec` and `oauthproxy env` use the
// same lists, so what one sets the other prints.
package trustenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/certs"
)

// Runtime names a family of clients with its own proxy and trust settings.
type Runtime string

// The runtimes Vars knows. All selects every variable.
const (
	All    Runtime = "all"
	Curl   Runtime = "curl"
	Git    Runtime = "git"
	Go     Runtime = "go"
	Python Runtime = "python"
	Node   Runtime = "node"
	Java   Runtime = "java"
	Ruby   Runtime = "ruby"
	DotNet Runtime = "dotnet"
	PHP    Runtime = "php"
	AWS    Runtime = "aws"
)

// Runtimes lists the runtimes accepted by ParseRuntime, All first.
func Runtimes() []Runtime {
	return []Runtime{All, Curl, Git, Go, Python, Node, Java, Ruby, DotNet, PHP, AWS}
}

// ParseRuntime returns the runtime named s ("nodejs" and "python3" are
// accepted too).
func ParseRuntime(s string) (Runtime, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "nodejs", "js", "javascript":
		return Node, nil
	case "python3", "py":
		return Python, nil
	case "golang":
		return Go, nil
	case ".net", "csharp", "c#":
		return DotNet, nil
	case "":
		return All, nil
	}
	for _, r := range Runtimes() {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, 0, len(Runtimes()))
	for _, r := range Runtimes() {
		names = append(names, string(r))
	}
	return "", fmt.Errorf("trustenv: unknown runtime %q (want one of %s)", s, strings.Join(names, ", "))
}

// Setup holds the proxy address and the files a process needs.
type Setup struct {
	// ProxyURL is the proxy as clients reach it, http://host:port, with
	// user:pass when the proxy requires authentication.
	ProxyURL string
	// CAFile is the proxy CA certificate alone (PEM).
	CAFile string
	// Bundle is the system roots plus the CA (PEM).
	Bundle string
	// NodePreload is the Node preload script (see assets/node-preload.cjs).
	NodePreload string
	// JavaTrustStore is a PKCS#12 trust store of the system roots plus the
	// CA; JavaTrustStorePassword opens it (it guards integrity only: a
	// trust store holds no secret).
	JavaTrustStore, JavaTrustStorePassword string
	// PHPIniDir holds an ini file that points PHP's curl extension and
	// OpenSSL streams at Bundle (libcurl ignores SSL_CERT_FILE).
	PHPIniDir string
}

// Prepare writes the trust bundle, the Node preload and the Java trust store
// into dir (atomically, so concurrent runs are safe) and returns the Setup
// for proxyURL.
func Prepare(dir string, ca *certs.CA, proxyURL string) (Setup, error) {
	if ca == nil || ca.Cert == nil {
		return Setup{}, errors.New("trustenv: no CA")
	}
	if _, err := url.Parse(proxyURL); err != nil {
		return Setup{}, fmt.Errorf("trustenv: proxy URL: %w", err)
	}
	bundle, err := certs.WriteTrustBundle(dir, ca)
	if err != nil {
		return Setup{}, err
	}
	caFile := ca.CertFile
	if caFile == "" {
		if caFile, err = writeCA(dir, ca); err != nil {
			return Setup{}, err
		}
	}
	preload, err := writeNodePreload(dir)
	if err != nil {
		return Setup{}, err
	}
	store, err := writeJavaTrustStore(dir, bundle)
	if err != nil {
		return Setup{}, err
	}
	phpDir, err := writePHPIni(dir, bundle)
	if err != nil {
		return Setup{}, err
	}
	return Setup{
		ProxyURL:               proxyURL,
		CAFile:                 caFile,
		Bundle:                 bundle,
		NodePreload:            preload,
		JavaTrustStore:         store,
		JavaTrustStorePassword: JavaTrustStorePassword,
		PHPIniDir:              phpDir,
	}, nil
}

// Var is one environment variable to set. An empty Value means "set to
// empty" (NO_PROXY), not "unset".
type Var struct {
	Name, Value string
	// Merge, when set, says the variable holds options that must be added
	// to what the process already has (NODE_OPTIONS, JAVA_TOOL_OPTIONS)
	// instead of replacing them.
	Merge bool
	// Sep joins a Merge variable's value and the old one: " " when empty;
	// ":" for a path list (PHP_INI_SCAN_DIR).
	Sep string
}

// proxyVarNames are set for every runtime: upper and lower case, as tools
// disagree on which they read (curl reads only lower-case http_proxy).
var proxyVarNames = []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}

// noProxyNames are emptied so that IdPs on loopback names are proxied too.
var noProxyNames = []string{"NO_PROXY", "no_proxy"}

// caVars says which CA-bundle variable each runtime reads.
var caVars = []struct {
	name     string
	runtimes []Runtime
	caOnly   bool // the variable adds to the runtime's roots: the CA alone
}{
	{"SSL_CERT_FILE", []Runtime{Go, Python, Ruby, DotNet, PHP, Curl, Git}, false}, // OpenSSL's default file, Go, httpx
	{"CURL_CA_BUNDLE", []Runtime{Curl, PHP}, false},
	{"REQUESTS_CA_BUNDLE", []Runtime{Python}, false},
	{"GIT_SSL_CAINFO", []Runtime{Git}, false},
	{"AWS_CA_BUNDLE", []Runtime{AWS, Python, Node}, false},
	{"NODE_EXTRA_CA_CERTS", []Runtime{Node}, true},
}

// Vars returns the variables for rt (All: every runtime), proxy variables
// first, in a stable order.
func (s Setup) Vars(rt Runtime) []Var {
	var vs []Var
	for _, n := range proxyVarNames {
		vs = append(vs, Var{Name: n, Value: s.ProxyURL})
	}
	for _, n := range noProxyNames {
		vs = append(vs, Var{Name: n})
	}
	for _, c := range caVars {
		if rt != All && !has(c.runtimes, rt) {
			continue
		}
		v := s.Bundle
		if c.caOnly {
			v = s.CAFile
		}
		vs = append(vs, Var{Name: c.name, Value: v})
	}
	if rt == All || rt == Node {
		vs = append(vs,
			Var{Name: "NODE_USE_ENV_PROXY", Value: "1"},
			Var{Name: "NODE_OPTIONS", Value: "--require " + nodeQuote(s.NodePreload), Merge: true})
	}
	if rt == All || rt == Java {
		vs = append(vs, Var{Name: "JAVA_TOOL_OPTIONS", Value: s.javaOptions(), Merge: true})
	}
	if (rt == All || rt == PHP) && s.PHPIniDir != "" {
		// The leading ":" keeps PHP's own scan directory (an empty entry
		// stands for it) before ours.
		vs = append(vs, Var{Name: "PHP_INI_SCAN_DIR", Value: string(os.PathListSeparator) + s.PHPIniDir, Merge: true, Sep: string(os.PathListSeparator)})
	}
	return vs
}

func has(rs []Runtime, r Runtime) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// nodeQuote quotes a path for NODE_OPTIONS, which splits on spaces but
// honours double quotes.
func nodeQuote(p string) string {
	if !strings.ContainsAny(p, " \t\"\\") {
		return p
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}

// javaQuote quotes a value for JAVA_TOOL_OPTIONS, which splits on white
// space but (Java 9+) keeps double-quoted text together; it has no escapes.
func javaQuote(v string) string {
	if !strings.ContainsAny(v, " \t") {
		return v
	}
	return `"` + v + `"`
}

// javaOptions are the system properties that make Java's HttpURLConnection
// and java.net.http.HttpClient use the proxy and trust the CA.
func (s Setup) javaOptions() string {
	host, port := "127.0.0.1", "8080"
	if u, err := url.Parse(s.ProxyURL); err == nil && u.Host != "" {
		if h, p, err := net.SplitHostPort(u.Host); err == nil {
			host, port = h, p
		} else {
			host = u.Host
			port = "80"
		}
	}
	opts := []string{
		"-Dhttp.proxyHost=" + host, "-Dhttp.proxyPort=" + port,
		"-Dhttps.proxyHost=" + host, "-Dhttps.proxyPort=" + port,
		// Empty: Java's default skips localhost|127.*|[::1]; an explicit
		// empty list proxies every host name (see README, Java).
		"-Dhttp.nonProxyHosts=",
		"-Djavax.net.ssl.trustStore=" + javaQuote(s.JavaTrustStore),
		"-Djavax.net.ssl.trustStoreType=PKCS12",
		"-Djavax.net.ssl.trustStorePassword=" + s.JavaTrustStorePassword,
	}
	return strings.Join(opts, " ")
}

// Environ returns base (KEY=VALUE entries, as os.Environ) with vars applied:
// a variable replaces any entry of the same name, except Merge variables,
// whose value is put before the existing one (once: applying twice does not
// repeat it).
func Environ(base []string, vars []Var) []string {
	set := make(map[string]Var, len(vars))
	for _, v := range vars {
		set[v.Name] = v
	}
	out := make([]string, 0, len(base)+len(vars))
	seen := map[string]bool{}
	for _, kv := range base {
		name, val, _ := strings.Cut(kv, "=")
		v, ok := set[name]
		if !ok {
			out = append(out, kv)
			continue
		}
		if seen[name] {
			continue // a duplicate entry in base
		}
		seen[name] = true
		out = append(out, name+"="+value(v, val))
	}
	for _, v := range vars {
		if !seen[v.Name] {
			seen[v.Name] = true
			out = append(out, v.Name+"="+v.Value)
		}
	}
	return out
}

// Apply returns what a variable becomes in a process whose current value
// is old: Merge variables keep old after theirs.
func (v Var) Apply(old string) string { return value(v, old) }

func value(v Var, old string) string {
	if !v.Merge || strings.TrimSpace(old) == "" {
		return v.Value
	}
	if strings.Contains(old, v.Value) {
		return old
	}
	if v.Sep != "" && v.Sep != " " {
		return v.Value + v.Sep + old
	}
	// Drop the -Dname=... of old that ours set: for Java the last one
	// wins, so a stale proxy port from an earlier `env` would override.
	ours := map[string]bool{}
	for _, t := range splitOptions(v.Value) {
		if k, _, ok := strings.Cut(t, "="); ok && strings.HasPrefix(k, "-D") {
			ours[k] = true
		}
	}
	var kept []string
	for _, t := range splitOptions(old) {
		if k, _, ok := strings.Cut(t, "="); ok && ours[k] {
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return v.Value
	}
	return v.Value + " " + strings.Join(kept, " ")
}

// splitOptions splits an options variable on white space outside double
// quotes, keeping the quotes.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case (r == ' ' || r == '\t' || r == '\n') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// Names returns the names of vars, sorted, for an "unset" line.
func Names(vars []Var) []string {
	ns := make([]string, 0, len(vars))
	for _, v := range vars {
		ns = append(ns, v.Name)
	}
	sort.Strings(ns)
	return ns
}
