package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/certs"
)

// syncBuffer is a bytes.Buffer safe for the proxy goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs the CLI in-process and returns exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := mainEnv(e, args)
	return code, out.String(), errb.String()
}

// proxyProc is an oauthproxy `run` inside the test process.
type proxyProc struct {
	addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startProxy starts `oauthproxy run` with args on a free loopback port and
// waits until it accepts connections.
func startProxy(t testing.TB, args ...string) *proxyProc {
	t.Helper()
	return startProxyTo(t, nil, args...)
}

// startProxyTo is startProxy with the live log written to out instead of
// p.stdout (when out is not nil).
func startProxyTo(t testing.TB, out io.Writer, args ...string) *proxyProc {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxyProc{addr: addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	if out == nil {
		out = p.stdout
	}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: out, stderr: p.stderr, getenv: func(string) string { return "" }}
	go func() { p.done <- mainEnv(e, append([]string{"run", "--listen", addr}, args...)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case code := <-p.done:
			t.Fatalf("proxy exited with %d before listening: %s", code, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not listen on %s: %s", addr, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { p.halt(t) })
	return p
}

func (p *proxyProc) stop(t *testing.T) int {
	t.Helper()
	return p.halt(t)
}

// halt is stop for tests and benchmarks alike.
func (p *proxyProc) halt(t testing.TB) int {
	t.Helper()
	if p.cancel == nil {
		return 0
	}
	p.cancel()
	p.cancel = nil
	select {
	case code := <-p.done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("proxy did not shut down")
	}
	return -1
}

// records parses the JSON log lines written so far.
func (p *proxyProc) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// waitRecords waits until n exchanges were logged.
func (p *proxyProc) waitRecords(t *testing.T, n int) []map[string]any {
	t.Helper()
	// A bound on waiting, not on speed: under -race each distinct guessable
	// value (provider error codes quoted as code=NNN count) costs ~1.3 s of
	// memory-hard fingerprinting on a 2-core machine.
	deadline := time.Now().Add(60 * time.Second)
	for {
		rs := p.records(t)
		if len(rs) >= n || time.Now().After(deadline) {
			if len(rs) < n {
				t.Fatalf("got %d log records, want %d; stdout:\n%s\nstderr:\n%s", len(rs), n, p.stdout.String(), p.stderr.String())
			}
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// upstream is an HTTPS server with its own CA, written to a PEM file for --upstream-ca.
type upstream struct {
	*httptest.Server
	caFile string
}

func newUpstream(t testing.TB, h http.Handler) *upstream {
	t.Helper()
	ca, err := certs.Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certs.NewMinter(ca, 0).Leaf("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	s.StartTLS()
	t.Cleanup(s.Close)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &upstream{Server: s, caFile: caFile}
}

// client returns an http.Client that goes through the proxy and trusts its CA.
func (p *proxyProc) client(t *testing.T, dataDir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	pu, _ := url.Parse("http://" + p.addr)
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a pem file"), 0o600)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"run", "--nope"}, "flag provided but not defined"},
		{"bad log format", []string{"run", "--data-dir", dir, "--log-format", "xml"}, "--log-format"},
		{"remote without auth", []string{"run", "--data-dir", dir, "--listen", "0.0.0.0:0"}, "allow-remote"},
		{"remote with allow but no auth", []string{"run", "--data-dir", dir, "--listen", "0.0.0.0:0", "--allow-remote"}, "proxy-auth"},
		{"bad CA PEM", []string{"run", "--data-dir", dir, "--ca-cert", bad, "--ca-key", bad}, bad},
		{"ca-cert without key", []string{"ca", "--data-dir", dir, "--ca-cert", bad}, "--ca-key"},
		{"har-unredacted without har", []string{"run", "--data-dir", dir, "--har-unredacted"}, "--har"},
		{"explain bad status", []string{"explain", "--status", "abc"}, "invalid value"},
		{"diff one file", []string{"diff", "a.har"}, "two HAR files"},
		{"analyze no file", []string{"analyze"}, "one HAR file"},
		{"har no subcommand", []string{"har"}, "recover or redact"},
		{"view no file", []string{"view"}, "one HAR file"},
		{"view beyond loopback", []string{"view", "--listen", "0.0.0.0:0", "a.har"}, "loopback"},
		{"negative ui bytes", []string{"run", "--data-dir", dir, "--ui-bytes", "-1"}, "--ui-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("usage error is %d lines, want one: %q", n+1, stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := run(t, "", c.name, "--help")
			if code != exitOK {
				t.Errorf("exit code %d, want 0", code)
			}
			if !strings.Contains(out, "Example") || !strings.Contains(out, "Usage: oauthproxy "+c.name) {
				t.Errorf("help lacks usage or an example:\n%s", out)
			}
		})
	}
	code, out, _ := run(t, "", "help")
	if code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("help overview: code %d, out %q", code, out)
	}
}

func TestCA(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run(t, "", "ca", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	blk, _ := pem.Decode([]byte(out))
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("ca printed no PEM certificate: %q", out)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !cert.IsCA {
		t.Fatalf("not a CA certificate: %v", err)
	}
	_, der, _ := run(t, "", "ca", "--data-dir", dir, "--der")
	if !bytes.Equal([]byte(der), blk.Bytes) {
		t.Error("--der differs from the PEM's DER")
	}
	_, path, _ := run(t, "", "ca", "--data-dir", dir, "--path")
	if strings.TrimSpace(path) != filepath.Join(dir, "ca.pem") {
		t.Errorf("--path = %q, want %q", path, filepath.Join(dir, "ca.pem"))
	}
	if err := os.Chmod(filepath.Join(dir, "ca-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "", "ca", "--data-dir", dir)
	if code != exitUsage || !strings.Contains(stderr, "chmod") {
		t.Errorf("group-readable key: exit %d, stderr %q; want 2 and a chmod hint", code, stderr)
	}
}

// TestEnvCurl: `oauthproxy env`, evaluated in a shell, lets a plain curl
// (no flags) go through the proxy and trust it.
func TestEnvCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello through the proxy")
	}))
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json")
	code, exports, stderr := run(t, "", "env", "--data-dir", dir, "--listen", p.addr)
	if code != 0 {
		t.Fatalf("env: exit %d: %s", code, stderr)
	}
	script := filepath.Join(t.TempDir(), "env.sh")
	os.WriteFile(script, []byte(exports), 0o600)
	cmd := exec.Command("bash", "-c", `eval "$(cat "$1")" && curl -sS --fail "$2"`, "bash", script, up.URL+"/hello")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl after eval env: %v: %s", err, out)
	}
	if string(out) != "hello through the proxy" {
		t.Errorf("got %q", out)
	}
	rs := p.waitRecords(t, 1)
	if rs[0]["url"] != up.URL+"/hello" {
		t.Errorf("logged url %v, want %s (the request did not go through the proxy?)", rs[0]["url"], up.URL+"/hello")
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "oauthproxy ") {
		t.Errorf("version: %d %q", code, out)
	}
}

var _ = io.Discard

func TestFlagsAfterArguments(t *testing.T) {
	har := filepath.Join("..", "..", "capture", "testdata", "chrome.har")
	code, out, stderr := run(t, "", "analyze", har, "--format", "json", "--quiet")
	if code != 0 {
		t.Fatalf("analyze FILE --format json: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "{") || stderr != "" {
		t.Errorf("flags after the file were not applied: stdout %.60q, stderr %q", out, stderr)
	}
	code, _, stderr = run(t, "", "analyze", "--", "--not-a-flag.har")
	if code != exitFailure || !strings.Contains(stderr, "--not-a-flag.har") {
		t.Errorf("after --, an argument that looks like a flag is a file: exit %d, stderr %q", code, stderr)
	}
}

// TestCLIConventions: --help prints once, a bad flag one line with a hint
// (not the whole help), the overview lists every command, unknown help
// topics and usage errors exit 2, runtime failures 1, and the version is
// there under both spellings.
func TestCLIConventions(t *testing.T) {
	for _, c := range commands {
		t.Run("help once/"+c.name, func(t *testing.T) {
			_, out, _ := run(t, "", c.name, "--help")
			if n := strings.Count(out, "Usage: oauthproxy "+c.name); n != 1 {
				t.Errorf("%s --help printed the help %d times, want 1", c.name, n)
			}
			_, viaHelp, _ := run(t, "", "help", c.name)
			if viaHelp != out {
				t.Errorf("'help %s' differs from '%s --help':\n%s\nvs\n%s", c.name, c.name, viaHelp, out)
			}
		})
		t.Run("bad flag/"+c.name, func(t *testing.T) {
			code, out, stderr := run(t, "", c.name, "--no-such-flag")
			want := "oauthproxy " + c.name + ": flag provided but not defined: -no-such-flag (see 'oauthproxy " + c.name + " --help')\n"
			if code != exitUsage || stderr != want || out != "" {
				t.Errorf("bad flag: exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out, stderr, want)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, _ := run(t, "", args...)
		if code != exitOK {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("%v: overview does not list %q:\n%s", args, c.name, out)
			}
		}
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, _ := run(t, "", args...)
		if code != exitOK || out != "oauthproxy "+version+"\n" {
			t.Errorf("%v: exit %d, out %q; want 0, the version", args, code, out)
		}
	}
	if code, _, stderr := run(t, "", "help", "nosuch"); code != exitUsage || !strings.Contains(stderr, `unknown command "nosuch"`) {
		t.Errorf("help nosuch: exit %d, stderr %q; want 2 and the unknown command", code, stderr)
	}
	// A runtime failure (the port is taken) is exit 1, not 2.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, stderr := run(t, "", "run", "--data-dir", t.TempDir(), "--no-ledger", "--listen", l.Addr().String())
	if code != exitFailure || !strings.Contains(stderr, "--listen") {
		t.Errorf("port in use: exit %d, stderr %q; want 1 and a --listen hint", code, stderr)
	}
}

// TestLedgerUnwritable: a data directory where the ledger cannot be
// opened (read-only, or as here a directory in the lock file's place, which
// fails for root too) is a runtime failure (exit 1) whose message suggests
// --no-ledger; with --no-ledger the proxy starts.
func TestLedgerUnwritable(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "", "ca", "--data-dir", dir); code != 0 {
		t.Fatalf("ca: %s", stderr)
	}
	if err := os.Mkdir(filepath.Join(dir, "ledger.jsonl.lock"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "run", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != exitFailure || !strings.Contains(stderr, "--no-ledger") {
		t.Errorf("exit %d, stderr %q; want 1 and a --no-ledger hint", code, stderr)
	}
	p := startProxy(t, "--data-dir", dir, "--no-ledger")
	if code := p.stop(t); code != 0 {
		t.Errorf("with --no-ledger: exit %d: %s", code, p.stderr.String())
	}
}
