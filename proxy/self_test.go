package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestStalledBodyToProxy: a client that sends a request addressed to the
// proxy itself (the web UI and its API, the CA page, /debug/vars), or one
// the proxy refuses (407, a CONNECT it cannot parse), with a header that
// announces a body and then sends nothing more, keeping the connection
// open, gets an answer and its connection closed within the idle timeout,
// as a stalled proxied request does (TestStalledRequestBody); the proxy
// keeps serving. Before, net/http waited for the body for ever (it drains
// up to 256 KiB of an unread body after the handler, with no deadline),
// holding a goroutine and the connection.
func TestStalledBodyToProxy(t *testing.T) {
	up := newPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream")
	}))
	// The site stands for the web UI: it never reads a request body, but
	// for /echo, which returns it.
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo" {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "site: "+err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "site got %q", b)
			return
		}
		io.WriteString(w, "site")
	})
	const idle = 300 * time.Millisecond
	var logBuf syncBuffer
	p := startProxy(t, Options{Site: site, IdleTimeout: idle, HeaderTimeout: 5 * time.Second, Logger: zerolog.New(&logBuf)})
	authed := startProxy(t, Options{Site: site, IdleTimeout: idle, ProxyAuth: "u:p"})

	const stalled = "stopped sending the request body"
	tests := []struct {
		name     string
		proxy    *testProxy
		request  string // %s: the proxy's address
		want     int
		wantBody string // in the answer
		wantLog  string // in the proxy's log
	}{
		{"ui GET announcing a body, none sent", p, "GET /api/state HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n", http.StatusRequestTimeout, stalled, "stalled client"},
		{"ui POST, part of the body sent", p, "POST /api/resend?id=x HTTP/1.1\r\nHost: %s\r\nX-Oauthproxy: 1\r\nContent-Length: 1000\r\n\r\n{\"a\":", http.StatusRequestTimeout, stalled, "/api/resend"},
		{"ui POST chunked, stalled after a chunk", p, "POST /echo HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", http.StatusRequestTimeout, stalled, "/echo"},
		{"ca page, absolute-form to the proxy's own address", p, "POST http://%s/ca HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", http.StatusRequestTimeout, stalled, "/ca"},
		{"debug vars", p, "GET /debug/vars HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n", http.StatusRequestTimeout, stalled, "/debug/vars"},
		{"proxied request refused 407", authed, "POST http://" + up.Listener.Addr().String() + "/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\ngrant_type=", http.StatusProxyAuthRequired, "proxy authentication required", ""},
		{"absolute-form to the proxy itself refused 407", authed, "POST http://%s/api/state HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", http.StatusProxyAuthRequired, "proxy authentication required", ""},
		{"ui POST with a malformed chunked body", p, "POST /echo HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http.StatusBadRequest, "reading the request body from the client", ""},
		{"CONNECT without a port", p, "CONNECT nohost HTTP/1.1\r\nHost: nohost\r\nContent-Length: 1000\r\n\r\n", http.StatusBadRequest, "CONNECT needs host:port", ""},
		{"body larger than the proxy's own pages take", p, "POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000000\r\n\r\nabc", http.StatusRequestEntityTooLarge, "at most", ""},
	}
	// All stall at once (each waits for the idle timeout); the group ends
	// when they all have.
	t.Run("stalled", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				c, err := net.Dial("tcp", tt.proxy.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				req := tt.request
				if strings.Contains(req, "%s") {
					req = fmt.Sprintf(req, tt.proxy.addr)
				}
				if _, err := io.WriteString(c, req); err != nil {
					t.Fatal(err)
				}
				// The client now stalls: it neither sends nor closes. The
				// bound is generous: it only keeps a regression from hanging.
				_ = c.SetReadDeadline(time.Now().Add(waitLimit))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("client: no answer: %v", err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want || !strings.Contains(string(got), tt.wantBody) {
					t.Errorf("client: got %d %q, want %d with %q", resp.StatusCode, got, tt.want, tt.wantBody)
				}
				if err := waitClosed(c); err != nil {
					t.Errorf("stalled client's connection: %v", err)
				}
				if tt.wantLog != "" {
					if log := logBuf.String(); !strings.Contains(log, "stalled client") || !strings.Contains(log, tt.wantLog) {
						t.Errorf("log lacks a stalled-client line naming %s:\n%s", tt.wantLog, log)
					}
				}
			})
		}
		// Inside an intercepted tunnel to the proxy itself, requests are read
		// under the tunnel's own deadlines.
		t.Run("in a tunnel to the proxy itself", func(t *testing.T) {
			t.Parallel()
			raw, br := connectTunnel(t, p.addr, p.addr, "")
			pool := x509.NewCertPool()
			pool.AddCert(p.ca.Cert)
			tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			fmt.Fprintf(tc, "POST /ca HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\nab", p.addr)
			_ = tc.SetReadDeadline(time.Now().Add(waitLimit))
			if resp, err := http.ReadResponse(bufio.NewReader(tc), nil); err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("client: got %d, want 405 (or the connection closed)", resp.StatusCode)
				}
			}
			if err := waitClosed(tc); err != nil {
				t.Errorf("stalled client's connection: %v", err)
			}
		})
	})
	t.Run("complete bodies", func(t *testing.T) {
		// A body that does arrive reaches the site whole, chunked or not,
		// and the connection is kept alive.
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, req := range []string{
			"POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nhello",
			"POST /echo HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
			"GET /other HTTP/1.1\r\nHost: %s\r\nContent-Length: 3\r\n\r\nabc",
		} {
			fmt.Fprintf(c, req, p.addr)
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%q: %v", req, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := `site got "hello"`
			if strings.HasPrefix(req, "GET") {
				want = "site"
			}
			if resp.StatusCode != http.StatusOK || string(got) != want || resp.Close {
				t.Errorf("%q: got %d %q (close %v), want 200 %q on a kept-alive connection", req, resp.StatusCode, got, resp.Close, want)
			}
		}
	})
	// The proxy keeps serving: its own pages and proxied requests.
	if resp, b := get(t, http.DefaultClient, "http://"+p.addr+"/"); resp.StatusCode != http.StatusOK || string(b) != "site" {
		t.Errorf("site after the stalled clients: got %d %q, want 200 site", resp.StatusCode, b)
	}
	if resp, b := get(t, p.client(t), up.URL+"/"); resp.StatusCode != http.StatusOK || string(b) != "upstream" {
		t.Errorf("proxied request after the stalled clients: got %d %q, want 200 upstream", resp.StatusCode, b)
	}
}

// TestResponseToStalledReader: a client that asks for a large answer and
// then stops reading it, keeping the connection open, is cut off once
// nothing went out for the idle timeout: from the proxy's own pages (a
// HAR download of the web UI), on a plain proxy connection and in an
// intercepted tunnel. The writer's write fails (the upstream response is
// closed), a proxied exchange names the stalled reader, the client's
// connection is closed. A quiet stream (nothing to write for 3× the idle
// timeout) is not cut, and the deadline of one answer does not leak into
// the next on a kept-alive connection. Before, a UI handler or a plain
// relay stayed blocked in its write, holding the exchange and the upstream
// request, for as long as the client kept the connection (a tunnel had its
// write deadline, but the exchange said the client had closed the
// connection).
func TestResponseToStalledReader(t *testing.T) {
	const idle = 300 * time.Millisecond
	chunk := strings.Repeat("x", 64<<10)
	ended := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			var err error
			for i := 0; i < 1024 && err == nil; i++ { // 64 MiB: far more than the socket buffers hold
				_, err = io.WriteString(w, chunk)
			}
			ended <- err
		case "/quiet":
			// An event stream with nothing to say for a while.
			rc := http.NewResponseController(w)
			io.WriteString(w, "a")
			rc.Flush()
			time.Sleep(3 * idle)
			io.WriteString(w, "b")
		}
	})
	plainUp := newPlainUpstream(t, h)
	tlsUp := newUpstream(t, h, false)
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp), IdleTimeout: idle, Site: h})
	exchanges := 0
	for _, mode := range []string{"proxy itself", "plain", "intercepted"} {
		t.Run(mode, func(t *testing.T) {
			var c net.Conn
			target, host := plainUp.URL+"/big", plainUp.Listener.Addr().String()
			switch mode {
			case "proxy itself":
				target, host = "/big", p.addr
				fallthrough
			case "plain":
				raw, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Fatal(err)
				}
				c = raw
			case "intercepted":
				target, host = "/big", tlsUp.Listener.Addr().String()
				raw, br := connectTunnel(t, p.addr, host, "")
				pool := x509.NewCertPool()
				pool.AddCert(p.ca.Cert)
				tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				c = tc
			}
			defer c.Close()
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host)
			// The client now reads nothing. The bound is generous: it only
			// keeps a regression from hanging the test.
			select {
			case err := <-ended:
				if err == nil {
					t.Errorf("64 MiB written to a client that read nothing; want the write to fail")
				}
			case <-time.After(waitLimit):
				t.Fatalf("still writing to a stalled reader after %s", waitLimit)
			}
			if mode != "proxy itself" {
				exchanges++
				x := p.sink.wait(t, exchanges)[exchanges-1]
				if !strings.Contains(x.Error, "the client stopped reading the response") || !strings.Contains(x.Error, "idle timeout") {
					t.Errorf("exchange error: got %q, want the stalled reader named", x.Error)
				}
			}
			if err := waitClosed(c); err != nil {
				t.Errorf("stalled reader's connection: %v", err)
			}
		})
	}
	for _, u := range []string{"http://" + p.addr, plainUp.URL, tlsUp.URL} {
		client := p.client(t)
		if strings.Contains(u, p.addr) {
			client = &http.Client{Timeout: waitLimit}
		}
		for i := 0; i < 2; i++ { // on one kept-alive connection
			resp, b := get(t, client, u+"/quiet")
			if resp.StatusCode != http.StatusOK || string(b) != "ab" {
				t.Errorf("quiet stream %s #%d: got %d %q, want 200 \"ab\"", u, i, resp.StatusCode, b)
			}
		}
	}
}
