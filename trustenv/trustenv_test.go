package trustenv

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/oauthproxy/oauthproxy/certs"
)

func prepare(t *testing.T, proxyURL string) (Setup, *certs.CA) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Prepare(dir, ca, proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	return s, ca
}

func names(vs []Var) []string {
	var ns []string
	for _, v := range vs {
		ns = append(ns, v.Name)
	}
	return ns
}

func TestVars(t *testing.T) {
	s, _ := prepare(t, "http://127.0.0.1:9999")
	proxy := []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy"}
	tests := []struct {
		rt   Runtime
		want []string // besides the proxy variables
	}{
		{Curl, []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE"}},
		{Go, []string{"SSL_CERT_FILE"}},
		{Python, []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE"}},
		{Node, []string{"AWS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY", "NODE_OPTIONS"}},
		{Java, []string{"JAVA_TOOL_OPTIONS"}},
		{PHP, []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "PHP_INI_SCAN_DIR"}},
		{All, []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "PHP_INI_SCAN_DIR"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt), func(t *testing.T) {
			got := names(s.Vars(tt.rt))
			want := append(slices.Clone(proxy), tt.want...)
			if !slices.Equal(got, want) {
				t.Errorf("Vars(%s) = %v, want %v", tt.rt, got, want)
			}
		})
	}
	for _, v := range s.Vars(All) {
		switch {
		case v.Name == "PHP_INI_SCAN_DIR":
			if v.Value != ":"+s.PHPIniDir || !v.Merge || v.Sep != ":" {
				t.Errorf("PHP_INI_SCAN_DIR = %q (merge %v, sep %q), want :%s merged with :", v.Value, v.Merge, v.Sep, s.PHPIniDir)
			}
			ini, err := os.ReadFile(filepath.Join(s.PHPIniDir, "oauthproxy.ini"))
			if err != nil || !strings.Contains(string(ini), `curl.cainfo = "`+s.Bundle+`"`) || !strings.Contains(string(ini), `openssl.cafile = "`+s.Bundle+`"`) {
				t.Errorf("php ini: %v\n%s", err, ini)
			}
		case v.Name == "NODE_USE_ENV_PROXY":
			if v.Value != "1" {
				t.Errorf("NODE_USE_ENV_PROXY = %q, want 1", v.Value)
			}
		case strings.EqualFold(v.Name, "NO_PROXY"):
			if v.Value != "" {
				t.Errorf("%s = %q, want empty (loopback IdPs must be proxied)", v.Name, v.Value)
			}
		case strings.HasSuffix(strings.ToLower(v.Name), "_proxy"):
			if v.Value != "http://127.0.0.1:9999" {
				t.Errorf("%s = %q, want the proxy URL", v.Name, v.Value)
			}
		case v.Name == "NODE_EXTRA_CA_CERTS":
			if v.Value != s.CAFile {
				t.Errorf("NODE_EXTRA_CA_CERTS = %q, want the CA alone %q (Node adds it to its own roots)", v.Value, s.CAFile)
			}
		case v.Name == "JAVA_TOOL_OPTIONS":
			for _, o := range []string{"-Dhttps.proxyHost=127.0.0.1", "-Dhttps.proxyPort=9999", "-Dhttp.proxyHost=127.0.0.1", "-Dhttp.proxyPort=9999", "-Dhttp.nonProxyHosts= ", "-Djavax.net.ssl.trustStore=" + s.JavaTrustStore + " ", "-Djavax.net.ssl.trustStoreType=PKCS12"} {
				if !strings.Contains(v.Value+" ", o) {
					t.Errorf("JAVA_TOOL_OPTIONS %q lacks %q", v.Value, o)
				}
			}
		case v.Name == "NODE_OPTIONS":
			if v.Value != "--require "+s.NodePreload || !v.Merge {
				t.Errorf("NODE_OPTIONS = %q (merge %v), want --require %s, merged", v.Value, v.Merge, s.NodePreload)
			}
		default:
			if v.Value != s.Bundle {
				t.Errorf("%s = %q, want the bundle %q", v.Name, v.Value, s.Bundle)
			}
		}
	}
}

func TestPrepareFiles(t *testing.T) {
	s, ca := prepare(t, "http://127.0.0.1:8080")
	pre, err := os.ReadFile(s.NodePreload)
	if err != nil || !bytes.Equal(pre, NodePreload()) {
		t.Errorf("node preload %s: %v; equal to the embedded one: %v", s.NodePreload, err, bytes.Equal(pre, NodePreload()))
	}
	pfx, err := os.ReadFile(s.JavaTrustStore)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pkcs12.DecodeTrustStore(pfx, s.JavaTrustStorePassword)
	if err != nil {
		t.Fatalf("the trust store does not decode with its password: %v", err)
	}
	found := false
	for _, c := range got {
		found = found || c.Equal(ca.Cert)
	}
	if !found {
		t.Errorf("the trust store's %d certificates lack the proxy CA", len(got))
	}
	if SystemBundlePresent() && len(got) < 2 {
		t.Errorf("the trust store holds %d certificates, want the system roots too", len(got))
	}
}

// SystemBundlePresent reports whether the machine has system roots.
func SystemBundlePresent() bool { return certs.SystemBundle() != "" }

func TestEnviron(t *testing.T) {
	vars := []Var{{Name: "HTTPS_PROXY", Value: "http://p:1"}, {Name: "NO_PROXY"}, {Name: "NODE_OPTIONS", Value: "--require /x.cjs", Merge: true}}
	tests := []struct {
		name string
		base []string
		want []string
	}{
		{"adds", []string{"PATH=/bin"}, []string{"PATH=/bin", "HTTPS_PROXY=http://p:1", "NO_PROXY=", "NODE_OPTIONS=--require /x.cjs"}},
		{"replaces", []string{"HTTPS_PROXY=http://old:2", "NO_PROXY=localhost,127.0.0.1"}, []string{"HTTPS_PROXY=http://p:1", "NO_PROXY=", "NODE_OPTIONS=--require /x.cjs"}},
		{"merges options", []string{"NODE_OPTIONS=--max-old-space-size=4096"}, []string{"NODE_OPTIONS=--require /x.cjs --max-old-space-size=4096", "HTTPS_PROXY=http://p:1", "NO_PROXY="}},
		{"merges once", []string{"NODE_OPTIONS=--require /x.cjs --inspect"}, []string{"NODE_OPTIONS=--require /x.cjs --inspect", "HTTPS_PROXY=http://p:1", "NO_PROXY="}},
		{"drops duplicates", []string{"HTTPS_PROXY=a", "HTTPS_PROXY=b"}, []string{"HTTPS_PROXY=http://p:1", "NO_PROXY=", "NODE_OPTIONS=--require /x.cjs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Environ(tt.base, vars); !slices.Equal(got, tt.want) {
				t.Errorf("Environ(%q) = %q, want %q", tt.base, got, tt.want)
			}
		})
	}
}

func TestMergeJavaOptions(t *testing.T) {
	v := Var{Name: "JAVA_TOOL_OPTIONS", Value: `-Dhttps.proxyPort=2222 -Dhttp.nonProxyHosts= -Djavax.net.ssl.trustStore="/a b/t.p12"`, Merge: true}
	tests := []struct{ old, want string }{
		{"", v.Value},
		{"-Xmx1g", v.Value + " -Xmx1g"},
		{`-Xmx1g -Dhttps.proxyPort=1111 -Dhttp.nonProxyHosts="localhost|127.*" -Dfoo="x y"`, v.Value + ` -Xmx1g -Dfoo="x y"`},
		{`-Djavax.net.ssl.trustStore="/old dir/t.p12" -Dhttps.proxyPort=1111`, v.Value},
		{v.Value + " -Xmx1g", v.Value + " -Xmx1g"},
	}
	for _, tt := range tests {
		if got := v.Apply(tt.old); got != tt.want {
			t.Errorf("Apply(%q) = %q, want %q", tt.old, got, tt.want)
		}
	}
}

func TestMergePathList(t *testing.T) {
	v := Var{Name: "PHP_INI_SCAN_DIR", Value: ":/d/php", Merge: true, Sep: ":"}
	for old, want := range map[string]string{"": ":/d/php", "/etc/php/extra": ":/d/php:/etc/php/extra", ":/d/php": ":/d/php"} {
		if got := v.Apply(old); got != want {
			t.Errorf("Apply(%q) = %q, want %q", old, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	vars := []Var{{Name: "HTTPS_PROXY", Value: "http://127.0.0.1:8080"}, {Name: "NO_PROXY"}, {Name: "SSL_CERT_FILE", Value: "/tmp/it's here/b.pem"}, {Name: "NODE_OPTIONS", Value: "--require /p.cjs", Merge: true}}
	getenv := func(n string) string {
		if n == "NODE_OPTIONS" {
			return "--inspect"
		}
		return ""
	}
	tests := []struct {
		sh   Shell
		want []string
	}{
		{Sh, []string{"export HTTPS_PROXY=http://127.0.0.1:8080", "export NO_PROXY=''", `export SSL_CERT_FILE='/tmp/it'\''s here/b.pem'`, "export NODE_OPTIONS='--require /p.cjs --inspect'", "# undo: unset HTTPS_PROXY NODE_OPTIONS NO_PROXY SSL_CERT_FILE"}},
		{Fish, []string{"set -gx HTTPS_PROXY http://127.0.0.1:8080", "set -gx NO_PROXY ''", "set -gx NODE_OPTIONS '--require /p.cjs --inspect'", "# undo: set -e HTTPS_PROXY"}},
		{PowerShell, []string{"$env:HTTPS_PROXY = 'http://127.0.0.1:8080'", "$env:NO_PROXY = ''", "$env:SSL_CERT_FILE = '/tmp/it''s here/b.pem'", "Remove-Item Env:HTTPS_PROXY,Env:NODE_OPTIONS"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.sh), func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tt.sh, vars, getenv); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
	if _, err := ParseShell("tcsh"); err == nil {
		t.Error("ParseShell(tcsh): no error")
	}
}

func TestDockerArgs(t *testing.T) {
	s, _ := prepare(t, "http://debug:change-me@127.0.0.1:8080")
	got := strings.Join(s.DockerArgs(All), " ")
	for _, w := range []string{
		"--add-host host.docker.internal:host-gateway",
		"-e HTTPS_PROXY=http://debug:change-me@host.docker.internal:8080",
		"-e NO_PROXY= ",
		"-e SSL_CERT_FILE=/etc/oauthproxy/trust-bundle.pem",
		"-e NODE_EXTRA_CA_CERTS=/etc/oauthproxy/ca.pem",
		"-e NODE_OPTIONS=--require /etc/oauthproxy/node-preload.cjs",
		"-Djavax.net.ssl.trustStore=/etc/oauthproxy/java-truststore.p12",
		"-Dhttps.proxyHost=host.docker.internal",
		"-v " + s.Bundle + ":/etc/oauthproxy/trust-bundle.pem:ro",
		"-v " + s.CAFile + ":/etc/oauthproxy/ca.pem:ro",
		"-v " + s.JavaTrustStore + ":/etc/oauthproxy/java-truststore.p12:ro",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("docker args lack %q:\n%s", w, got)
		}
	}
	curl := strings.Join(s.DockerArgs(Curl), " ")
	if strings.Contains(curl, "java-truststore") || strings.Contains(curl, "node-preload") {
		t.Errorf("--runtime curl mounts Java or Node files: %s", curl)
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	script := func(name, shebang string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(shebang+"\nprint('hi')\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       Runtime
	}{
		{"node by name", "/usr/bin/node", Node},
		{"npx", "/usr/local/bin/npx", Node},
		{"versioned python", "/usr/bin/python3.11", Python},
		{"java", "/usr/lib/jvm/java-17/bin/java", Java},
		{"windows dotnet", `dotnet.exe`, DotNet},
		{"env shebang", script("tool", "#!/usr/bin/env python3"), Python},
		{"env -S shebang", script("tool2", "#!/usr/bin/env -S node --no-warnings"), Node},
		{"direct shebang", script("tool3", "#!/usr/bin/ruby -w"), Ruby},
		{"shell script", script("tool4", "#!/bin/sh"), ""},
		{"go binary", self, Go},
		{"missing file", filepath.Join(dir, "nope"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.path); got != tt.want {
				t.Errorf("Detect(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestDetectCommand(t *testing.T) {
	tests := []struct {
		argv []string
		want Runtime
	}{
		{[]string{"/usr/bin/env", "NO_PROXY=x", "-u", "FOO", "node", "app.js"}, Node},
		{[]string{"nice", "-n", "10", "python3", "app.py"}, Python},
		{[]string{"env"}, ""},
		{[]string{"no-such-program-here-java"}, ""},
		{[]string{"/opt/jdk/bin/java", "-jar", "a.jar"}, Java},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			if got := DetectCommand(tt.argv); got != tt.want {
				t.Errorf("DetectCommand(%q) = %q, want %q", tt.argv, got, tt.want)
			}
		})
	}
}

func TestBypassReasons(t *testing.T) {
	for _, rt := range append(Runtimes(), "") {
		rs := BypassReasons(rt)
		if len(rs) == 0 {
			t.Errorf("BypassReasons(%q) is empty", rt)
		}
		if rs := TrustReasons(rt); len(rs) == 0 || !strings.Contains(rs[0], "trust") {
			t.Errorf("TrustReasons(%q) = %q, want the CA first", rt, rs)
		}
	}
	if got := strings.Join(BypassReasons(Go), "\n"); !strings.Contains(got, "Proxy: nil") || !strings.Contains(got, "localhost") {
		t.Errorf("Go reasons lack Proxy: nil and localhost:\n%s", got)
	}
	if got := strings.Join(BypassReasons(Python), "\n"); !strings.Contains(got, "trust_env=True") {
		t.Errorf("Python reasons lack aiohttp's trust_env:\n%s", got)
	}
}

func TestParseRuntime(t *testing.T) {
	for in, want := range map[string]Runtime{"node": Node, "nodejs": Node, "Java": Java, "python3": Python, "": All, "all": All} {
		if got, err := ParseRuntime(in); err != nil || got != want {
			t.Errorf("ParseRuntime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseRuntime("cobol"); err == nil || !strings.Contains(err.Error(), "trustenv:") {
		t.Errorf("ParseRuntime(cobol) error = %v, want a trustenv: error", err)
	}
}

func TestQuoting(t *testing.T) {
	s := Setup{ProxyURL: "http://127.0.0.1:1", NodePreload: `/data dir/node-preload.cjs`, JavaTrustStore: "/data dir/java-truststore.p12", JavaTrustStorePassword: "x"}
	for _, v := range s.Vars(All) {
		switch v.Name {
		case "NODE_OPTIONS":
			if want := `--require "/data dir/node-preload.cjs"`; v.Value != want {
				t.Errorf("NODE_OPTIONS = %q, want %q", v.Value, want)
			}
		case "JAVA_TOOL_OPTIONS":
			if want := `-Djavax.net.ssl.trustStore="/data dir/java-truststore.p12" `; !strings.Contains(v.Value, want) {
				t.Errorf("JAVA_TOOL_OPTIONS = %q, want it to hold %q", v.Value, want)
			}
		}
	}
}
