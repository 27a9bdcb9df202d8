package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpstreamFailures: every kind of upstream failure becomes a 502 that
// names the host and the reason (intercepted and plain), the exchange
// carries the same text, and the proxy keeps serving.
func TestUpstreamFailures(t *testing.T) {
	// reset: accept, read the request, then close with RST.
	resetAddr := serveRaw(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	// silent: accept and read, never answer.
	silentAddr := serveRaw(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
	})
	plainHTTP := newPlainUpstream(t, echoHandler()) // plain HTTP where TLS is expected
	// malformed: answers with something that is not an HTTP status line.
	malformedAddr := serveRaw(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("HTTP/1.1 2x0 Fine\r\n\r\n"))
		c.Close()
	})
	refused := closedPort(t)
	ok := newUpstream(t, echoHandler(), false)

	// Names are resolved by a fake DNS server on loopback that knows none.
	dns := startNXDomainDNS(t)
	p := startProxyTweaked(t, Options{RootCAs: rootsOf(ok), UpstreamTimeout: 300 * time.Millisecond, DialTimeout: 2 * time.Second}, func(s *Server) {
		s.dialer.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", dns)
		}}
	})
	c := p.client(t)
	tests := []struct {
		name, url, reason string
	}{
		{"refused https", "https://" + refused + "/", "connection refused"},
		{"refused http", "http://" + refused + "/", "connection refused"},
		{"reset https", "https://" + resetAddr + "/", "connection reset by peer"},
		{"reset http", "http://" + resetAddr + "/", ""}, // reset or EOF, depending on timing
		{"timeout http", "http://" + silentAddr + "/", "no response headers within 300ms (timeout)"},
		{"timeout https", "https://" + silentAddr + "/", "TLS handshake timed out"},
		{"plain http on https", "https://" + plainHTTP.Listener.Addr().String() + "/", "TLS handshake failed: the server did not answer with TLS"},
		{"dns", "http://nonexistent.invalid/", "DNS lookup of nonexistent.invalid failed: no such host"},
		{"malformed response", "http://" + malformedAddr + "/", "malformed HTTP response from upstream: malformed HTTP status code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.sink.all())
			resp, body := get(t, c, tc.url)
			u := strings.TrimPrefix(strings.TrimPrefix(tc.url, "https://"), "http://")
			host := strings.TrimSuffix(u, "/")
			if !strings.Contains(host, ":") {
				host += ":80"
			}
			prefix := "oauthproxy: upstream " + host + ": "
			text := strings.TrimSpace(string(body))
			if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(text, prefix) || !strings.Contains(text, tc.reason) {
				t.Fatalf("got %d %q, want 502 %q...%q", resp.StatusCode, text, prefix, tc.reason)
			}
			if ps := resp.Header.Get("Proxy-Status"); ps == "" || strings.Contains(ps, "proxy_internal_error") {
				t.Errorf("Proxy-Status: %q; want a specific error type, not proxy_internal_error", ps)
			}
			x := p.sink.wait(t, before+1)[before]
			if x.Error != text {
				t.Errorf("exchange error: got %q, want %q", x.Error, text)
			}
			if want := strings.TrimPrefix(resp.Header.Get("Proxy-Status"), "oauthproxy; error="); x.ErrorType == "" || x.ErrorType != want {
				t.Errorf("exchange error type: got %q, want %q (the Proxy-Status error)", x.ErrorType, want)
			}
		})
	}
	if resp, body := get(t, c, ok.URL+"/after"); resp.StatusCode != 200 {
		t.Errorf("after the failures: got %d %s, want 200", resp.StatusCode, body)
	}
	p.sink.checkOnce(t)
}

// TestUpstreamResetMidBody: upstream dies in the middle of a body: the
// client sees a truncated response and the exchange says why.
func TestUpstreamResetMidBody(t *testing.T) {
	addr := serveRaw(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	p := startProxy(t, Options{})
	resp, err := p.client(t).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("client read: got no error, want a truncated body")
	}
	x := p.sink.wait(t, 1)[0]
	if !strings.Contains(x.Error, "response body") || x.ErrorType != "connection_terminated" || !x.Response.Body.Truncated || string(x.Response.Body.Data) != "partial" {
		t.Errorf("exchange: got error %q (%s) body %+v, want a response body error and the partial data", x.Error, x.ErrorType, x.Response.Body)
	}
}

// serveRaw runs handle for each TCP connection accepted on 127.0.0.1.
func serveRaw(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// TestMalformedRequest: garbage from a client gets 400 on a plain
// connection; inside an intercepted tunnel the connection is dropped.
// Either way the proxy keeps serving.
func TestMalformedRequest(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	for _, raw := range []string{
		"GARBAGE\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"CONNECT\r\n\r\n",
		"CONNECT nohostport HTTP/1.1\r\nHost: nohostport\r\n\r\n",
	} {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(waitLimit))
		io.WriteString(c, raw)
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 400") {
			t.Errorf("%q: got %q, want HTTP/1.1 400", raw, line)
		}
	}
	// Inside an intercepted tunnel.
	raw, br := connectTunnel(t, p.addr, up.Listener.Addr().String(), "")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tc, "GARBAGE\r\n\r\n")
	if err := waitClosed(tc); err != nil {
		t.Errorf("garbage in tunnel: %v", err)
	}
	if resp, _ := get(t, p.client(t), up.URL); resp.StatusCode != 200 {
		t.Errorf("after malformed requests: got %d, want 200", resp.StatusCode)
	}
}

// TestEgress: upstream connections are bound to EgressAddr.
func TestEgress(t *testing.T) {
	seen := make(chan string, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.RemoteAddr
		io.WriteString(w, "ok")
	})
	up := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	echo := startEcho(t, "127.0.0.3:0")
	p := startProxy(t, Options{RootCAs: rootsOf(up), EgressAddr: "127.0.0.2", Passthrough: []string{"127.0.0.3"}})
	c := p.client(t)
	for i, u := range []string{up.URL, plainUp.URL} {
		if resp, _ := get(t, c, u); resp.StatusCode != 200 {
			t.Fatalf("GET %s: got %d", u, resp.StatusCode)
		}
		if ra := <-seen; !strings.HasPrefix(ra, "127.0.0.2:") {
			t.Errorf("%s: upstream saw %s, want 127.0.0.2", u, ra)
		}
		if x := p.sink.wait(t, i+1)[i]; !strings.HasPrefix(x.Conn.LocalAddr, "127.0.0.2:") {
			t.Errorf("%s: exchange local addr %q, want 127.0.0.2", u, x.Conn.LocalAddr)
		}
	}
	conn, _ := connectTunnel(t, p.addr, echo, "")
	conn.Close()
	if x := p.sink.wait(t, 3)[2]; x.Request.Method != "CONNECT" || !strings.HasPrefix(x.Conn.LocalAddr, "127.0.0.2:") {
		t.Errorf("tunnel exchange: got %s local %q, want CONNECT from 127.0.0.2", x.Request.Method, x.Conn.LocalAddr)
	}
	if _, err := New(Options{CA: proxyCA(t), EgressAddr: "not-an-ip"}); err == nil {
		t.Errorf("New with a bad egress address: got no error")
	}
}

// TestSlowloris: a client that dribbles its request header is cut off by
// HeaderTimeout, on a plain connection and inside an intercepted tunnel.
func TestSlowloris(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up), HeaderTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second})
	proxied := "GET http://" + up.Listener.Addr().String() + "/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10000)
	dribble := func(t *testing.T, c net.Conn, header string) {
		t.Helper()
		closed := make(chan error, 1)
		go func() { closed <- waitClosed(c) }()
		for i := 0; i < len(header); i++ {
			select {
			case err := <-closed:
				if err != nil {
					t.Error(err)
				}
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.Write([]byte{header[i]}); err != nil {
				return // closed by the proxy
			}
		}
		t.Errorf("the proxy read a whole header sent at one byte per 20 ms; want it cut off")
	}
	t.Run("plain", func(t *testing.T) {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dribble(t, c, proxied)
	})
	t.Run("proxy itself", func(t *testing.T) {
		// A request to the proxy's own pages (the web UI) is read by the
		// same server under the same header timeout.
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dribble(t, c, "GET /api/state HTTP/1.1\r\nHost: "+p.addr+"\r\nX-Slow: "+strings.Repeat("a", 10000))
	})
	t.Run("intercepted", func(t *testing.T) {
		raw, br := connectTunnel(t, p.addr, up.Listener.Addr().String(), "")
		pool := x509.NewCertPool()
		pool.AddCert(p.ca.Cert)
		tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		dribble(t, tc, proxied)
	})
	// The proxy keeps serving everyone else.
	if resp, _ := get(t, p.client(t), up.URL+"/after"); resp.StatusCode != http.StatusOK {
		t.Errorf("request after the slow clients: status %d, want 200", resp.StatusCode)
	}
}

// TestIdleTimeout: an intercepted tunnel idle after its exchange is closed
// by IdleTimeout; a plain connection too.
func TestIdleTimeout(t *testing.T) {
	up := newUpstream(t, echoHandler(), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up), IdleTimeout: 200 * time.Millisecond})
	raw, br := connectTunnel(t, p.addr, up.Listener.Addr().String(), "")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", up.Listener.Addr())
	tr := bufio.NewReader(tc)
	resp, err := http.ReadResponse(tr, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request in tunnel: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if err := waitClosed(tc); err != nil {
		t.Errorf("idle tunnel: %v", err)
	}
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", up.Listener.Addr(), up.Listener.Addr())
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil { // plain HTTP to a TLS port: any answer will do
		t.Fatalf("plain request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if err := waitClosed(c); err != nil {
		t.Errorf("idle plain connection: %v", err)
	}
	// Closing idle connections costs nobody an answer.
	if resp, _ := get(t, p.client(t), up.URL+"/after"); resp.StatusCode != http.StatusOK {
		t.Errorf("request after the idle connections closed: status %d, want 200", resp.StatusCode)
	}
}

// TestListenErrors: a port in use gives a short clear error; non-loopback
// addresses need AllowRemote and ProxyAuth.
func TestListenErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := New(Options{CA: proxyCA(t), Listen: l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.ListenAndServe(context.Background())
	want := "proxy: listen " + l.Addr().String() + ": address already in use"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("port in use: got %v, want %q... wrapping EADDRINUSE", err, want)
	}

	tests := []struct {
		name        string
		listen      string
		allowRemote bool
		auth        string
		wantErr     string
	}{
		{"loopback", "127.0.0.1:0", false, "", ""},
		{"localhost", "localhost:0", false, "", ""},
		{"ipv6 loopback", "[::1]:0", false, "", ""},
		{"all interfaces", "0.0.0.0:8080", false, "", "not a loopback address"},
		{"empty host", ":8080", false, "", "not a loopback address"},
		{"remote without auth", "0.0.0.0:8080", true, "", "without proxy authentication"},
		{"auth without allow", "192.0.2.1:8080", false, "u:p", "not a loopback address"},
		{"remote with auth", "0.0.0.0:8080", true, "u:p", ""},
		{"bad auth", "127.0.0.1:0", false, "nocolon", "user:pass"},
		{"no port", "127.0.0.1", false, "", "listen address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{CA: proxyCA(t), Listen: tc.listen, AllowRemote: tc.allowRemote, ProxyAuth: tc.auth})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := New(Options{}); err == nil {
		t.Errorf("New without CA: got no error")
	}
	if _, err := New(Options{CA: proxyCA(t), Passthrough: []string{"[bad"}}); err == nil {
		t.Errorf("New with a bad glob: got no error")
	}
}

// TestListenAndServe: serves until ctx is canceled, then returns nil.
func TestListenAndServe(t *testing.T) {
	addr := closedPort(t)
	s, err := New(Options{CA: proxyCA(t), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()
	var resp *http.Response
	for i := 0; i < 1000; i++ {
		if resp, err = http.Get("http://" + addr + "/ca.pem"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET /ca.pem: %v", err)
	}
	resp.Body.Close()
	if s.Addr() == nil || s.Addr().String() != addr {
		t.Errorf("Addr: got %v, want %s", s.Addr(), addr)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: got %v, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("still accepting connections after shutdown")
	}
}

// startNXDomainDNS runs a UDP DNS server on 127.0.0.1 that answers every
// query with NXDOMAIN (name does not exist), and returns its address.
func startNXDomainDNS(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			q := buf[:n]
			// Question section: after the 12-byte header, QNAME labels, QTYPE, QCLASS.
			i := 12
			for i < n && q[i] != 0 {
				i += int(q[i]) + 1
			}
			end := i + 5
			if end > n {
				continue
			}
			resp := make([]byte, 0, end)
			resp = append(resp, q[0], q[1]) // ID
			resp = append(resp, 0x81, 0x83) // response, recursion desired+available, NXDOMAIN
			resp = append(resp, 0, 1, 0, 0, 0, 0, 0, 0)
			resp = append(resp, q[12:end]...)
			pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}
