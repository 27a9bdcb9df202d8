package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/flow"
)

// waitLimit bounds every wait in these tests so that a bug fails instead of
// hanging; it is a safety net, not a performance assertion.
const waitLimit = 20 * time.Second

var (
	testCAOnce sync.Once
	testCA     *certs.CA
	testCAErr  error
)

// proxyCA is one MITM CA shared by the tests (generating keys is slow under -race).
func proxyCA(t testing.TB) *certs.CA {
	t.Helper()
	testCAOnce.Do(func() { testCA, testCAErr = certs.Generate() })
	if testCAErr != nil {
		t.Fatalf("certs.Generate: %v", testCAErr)
	}
	return testCA
}

// collector is a flow.Sink that keeps every exchange and counts calls per ID.
type collector struct {
	mu    sync.Mutex
	xs    []*flow.Exchange
	calls map[string]int
	ch    chan struct{}
}

func newCollector() *collector {
	return &collector{calls: map[string]int{}, ch: make(chan struct{}, 1<<16)}
}

func (c *collector) Handle(x *flow.Exchange) {
	c.mu.Lock()
	c.xs = append(c.xs, x)
	c.calls[x.ID]++
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait returns the first n exchanges once they have arrived.
func (c *collector) wait(t testing.TB, n int) []*flow.Exchange {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		if len(c.xs) >= n {
			xs := append([]*flow.Exchange(nil), c.xs[:n]...)
			c.mu.Unlock()
			return xs
		}
		have := len(c.xs)
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("sink got %d exchanges, want %d", have, n)
		}
	}
}

func (c *collector) all() []*flow.Exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*flow.Exchange(nil), c.xs...)
}

// checkOnce fails when any exchange reached the sink more than once.
func (c *collector) checkOnce(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.calls {
		if n != 1 {
			t.Errorf("exchange %s handed to the sink %d times, want 1", id, n)
		}
	}
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// testProxy is a running Server with its sink and listener.
type testProxy struct {
	*Server
	addr string
	url  *url.URL
	sink *collector
	ln   *countingListener
	ca   *certs.CA
}

// startProxy starts a Server on 127.0.0.1 with opts (CA and Sink filled
// in when empty) and shuts it down at the end of the test.
func startProxy(t testing.TB, opts Options) *testProxy {
	t.Helper()
	return startProxyCleanup(t, opts, true, nil)
}

// startProxyTweaked is startProxy with a function that adjusts the Server
// between New and Serve.
func startProxyTweaked(t testing.TB, opts Options, tweak func(*Server)) *testProxy {
	t.Helper()
	return startProxyCleanup(t, opts, true, tweak)
}

// startProxyNoCleanup starts a proxy that lives until the process ends
// (shared by fuzz iterations).
func startProxyNoCleanup(t testing.TB, opts Options) *testProxy {
	t.Helper()
	return startProxyCleanup(t, opts, false, nil)
}

// newUpstreamNoCleanup starts a plain-HTTP server that lives until the process ends.
func newUpstreamNoCleanup(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog()
	srv.Start()
	return srv
}

func startProxyCleanup(t testing.TB, opts Options, cleanup bool, tweak func(*Server)) *testProxy {
	t.Helper()
	if opts.CA == nil {
		opts.CA = proxyCA(t)
	}
	sink := newCollector()
	if opts.Sink == nil {
		opts.Sink = sink
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if tweak != nil {
		tweak(s)
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cl := &countingListener{Listener: l}
	done := make(chan error, 1)
	go func() { done <- s.Serve(cl) }()
	if cleanup {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	addr := l.Addr().String()
	return &testProxy{Server: s, addr: addr, url: &url.URL{Scheme: "http", Host: addr}, sink: sink, ln: cl, ca: opts.CA}
}

// client returns an HTTP client that goes through the proxy and trusts
// only the proxy CA (and extra roots, if any). It never decompresses.
func (p *testProxy) client(t testing.TB) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	tr := &http.Transport{
		Proxy:              http.ProxyURL(p.url),
		TLSClientConfig:    &tls.Config{RootCAs: pool},
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// caFile writes the proxy CA to a PEM file for curl.
func (p *testProxy) caFile(t testing.TB) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(f, p.ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// newUpstream starts an HTTPS server with httptest's own CA; h2 enables HTTP/2.
func newUpstream(t testing.TB, h http.Handler, h2 bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = h2
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// rootsOf is a pool trusting srv's certificate.
func rootsOf(srvs ...*httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, s := range srvs {
		if c := s.Certificate(); c != nil {
			pool.AddCert(c)
		}
	}
	return pool
}

// readAll GETs url through c and returns status, body and response.
func get(t testing.TB, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp, b
}

// connectTunnel opens a raw CONNECT tunnel to target through the proxy
// and returns the connection (after the 200) and a reader on it.
func connectTunnel(t testing.TB, proxyAddr, target, auth string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("CONNECT %s: got %s (%s), want 200", target, resp.Status, b)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, br
}

// bufConn reads through a bufio.Reader that may hold bytes already.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// waitClosed reads from c until it fails (closed by the peer) and reports
// whether that happened before the safety limit.
func waitClosed(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("connection still open after %s", waitLimit)
			}
			return nil
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// newUpstreamOwnCA starts an HTTPS server whose certificate (for
// 127.0.0.1) is signed by a fresh CA, returned in the server's
// Certificate() only as the leaf; nothing trusts that CA.
func newUpstreamOwnCA(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv, _ := newUpstreamFor(t, h, "127.0.0.1")
	return srv
}

// newUpstreamFor starts an HTTPS server with a certificate for name from
// a fresh CA, and returns the CA's pool.
func newUpstreamFor(t testing.TB, h http.Handler, name string) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	ca, err := certs.Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certs.NewMinter(ca, 0).Leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, pool
}

// execCurl runs curl with a time limit and returns its standard output.
func execCurl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("curl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
