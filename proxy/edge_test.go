package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestBodilessResponses: HEAD, 204 and 304 answers keep the intercepted
// tunnel usable and each make one exchange.
func TestBodilessResponses(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	c := p.client(t)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"HEAD", "/head", 200, ""},
		{"GET", "/204", 204, ""},
		{"GET", "/304", 304, ""},
		{"GET", "/get", 200, "hello"},
	}
	for i, tc := range tests {
		req, _ := http.NewRequest(tc.method, up.URL+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body {
			t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
		x := p.sink.wait(t, i+1)[i]
		if x.Response.Status != tc.status || x.Response.Body.Size != int64(len(tc.body)) {
			t.Errorf("%s %s exchange: got %d size %d", tc.method, tc.path, x.Response.Status, x.Response.Body.Size)
		}
	}
	if n := p.ln.n.Load(); n != 1 {
		t.Errorf("client connections: got %d, want 1", n)
	}
}

// TestHopHeaders: hop-by-hop headers (and those named by Connection) do
// not reach upstream, the exchange keeps what the client sent.
func TestHopHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	raw, br := connectTunnel(t, p.addr, up.Listener.Addr().String(), "")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End: 1\r\n\r\n", up.Listener.Addr())
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-seen
	for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection"} {
		if _, ok := h[k]; ok {
			t.Errorf("upstream saw hop-by-hop header %s", k)
		}
	}
	if h.Get("X-End") != "1" {
		t.Errorf("upstream lost X-End: %v", h)
	}
	x := p.sink.wait(t, 1)[0]
	if x.Request.Header.Get("X-Hop") != "1" || x.Request.Header.Get("Connection") == "" {
		t.Errorf("exchange header: got %v, want the headers as sent", x.Request.Header)
	}
}

// TestExpectContinue: curl's Expect: 100-continue upload through an
// intercepted tunnel.
func TestExpectContinue(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	f := filepath.Join(t.TempDir(), "body")
	os.WriteFile(f, bytes.Repeat([]byte("b"), 100000), 0o644)
	out, err := execCurl(t, "--proxy", p.url.String(), "--cacert", p.caFile(t), "-H", "Expect: 100-continue", "--data-binary", "@"+f, up.URL)
	if err != nil || out != "100000" {
		t.Errorf("curl upload: got %q %v, want 100000", out, err)
	}
	if x := p.sink.wait(t, 1)[0]; x.Request.Body.Size != 100000 {
		t.Errorf("request body size: got %d, want 100000", x.Request.Body.Size)
	}
	if resp, _ := get(t, p.client(t), up.URL); resp.StatusCode != http.StatusOK {
		t.Errorf("next request: status %d, want 200", resp.StatusCode)
	}
}

// syncBuffer is a goroutine-safe log buffer.
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

// TestLoggingAndSinkPanic: a client that rejects the proxy's certificate
// is logged; a panicking sink is logged and the proxy keeps serving; the
// proxy credential never appears in the log.
func TestLoggingAndSinkPanic(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	var logBuf syncBuffer
	var mu sync.Mutex
	calls := 0
	sink := flow.SinkFunc(func(x *flow.Exchange) {
		mu.Lock()
		calls++
		mu.Unlock()
		panic("inspector bug")
	})
	p := startProxy(t, Options{RootCAs: rootsOf(up), Sink: sink, ProxyAuth: "u:topsecret", Logger: zerolog.New(&logBuf)})
	_, err := execCurl(t, "--proxy", p.url.String(), "--proxy-user", "u:topsecret", up.URL) // does not trust the proxy CA
	if err == nil {
		t.Fatal("curl without the proxy CA: got success, want a certificate error")
	}
	for i := 0; i < 2; i++ {
		out, err := execCurl(t, "--proxy", p.url.String(), "--proxy-user", "u:topsecret", "--cacert", p.caFile(t), up.URL)
		if err != nil || !strings.Contains(out, `"method":"GET"`) {
			t.Fatalf("request %d with a panicking sink: got %q %v", i, out, err)
		}
	}
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(logBuf.String(), "sink panicked") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	log := logBuf.String()
	for _, want := range []string{"handshake", "sink panicked", "inspector bug"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "topsecret") || strings.Contains(log, "dTp0b3BzZWNyZXQ") {
		t.Errorf("log contains the proxy credential:\n%s", log)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("sink calls: got %d, want 2", calls)
	}
}

var (
	fuzzOnce  sync.Once
	fuzzProxy *testProxy
	fuzzUp    string
)

// FuzzClientBytes sends arbitrary bytes to the proxy as a client would;
// whatever they are, the proxy answers or hangs up, and keeps serving.
func FuzzClientBytes(f *testing.F) {
	for _, seed := range []string{
		"GET http://UP/ HTTP/1.1\r\nHost: UP\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT UP HTTP/1.1\r\nHost: UP\r\n\r\n\x16\x03\x01\x00\x05hello",
		"CONNECT UP HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"POST http://UP/ HTTP/1.1\r\nHost: UP\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST http://UP/ HTTP/1.1\r\nHost: UP\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"GET http://[::1/ HTTP/1.1\r\n\r\n",
		"\x00\x01\x02\r\n\r\n",
		"GET http://UP/ HTTP/1.1\r\nHost: UP\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		fuzzOnce.Do(func() {
			up := newUpstreamNoCleanup(echoHandler())
			fuzzUp = up.Listener.Addr().String()
			fuzzProxy = startProxyNoCleanup(t, Options{RootCAs: rootsOf(up), HeaderTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond})
		})
		c, err := net.Dial("tcp", fuzzProxy.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, strings.ReplaceAll(data, "UP", fuzzUp))
		io.Copy(io.Discard, c)
		c.Close()
		c2, err := net.Dial("tcp", fuzzProxy.addr)
		if err != nil {
			t.Fatalf("proxy stopped accepting: %v", err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(waitLimit))
		fmt.Fprintf(c2, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", fuzzUp, fuzzUp)
		line, err := bufio.NewReader(c2).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
			t.Fatalf("proxy stopped answering: %q %v", line, err)
		}
	})
}

// TestHostnameUpstream: a named host (localhost) is resolved (DNS timing),
// its leaf is minted for the SNI name, and the exchange records the SNI
// and the upstream issuer.
func TestHostnameUpstream(t *testing.T) {
	up, roots := newUpstreamFor(t, echoHandler(), "localhost")
	p := startProxy(t, Options{RootCAs: roots})
	port := up.Listener.Addr().(*net.TCPAddr).Port
	u := fmt.Sprintf("https://localhost:%d/named", port)
	out, err := execCurl(t, "--proxy", p.url.String(), "--cacert", p.caFile(t), u)
	if err != nil || !strings.Contains(out, `"path":"/named"`) {
		t.Fatalf("curl %s: got %q %v", u, out, err)
	}
	x := p.sink.wait(t, 1)[0]
	if x.Request.URLString() != u || x.Conn.ServerName != "localhost" || !strings.Contains(x.Conn.CertIssuer, "oauthproxy CA") {
		t.Errorf("exchange: got url %s sni %q issuer %q, want %s, localhost, the upstream CA", x.Request.URLString(), x.Conn.ServerName, x.Conn.CertIssuer, u)
	}
	if x.Timings.DNS <= 0 {
		t.Errorf("DNS timing: got %v, want > 0 for a named host", x.Timings.DNS)
	}
	if !strings.HasSuffix(x.Conn.ServerAddr, fmt.Sprintf(":%d", port)) {
		t.Errorf("server addr: got %q, want the resolved address with port %d", x.Conn.ServerAddr, port)
	}
}

// TestGoproxyWarningsInLogFormat: goproxy's own warnings come out as the
// proxy's structured log lines (level, component, "proxy: " message), with
// goproxy's "[id] WARN:" prefix gone and secrets redacted.
func TestGoproxyWarningsInLogFormat(t *testing.T) {
	var buf syncBuffer
	g := goproxyLogger{zerolog.New(&buf)}
	g.Printf("[%03d] WARN: Cannot read request from mitm'd client %v %v", 7, "idp.test:443", "GET /cb?code=Canary-code-123")
	var m map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
		t.Fatalf("not one JSON log line: %q", buf.String())
	}
	msg, _ := m["message"].(string)
	if m["level"] != "warn" || m["component"] != "proxy" || !strings.HasPrefix(msg, "proxy: Cannot read request from mitm'd client idp.test:443") {
		t.Errorf("log line %v; want level warn, component proxy, message 'proxy: Cannot read...'", m)
	}
	if strings.Contains(buf.String(), "Canary-code-123") || strings.Contains(buf.String(), "WARN:") {
		t.Errorf("log line keeps a secret or goproxy's prefix: %s", buf.String())
	}
}
