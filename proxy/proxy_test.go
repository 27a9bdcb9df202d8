package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// echoHandler answers with a deterministic body built from the request.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"path":%q,"query":%q,"x_test":%q,"body_len":%d,"proto_major":%d}`,
			r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Test"), len(body), r.ProtoMajor)
	})
}

// TestIntercept is acceptance (1): curl and net/http reach an HTTPS
// upstream with its own CA through the proxy, get the bytes a direct
// request gets, and the sink gets one complete exchange per request.
func TestIntercept(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "upstream HTTP/1.1"
		if h2 {
			name = "upstream HTTP/2"
		}
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t, echoHandler(), h2)
			p := startProxy(t, Options{RootCAs: rootsOf(up)})
			target := up.URL + "/hello?x=1"

			direct, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			direct.Header.Set("X-Test", "1")
			dresp, err := up.Client().Do(direct)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(dresp.Body)
			dresp.Body.Close()

			// net/http client, twice (the second reuses both connections).
			c := p.client(t)
			for i := 0; i < 2; i++ {
				req, _ := http.NewRequest(http.MethodGet, target, nil)
				req.Header.Set("X-Test", "1")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET via proxy: %v", err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(got, want) {
					t.Fatalf("via proxy: got %d %q, want 200 %q", resp.StatusCode, got, want)
				}
			}
			// curl, trusting only the proxy CA.
			out, err := exec.Command("curl", "-sS", "--max-time", "20", "--proxy", p.url.String(),
				"--cacert", p.caFile(t), "-H", "X-Test: 1", target).CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("curl via proxy: got %q, want %q", out, want)
			}

			xs := p.sink.wait(t, 3)
			p.sink.checkOnce(t)
			leafSum := sha256.Sum256(up.Certificate().Raw)
			for i, x := range xs {
				if _, err := uuid.Parse(x.ID); err != nil {
					t.Errorf("exchange %d: ID %q is not a UUID: %v", i, x.ID, err)
				}
				checks := []struct {
					what      string
					got, want any
				}{
					{"method", x.Request.Method, "GET"},
					{"url", x.Request.URLString(), target},
					{"request proto", x.Request.Proto, "HTTP/1.1"},
					{"X-Test header", x.Request.Header.Get("X-Test"), "1"},
					{"status", x.Response.Status, 200},
					{"response proto", x.Response.Proto, map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]},
					{"X-Upstream header", x.Response.Header.Get("X-Upstream"), "yes"},
					{"body data", string(x.Response.Body.Data), string(want)},
					{"body size", x.Response.Body.Size, int64(len(want))},
					{"truncated", x.Response.Body.Truncated, false},
					{"error", x.Error, ""},
					{"server addr", x.Conn.ServerAddr, up.Listener.Addr().String()},
					{"tls version", x.Conn.TLSVersion, "TLS 1.3"},
					{"alpn", x.Conn.ALPN, map[bool]string{false: "http/1.1", true: "h2"}[h2]},
					{"sni (none for an IP)", x.Conn.ServerName, ""},
					{"cert sha256", x.Conn.CertSHA256, hex.EncodeToString(leafSum[:])},
					{"intercepted", x.Conn.Intercepted, true},
				}
				for _, c := range checks {
					if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
						t.Errorf("exchange %d: %s: got %v, want %v", i, c.what, c.got, c.want)
					}
				}
				if !strings.Contains(x.Conn.CertIssuer, "Acme Co") {
					t.Errorf("exchange %d: cert issuer: got %q, want it to name Acme Co", i, x.Conn.CertIssuer)
				}
				if x.Conn.CipherSuite == "" || !strings.HasPrefix(x.Conn.ClientAddr, "127.0.0.1:") || !strings.HasPrefix(x.Conn.LocalAddr, "127.0.0.1:") {
					t.Errorf("exchange %d: conn: got %+v, want cipher, client and local addresses", i, x.Conn)
				}
				tm := x.Timings
				if tm.Total <= 0 || tm.Wait < 0 || tm.Receive < 0 || tm.Send < 0 || tm.Wait+tm.Send > tm.Total {
					t.Errorf("exchange %d: timings: got %+v, want a positive total covering send and wait", i, tm)
				}
				if x.Start.IsZero() {
					t.Errorf("exchange %d: Start not set", i)
				}
			}
			if xs[0].Conn.Reused || !xs[1].Conn.Reused {
				t.Errorf("upstream reuse: got first %v second %v, want false then true", xs[0].Conn.Reused, xs[1].Conn.Reused)
			}
			if xs[0].Timings.TLS <= 0 || xs[0].Timings.Connect <= 0 {
				t.Errorf("first exchange: got connect %v tls %v, want both measured", xs[0].Timings.Connect, xs[0].Timings.TLS)
			}
		})
	}
}

// TestPlainHTTP proxies plain http:// requests (curl and net/http), with
// a request body, and keeps one client connection for several requests.
func TestPlainHTTP(t *testing.T) {
	up := newPlainUpstream(t, echoHandler())
	p := startProxy(t, Options{})
	c := p.client(t)
	for i := 0; i < 3; i++ {
		resp, err := c.Post(up.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `"body_len":29`; !strings.Contains(string(b), want) {
			t.Fatalf("POST via proxy: got %s, want it to contain %s", b, want)
		}
	}
	out, err := exec.Command("curl", "-sS", "--max-time", "20", "--proxy", p.url.String(), up.URL+"/c").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"path":"/c"`) {
		t.Fatalf("curl via proxy: err %v, got %s", err, out)
	}
	xs := p.sink.wait(t, 4)
	x := xs[0]
	if got, want := string(x.Request.Body.Data), "grant_type=client_credentials"; got != want {
		t.Errorf("request body: got %q, want %q", got, want)
	}
	if x.Request.Body.Size != 29 || x.Request.Body.Truncated {
		t.Errorf("request body: got size %d truncated %v, want 29 false", x.Request.Body.Size, x.Request.Body.Truncated)
	}
	if x.Conn.Intercepted || x.Conn.TLSVersion != "" {
		t.Errorf("plain exchange conn: got %+v, want not intercepted, no TLS", x.Conn)
	}
	if got := p.ln.n.Load(); got != 2 {
		t.Errorf("client connections accepted: got %d, want 2 (one for net/http, one for curl)", got)
	}
	// curl sends Proxy-Connection; the exchange keeps it, upstream must not see it.
	if xs[3].Request.Header.Get("Proxy-Connection") == "" {
		t.Errorf("curl exchange header: got %v, want Proxy-Connection as sent", xs[3].Request.Header)
	}
}

// newPlainUpstream starts a plain-HTTP test server.
func newPlainUpstream(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestUntrustedUpstream is acceptance (2): an upstream whose certificate
// does not chain to RootCAs gets a 502 that names the host and the x509
// reason, the exchange carries the same text, and the proxy keeps serving.
func TestUntrustedUpstream(t *testing.T) {
	good := newUpstream(t, echoHandler(), false)
	bad := newUpstreamOwnCA(t, echoHandler()) // signed by a CA nobody trusts
	p := startProxy(t, Options{RootCAs: rootsOf(good)})

	want := "oauthproxy: upstream " + bad.Listener.Addr().String() + ": TLS certificate verification failed: x509: certificate signed by unknown authority" + UntrustedHint
	c := p.client(t)
	resp, body := get(t, c, bad.URL+"/x")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status: got %d, want 502", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type: got %q, want text/plain", ct)
	}
	if got := strings.TrimSpace(string(body)); got != want {
		t.Errorf("502 body: got %q, want %q", got, want)
	}
	out, _ := exec.Command("curl", "-sS", "--max-time", "20", "--proxy", p.url.String(), "--cacert", p.caFile(t),
		"-w", "\n%{http_code}", bad.URL+"/x").CombinedOutput()
	if !strings.Contains(string(out), want) || !strings.HasSuffix(string(out), "502") {
		t.Errorf("curl: got %q, want the 502 text and status", out)
	}
	resp, body = get(t, c, good.URL+"/y")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"path":"/y"`) {
		t.Errorf("after the failure: got %d %s, want 200 from the trusted upstream", resp.StatusCode, body)
	}
	xs := p.sink.wait(t, 3)
	if xs[0].Error != want || xs[0].Response != nil {
		t.Errorf("failed exchange: got error %q response %v, want %q and no response", xs[0].Error, xs[0].Response, want)
	}
	if xs[2].Error != "" || xs[2].Response == nil || xs[2].Response.Status != 200 {
		t.Errorf("next exchange: got error %q, want a 200", xs[2].Error)
	}
}

// TestKeepAlive is acceptance (3): several requests reuse one client
// connection and one intercepted tunnel, and one upstream connection.
func TestKeepAlive(t *testing.T) {
	var upConns atomic.Int64
	up := httptest.NewUnstartedServer(echoHandler())
	up.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			upConns.Add(1)
		}
	}
	up.StartTLS()
	defer up.Close()
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	c := p.client(t)
	const n = 5
	for i := 0; i < n; i++ {
		resp, err := c.Post(up.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=x"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	xs := p.sink.wait(t, n)
	if got := p.ln.n.Load(); got != 1 {
		t.Errorf("client connections (CONNECTs): got %d, want 1", got)
	}
	for i, x := range xs {
		if x.Conn.ConnectionID != xs[0].Conn.ConnectionID {
			t.Errorf("exchange %d: connection %q, want %q (same tunnel)", i, x.Conn.ConnectionID, xs[0].Conn.ConnectionID)
		}
	}
	if got := upConns.Load(); got != 1 {
		t.Errorf("upstream connections: got %d, want 1", got)
	}

	// curl: three URLs in one invocation share one connection and tunnel.
	before := p.ln.n.Load()
	out, err := exec.Command("curl", "-sS", "--max-time", "20", "--proxy", p.url.String(), "--cacert", p.caFile(t),
		up.URL+"/a", up.URL+"/b", up.URL+"/c").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	if got := strings.Count(string(out), `"method":"GET"`); got != 3 {
		t.Errorf("curl responses: got %d, want 3: %s", got, out)
	}
	if got := p.ln.n.Load() - before; got != 1 {
		t.Errorf("curl client connections: got %d, want 1", got)
	}
}

// TestMintOnce is acceptance (4): 50 concurrent first connections to one
// new host mint one leaf.
func TestMintOnce(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.client(t) // own transport: a new connection and CONNECT each
			resp, err := c.Get(up.URL + "/")
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request: %v", err)
	}
	if got := p.Minter().Minted(); got != 1 {
		t.Errorf("Minted: got %d, want 1", got)
	}
	if got := p.ln.n.Load(); got != n {
		t.Errorf("client connections: got %d, want %d", got, n)
	}
}

// TestHTTPSProxyEnvIgnored: HTTPS_PROXY/HTTP_PROXY in the environment
// never route the proxy's own upstream connections (MITM, plain, tunnel).
func TestHTTPSProxyEnvIgnored(t *testing.T) {
	dead := "http://" + closedPort(t)
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"} {
		t.Setenv(k, dead)
	}
	t.Setenv("NO_PROXY", "")
	up := newUpstream(t, echoHandler(), false)
	plain := newPlainUpstream(t, echoHandler())
	echo := startEcho(t, "127.0.0.2:0")
	p := startProxy(t, Options{RootCAs: rootsOf(up), Passthrough: []string{"127.0.0.2"}})
	c := p.client(t)
	for _, u := range []string{up.URL + "/mitm", plain.URL + "/plain"} {
		if resp, body := get(t, c, u); resp.StatusCode != 200 {
			t.Errorf("GET %s with HTTPS_PROXY set: got %d %s, want 200", u, resp.StatusCode, body)
		}
	}
	conn, br := connectTunnel(t, p.addr, echo, "")
	fmt.Fprint(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Errorf("tunnel echo with HTTPS_PROXY set: got %q %v, want ping", line, err)
	}
}

// startEcho starts a TCP echo server on addr and returns its address.
func startEcho(t testing.TB, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}
