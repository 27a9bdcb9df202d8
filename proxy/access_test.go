package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestProxyAuth is acceptance (7, second half): with ProxyAuth, a missing
// or wrong Proxy-Authorization gets 407 on plain requests and on CONNECT;
// the right one works (curl --proxy-user too) and never reaches upstream.
func TestProxyAuth(t *testing.T) {
	var upstreamSawAuth atomic.Value
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamSawAuth.Store(r.Header.Get("Proxy-Authorization"))
		io.WriteString(w, "ok")
	}), false)
	plainUp := newPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamSawAuth.Store(r.Header.Get("Proxy-Authorization"))
		io.WriteString(w, "ok")
	}))
	p := startProxy(t, Options{RootCAs: rootsOf(up), ProxyAuth: "alice:s3cret"})
	basic := func(cred string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) }

	tests := []struct {
		name string
		auth string
		want int
	}{
		{"missing", "", 407},
		{"wrong password", basic("alice:nope"), 407},
		{"wrong scheme", "Bearer alice:s3cret", 407},
		{"not base64", "Basic !!!", 407},
		{"right", basic("alice:s3cret"), 200},
		{"right, lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name+" plain", func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := fmt.Sprintf("GET %s/ HTTP/1.1\r\nHost: %s\r\n", plainUp.URL, plainUp.Listener.Addr())
			if tc.auth != "" {
				req += "Proxy-Authorization: " + tc.auth + "\r\n"
			}
			io.WriteString(c, req+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkAuthResponse(t, resp, tc.want)
		})
		t.Run(tc.name+" CONNECT", func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			host := up.Listener.Addr().String()
			req := fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n", host, host)
			if tc.auth != "" {
				req += "Proxy-Authorization: " + tc.auth + "\r\n"
			}
			io.WriteString(c, req+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatal(err)
			}
			checkAuthResponse(t, resp, tc.want)
		})
	}

	for _, u := range []string{up.URL + "/", plainUp.URL + "/"} {
		out, err := execCurl(t, "--proxy", p.url.String(), "--proxy-user", "alice:s3cret", "--cacert", p.caFile(t), u)
		if err != nil || out != "ok" {
			t.Errorf("curl --proxy-user %s: got %q %v, want ok", u, out, err)
		}
		if v, _ := upstreamSawAuth.Load().(string); v != "" {
			t.Errorf("%s: upstream saw Proxy-Authorization %q, want none", u, v)
		}
		out, err = execCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "--proxy", p.url.String(), "--cacert", p.caFile(t), u)
		// curl reports a 407 on CONNECT as exit 56 "response 407".
		if !strings.HasPrefix(out, "407") && (err == nil || !strings.Contains(err.Error(), "response 407")) {
			t.Errorf("curl without --proxy-user %s: got %q %v, want 407", u, out, err)
		}
	}
	for _, x := range p.sink.all() {
		for _, v := range x.Request.Header["Proxy-Authorization"] {
			if strings.Contains(v, base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))) {
				t.Errorf("exchange %s records the proxy credential: %q", x.Request.URLString(), v)
			}
		}
	}
}

func checkAuthResponse(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("status: got %d, want %d", resp.StatusCode, want)
	}
	if want == 407 {
		if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="oauthproxy"` {
			t.Errorf("Proxy-Authenticate: got %q, want %q", got, `Basic realm="oauthproxy"`)
		}
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("407 body leaks the credential: %q", b)
		}
	}
}

// TestCAPage: a direct request to the proxy, or a request through it to
// its own address (plain or CONNECT), gets the CA page instead of looping.
func TestCAPage(t *testing.T) {
	p := startProxy(t, Options{})
	direct := &http.Client{Timeout: waitLimit}
	page := func(t *testing.T, c *http.Client, base string) {
		t.Helper()
		resp, body := get(t, c, base+"/")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("page: got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{`href="/ca.pem"`, `href="/ca.der"`, "--cacert", "oauthproxy env", "keytool", "Firefox", "Windows", "macOS", "Linux"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("page lacks %q", want)
			}
		}
		resp, body = get(t, c, base+"/ca.pem")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pem-file" || !bytes.Equal(body, p.ca.CertPEM) {
			t.Errorf("/ca.pem: got %d %s, want the CA PEM", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		resp, body = get(t, c, base+"/ca.der")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-x509-ca-cert" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || !bytes.Equal(body, p.ca.DER()) {
			t.Errorf("/ca.der: got %d %s %q, want the CA DER as an attachment", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		if resp, _ := get(t, c, base+"/nope"); resp.StatusCode != 404 {
			t.Errorf("/nope: got %d, want 404", resp.StatusCode)
		}
	}
	t.Run("direct", func(t *testing.T) { page(t, direct, "http://"+p.addr) })
	t.Run("through itself", func(t *testing.T) { page(t, p.client(t), "http://"+p.addr) })
	port := p.Addr().(*net.TCPAddr).Port
	t.Run("through itself as localhost", func(t *testing.T) { page(t, p.client(t), fmt.Sprintf("http://localhost:%d", port)) })
	t.Run("CONNECT to itself", func(t *testing.T) { page(t, p.client(t), "https://"+p.addr) })
	out, err := execCurl(t, "--proxy", p.url.String(), "http://"+p.addr+"/ca.pem")
	if err != nil || out != string(p.ca.CertPEM) {
		t.Errorf("curl through itself: got %q %v", out, err)
	}
	if n := len(p.sink.all()); n != 0 {
		t.Errorf("page requests became %d exchanges, want 0", n)
	}
}

// TestPassthrough: Passthrough globs and a non-matching Intercept list
// tunnel untouched (the client sees the upstream's own certificate, no
// leaf is minted), each tunnel is one CONNECT exchange, and a failed dial
// is a 502 on the CONNECT.
func TestPassthrough(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	refused := closedPort(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"passthrough glob", Options{Passthrough: []string{"127.0.0.*"}}},
		{"passthrough exact", Options{Passthrough: []string{"example.com", "127.0.0.1"}}},
		{"intercept list without the host", Options{Intercept: []string{"*.example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.RootCAs = x509.NewCertPool() // would fail verification if intercepted
			p := startProxy(t, tc.opts)
			c := &http.Client{Timeout: waitLimit, Transport: &http.Transport{
				Proxy:           http.ProxyURL(p.url),
				TLSClientConfig: &tls.Config{RootCAs: rootsOf(up)}, // trusts upstream, not the proxy
			}}
			for i := 0; i < 2; i++ {
				resp, body := get(t, c, up.URL+"/pt")
				if resp.StatusCode != 200 || !strings.Contains(string(body), `"path":"/pt"`) {
					t.Fatalf("through the tunnel: got %d %s", resp.StatusCode, body)
				}
			}
			c.CloseIdleConnections()
			x := p.sink.wait(t, 1)[0]
			if x.Request.Method != http.MethodConnect || x.Request.URL.Host != up.Listener.Addr().String() ||
				x.Request.Body.Size == 0 || x.Response.Body.Size == 0 || x.Conn.ServerAddr != up.Listener.Addr().String() || x.Conn.Intercepted {
				t.Errorf("tunnel exchange: got %s %v sizes %d/%d server %s intercepted %v; want CONNECT with byte counts",
					x.Request.Method, x.Request.URL, x.Request.Body.Size, x.Response.Body.Size, x.Conn.ServerAddr, x.Conn.Intercepted)
			}
			if n := p.Minter().Minted(); n != 0 {
				t.Errorf("Minted: got %d, want 0", n)
			}

			// A failed dial is a 502 on the CONNECT, with an exchange.
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", refused, refused)
			resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			want := "oauthproxy: upstream " + refused + ": connection refused"
			if resp.StatusCode != 502 || strings.TrimSpace(string(body)) != want {
				t.Errorf("CONNECT to a closed port: got %d %q, want 502 %q", resp.StatusCode, body, want)
			}
			if x := p.sink.wait(t, 2)[1]; x.Error != want {
				t.Errorf("failed tunnel exchange: got error %q, want %q", x.Error, want)
			}
		})
	}
}

// TestInterceptList: a host matching Intercept is intercepted.
func TestInterceptList(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up), Intercept: []string{"127.0.0.1"}})
	if resp, _ := get(t, p.client(t), up.URL); resp.StatusCode != 200 {
		t.Fatalf("intercepted: got %d", resp.StatusCode)
	}
	if x := p.sink.wait(t, 1)[0]; !x.Conn.Intercepted || p.Minter().Minted() != 1 {
		t.Errorf("got intercepted %v minted %d, want true 1", x.Conn.Intercepted, p.Minter().Minted())
	}
}

// TestShutdown: Shutdown waits for an in-flight intercepted exchange to
// finish, then closes idle tunnels and stops accepting.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	}), false)
	s, err := New(Options{CA: proxyCA(t), RootCAs: rootsOf(up)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	p := &testProxy{Server: s, addr: l.Addr().String(), url: &url.URL{Scheme: "http", Host: l.Addr().String()}, ca: proxyCA(t)}

	idle := p.client(t) // an idle intercepted tunnel must be closed by Shutdown
	if resp, _ := get(t, idle, up.URL+"/fast"); resp.StatusCode != 200 {
		t.Fatal("warm-up failed")
	}
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := p.client(t).Get(up.URL + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// Shutdown must not return while the exchange is in flight.
	for s.shutting.Load() == false {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an exchange in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if r := <-res; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request: got %q %v, want done", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", p.addr); err == nil {
		t.Errorf("still accepting after Shutdown")
	}
	if n := len(s.conns); n != 0 {
		t.Errorf("client connections left open: %d", n)
	}
}

// TestUpstreamProxy: with UpstreamProxy, intercepted, plain and tunnelled
// traffic goes through it (with its credential), never directly.
func TestUpstreamProxy(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	plainUp := newPlainUpstream(t, echoHandler())
	echo := startEcho(t, "127.0.0.2:0")
	var connects, plains atomic.Int64
	var badAuth atomic.Int64
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw"))
	chain := newPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != wantAuth {
			badAuth.Add(1)
		}
		if r.Method != http.MethodConnect {
			plains.Add(1)
			resp, err := http.DefaultTransport.(*http.Transport).Clone().RoundTrip(r.WithContext(r.Context()))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		connects.Add(1)
		dst, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer dst.Close()
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
		go io.Copy(dst, brw)
		io.Copy(c, dst)
	}))
	chainURL, _ := url.Parse(chain.URL)
	chainURL.User = url.UserPassword("bob", "pw")
	p := startProxy(t, Options{RootCAs: rootsOf(up), UpstreamProxy: chainURL, Passthrough: []string{"127.0.0.2"}})
	c := p.client(t)
	if resp, body := get(t, c, up.URL+"/m"); resp.StatusCode != 200 {
		t.Errorf("intercepted via upstream proxy: got %d %s", resp.StatusCode, body)
	}
	// RequestURI must be cleared for the forwarded request; the chain
	// proxy's RoundTrip needs it empty too.
	if resp, body := get(t, c, plainUp.URL+"/p"); resp.StatusCode != 200 {
		t.Errorf("plain via upstream proxy: got %d %s", resp.StatusCode, body)
	}
	conn, br := connectTunnel(t, p.addr, echo, "")
	fmt.Fprint(conn, "hi\n")
	if line, _ := br.ReadString('\n'); line != "hi\n" {
		t.Errorf("tunnel via upstream proxy: got %q", line)
	}
	if connects.Load() != 2 || plains.Load() != 1 || badAuth.Load() != 0 {
		t.Errorf("upstream proxy saw %d CONNECTs, %d plain requests, %d without the credential; want 2, 1, 0", connects.Load(), plains.Load(), badAuth.Load())
	}
	if _, err := New(Options{CA: proxyCA(t), UpstreamProxy: &url.URL{Scheme: "socks5", Host: "x:1"}}); err == nil {
		t.Errorf("socks5 upstream proxy: got no error")
	}
}

// TestProxyAuthLogged: a refused client (407) leaves a line in the log,
// saying why, with the client's address and target, never the credential
// (before, a 407 left no trace).
func TestProxyAuthLogged(t *testing.T) {
	var logBuf syncBuffer
	up := newPlainUpstream(t, echoHandler())
	p := startProxy(t, Options{ProxyAuth: "alice:s3cret", Logger: zerolog.New(&logBuf)})
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:WrongPass-canary"))
	for _, tc := range []struct{ req, why string }{
		{"GET " + up.URL + "/ HTTP/1.1\r\nHost: " + up.Listener.Addr().String() + "\r\n\r\n", "no Proxy-Authorization"},
		{"CONNECT idp.test:443 HTTP/1.1\r\nHost: idp.test:443\r\nProxy-Authorization: " + wrong + "\r\n\r\n", "wrong credential"},
		{"CONNECT idp.test:443 HTTP/1.1\r\nHost: idp.test:443\r\nProxy-Authorization: Bearer tok-canary\r\n\r\n", "not Basic authentication"},
	} {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.req)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(tc.req)[0]})
		c.Close()
		if err != nil || resp.StatusCode != 407 {
			t.Fatalf("%q: %v %v; want 407", tc.req, resp, err)
		}
		if log := logBuf.String(); !strings.Contains(log, "407 proxy authentication failed ("+tc.why+")") {
			t.Errorf("log lacks the 407 line for %q (%s):\n%s", tc.req, tc.why, log)
		}
	}
	log := logBuf.String()
	if strings.Contains(log, "WrongPass-canary") || strings.Contains(log, "tok-canary") || strings.Contains(log, strings.TrimPrefix(wrong, "Basic ")) {
		t.Errorf("log holds a credential:\n%s", log)
	}
	if !strings.Contains(log, `"client":"127.0.0.1:`) || !strings.Contains(log, `"target":"idp.test:443"`) {
		t.Errorf("log lacks client or target:\n%s", log)
	}
}
