package trustenv

import (
	"bufio"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// commandRuntimes maps a program's base name to its runtime.
var commandRuntimes = map[string]Runtime{
	"node": Node, "nodejs": Node, "npm": Node, "npx": Node, "yarn": Node, "pnpm": Node, "corepack": Node,
	"java": Java, "javaw": Java, "jshell": Java, "mvn": Java, "mvnw": Java, "gradle": Java, "gradlew": Java, "kotlin": Java, "scala": Java, "sbt": Java, "lein": Java, "clojure": Java,
	"python": Python, "python3": Python, "pip": Python, "pip3": Python, "pipx": Python, "poetry": Python, "uv": Python, "pytest": Python,
	"ruby": Ruby, "gem": Ruby, "bundle": Ruby, "bundler": Ruby, "rails": Ruby, "irb": Ruby, "rake": Ruby,
	"dotnet": DotNet,
	"php":    PHP, "composer": PHP,
	"curl": Curl,
	"git":  Git,
	"aws":  AWS,
	"go":   Go,
}

// Detect guesses the runtime of the program at path (as found on PATH):
// by its name (node, java, python3.12, npm, mvn...), by the interpreter of
// a "#!" script, or, for a compiled binary, by the Go build information it
// carries. It returns "" when it cannot tell.
func Detect(path string) Runtime {
	if rt := byName(filepath.Base(path)); rt != "" {
		return rt
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	if strings.HasPrefix(line, "#!") {
		fields := strings.Fields(strings.TrimPrefix(line, "#!"))
		for _, fl := range fields {
			if b := filepath.Base(fl); b != "env" && !strings.HasPrefix(fl, "-") {
				return byName(b)
			}
		}
		return ""
	}
	if _, err := buildinfo.ReadFile(path); err == nil {
		return Go
	}
	return ""
}

// DetectCommand is Detect for a command line: wrappers that run another
// program (env with its VAR=value and flags, nice, nohup, time, exec,
// command) are looked through, and the program is found on PATH.
func DetectCommand(argv []string) Runtime {
	for len(argv) > 0 {
		switch filepath.Base(argv[0]) {
		case "env", "nice", "nohup", "time", "command", "exec", "stdbuf", "timeout":
			// Skip the wrapper's flags, their values (-u NAME, -n 10) and
			// VAR=value: the program is the first word that is one.
			argv = argv[1:]
			for len(argv) > 0 && !isProgram(argv[0]) {
				argv = argv[1:]
			}
			continue
		}
		path, err := exec.LookPath(argv[0])
		if err != nil {
			return byName(filepath.Base(argv[0]))
		}
		return Detect(path)
	}
	return ""
}

func isProgram(word string) bool {
	if strings.HasPrefix(word, "-") || strings.Contains(word, "=") {
		return false
	}
	if byName(filepath.Base(word)) != "" {
		return true
	}
	_, err := exec.LookPath(word)
	return err == nil
}

// byName maps a base name, with version suffixes (python3.12, node20) and
// Windows extensions dropped, to a runtime.
func byName(base string) Runtime {
	base = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(base, ".exe"), ".cmd"))
	if rt, ok := commandRuntimes[base]; ok {
		return rt
	}
	trimmed := strings.TrimRight(base, "0123456789.-")
	if rt, ok := commandRuntimes[trimmed]; ok && trimmed != base {
		return rt
	}
	return ""
}

// BypassReasons lists the likely reasons why a program of runtime rt ("" when
// unknown) sent nothing through the proxy it was given, most likely first.
func BypassReasons(rt Runtime) []string {
	var rs []string
	switch rt {
	case Go:
		rs = append(rs,
			"its http.Transport has no Proxy function (a &http.Transport{} built without Proxy: http.ProxyFromEnvironment, or Proxy: nil) and so ignores HTTPS_PROXY",
			"Go never proxies requests to localhost or to loopback IPs (127.x, ::1): name the server by a host name that resolves to 127.0.0.1 (an /etc/hosts entry)")
	case Node:
		rs = append(rs,
			"the request used its own agent or client (axios/got/node-fetch with agent:, undici's own Client, request() or ProxyAgent), which the preload does not replace",
			"NODE_OPTIONS was replaced by a script before node started, so the preload was not loaded (Node before 22.21/24.5 ignores HTTPS_PROXY without it)",
			"the target was excluded by NO_PROXY set inside the program")
	case Java:
		rs = append(rs,
			"the HTTP client does not read the proxy system properties: Apache HttpClient (HttpClients.createDefault(); createSystem() reads them), OkHttp or Netty with their own settings, or a ProxySelector / Proxy.NO_PROXY set in code",
			"JAVA_TOOL_OPTIONS was replaced or the JVM was started with its own -Dhttp(s).proxyHost/-Dhttp.nonProxyHosts",
			"a library sets http.nonProxyHosts itself (the JDK's default skips localhost|127.*|[::1]; exec empties it)")
	case Python:
		rs = append(rs,
			"aiohttp reads the proxy variables only with ClientSession(trust_env=True); this cannot be switched on from outside the program",
			"the session was made with trust_env=False, or urllib3's PoolManager was used directly (it reads no environment)")
	case Ruby:
		rs = append(rs,
			"Net::HTTP never proxies a host that resolves to 127.x or ::1 (URI#find_proxy), whatever the environment says: a local server cannot be proxied for Ruby this way",
			"Net::HTTP.new was given an explicit proxy (or nil for p_addr), or the HTTP library takes its own proxy option (Faraday, HTTParty, Excon)")
	case DotNet:
		rs = append(rs,
			"the HttpClientHandler sets UseProxy = false or its own Proxy",
			"the target is localhost or a loopback IP, which .NET may not send through an environment proxy: name the server by a host name")
	case PHP:
		rs = append(rs, "file_get_contents and other stream wrappers ignore the proxy variables (only libcurl reads https_proxy), or CURLOPT_PROXY is set in code")
	case Curl:
		rs = append(rs, "--noproxy, --proxy '' or a ~/.curlrc proxy setting overrides the environment")
	}
	rs = append(rs,
		"the program made no HTTP(S) request at all, or it failed before sending one (look at its own output)",
		"it sets its own proxy or NO_PROXY, or talks to the server over something other than HTTP(S)")
	return rs
}

// TrustReasons lists the likely reasons why a program of runtime rt ("" when
// unknown) connected to the proxy but completed no exchange: mostly, it
// does not trust the proxy's CA through the variables it was given.
func TrustReasons(rt Runtime) []string {
	var rs []string
	switch rt {
	case Node:
		rs = append(rs, "it does not trust the CA: NODE_EXTRA_CA_CERTS is read only at startup and ignored by code that passes its own ca: option")
	case Java:
		rs = append(rs, "it does not trust the CA: the JVM was given its own -Djavax.net.ssl.trustStore, or the client builds its own SSLContext")
	case Python:
		rs = append(rs, "it does not trust the CA: certifi's bundle is passed in code (verify=certifi.where()) instead of REQUESTS_CA_BUNDLE / SSL_CERT_FILE")
	case Go:
		rs = append(rs, "it does not trust the CA: its tls.Config has its own RootCAs instead of the system pool (which reads SSL_CERT_FILE)")
	case Curl, PHP, Ruby, DotNet, Git:
		rs = append(rs, "it does not trust the CA: the CA bundle is set in code or configuration (--cacert, curl.cainfo, http.sslCAInfo...) instead of SSL_CERT_FILE")
	default:
		rs = append(rs, "it does not trust the proxy's CA (the TLS handshake with the proxy failed): see the runtime's CA variable in 'oauthproxy env'")
	}
	return append(rs,
		"it pins the server's certificate: tunnel that host untouched with --passthrough HOST",
		"it gave up or was stopped before the answer came")
}
