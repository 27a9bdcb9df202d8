package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeCounter is a net.Conn that records each Write it gets.
type writeCounter struct {
	net.Conn // nil: only Write and Read are used
	mu       sync.Mutex
	writes   [][]byte
	reads    int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (w *writeCounter) Read(p []byte) (int, error) {
	w.reads++
	return 0, io.EOF
}

// TestCork: a corked client connection sends what it held back in one
// write, when uncorked, before it reads, or once it holds corkMax.
func TestCork(t *testing.T) {
	big := bytes.Repeat([]byte("b"), corkMax)
	tests := []struct {
		name   string
		do     func(c *clientConn)
		writes []string // what reached the network, write by write
	}{
		{"not corked", func(c *clientConn) {
			c.Write([]byte("head"))
			c.Write([]byte("body"))
		}, []string{"head", "body"}},
		{"uncork", func(c *clientConn) {
			c.cork()
			c.Write([]byte("head"))
			c.Write([]byte("body1"))
			c.Write([]byte("body2"))
			c.uncork()
			c.Write([]byte("next"))
		}, []string{"headbody1body2", "next"}},
		{"read flushes", func(c *clientConn) {
			c.cork()
			c.Write([]byte("head"))
			c.Read(make([]byte, 1))
			c.Write([]byte("after"))
		}, []string{"head", "after"}},
		{"corkMax flushes", func(c *clientConn) {
			c.cork()
			c.Write([]byte("head"))
			c.Write(big)
			c.Write([]byte("tail"))
			c.uncork()
		}, []string{"head" + string(big), "tail"}},
		{"uncork with nothing held", func(c *clientConn) {
			c.cork()
			c.uncork()
			c.Write([]byte("x"))
		}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wc := &writeCounter{}
			c := &clientConn{Conn: wc}
			tt.do(c)
			var got []string
			for _, w := range wc.writes {
				got = append(got, string(w))
			}
			if strings.Join(got, "|") != strings.Join(tt.writes, "|") {
				t.Errorf("writes: got %d %.40q, want %d %.40q", len(got), got, len(tt.writes), tt.writes)
			}
		})
	}
}

// TestSmallBodiesThroughTunnel: small and large bodies, both ways, relay
// byte for byte through an intercepted tunnel, keep-alive included, and
// are captured the same whether or not they were read ahead.
func TestSmallBodiesThroughTunnel(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	c := p.client(t)
	sizes := []int{1, 1000, smallBody, smallBody + 1, 200 << 10}
	for i, n := range sizes {
		body := bytes.Repeat([]byte{'a' + byte(i)}, n)
		resp, err := c.Post(up.URL+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%d bytes: got %d bytes (err %v), want the %d sent", n, len(got), err, n)
		}
	}
	xs := p.sink.wait(t, len(sizes))
	for i, x := range xs {
		n := sizes[i]
		if x.Error != "" || x.Request.Body.Size != int64(n) || x.Response.Body.Size != int64(n) || len(x.Response.Body.Data) != n || len(x.Request.Body.Data) != n {
			t.Errorf("exchange %d (%d bytes): got error %q, request %d/%d bytes, response %d/%d bytes", i, n, x.Error,
				len(x.Request.Body.Data), x.Request.Body.Size, len(x.Response.Body.Data), x.Response.Body.Size)
		}
		if i > 0 && x.Conn.ConnectionID != xs[0].Conn.ConnectionID {
			t.Errorf("exchange %d: on client connection %s, want the keep-alive connection %s", i, x.Conn.ConnectionID, xs[0].Conn.ConnectionID)
		}
	}
}

// TestUpstreamResetMidBodyIntercepted: upstream dies in the middle of a
// body inside an intercepted tunnel. A small body (read before anything
// is relayed) becomes a 502 that says so; a large one was already
// streaming, so the client sees it cut. Either way the exchange says why.
func TestUpstreamResetMidBodyIntercepted(t *testing.T) {
	tests := []struct {
		name       string
		length     int // Content-Length announced
		wantStatus int // 0: the client read fails
	}{
		{"small body", 100, http.StatusBadGateway},
		{"large body", 1 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(tt.length)+"\r\n\r\npartial")
				conn.Close()
			}), false)
			p := startProxy(t, Options{RootCAs: rootsOf(up)})
			resp, err := p.client(t).Get(up.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case tt.wantStatus == 0 && err == nil:
				t.Errorf("client: got %d and a whole body, want a cut body", resp.StatusCode)
			case tt.wantStatus != 0 && (resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), "response body")):
				t.Errorf("client: got %d %q, want %d naming the response body", resp.StatusCode, b, tt.wantStatus)
			}
			x := p.sink.wait(t, 1)[0]
			if !strings.Contains(x.Error, "response body") || !x.Response.Body.Truncated || string(x.Response.Body.Data) != "partial" {
				t.Errorf("exchange: got error %q body %+v, want a response body error and the partial data", x.Error, x.Response.Body)
			}
		})
	}
}

// TestClientGoneMidRequestBody: a client announces a body and closes
// before sending all of it. The proxy says why in the exchange, sends
// nothing upstream, and keeps serving.
func TestClientGoneMidRequestBody(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	target := strings.TrimPrefix(up.URL, "https://")
	partial := "POST /token HTTP/1.1\r\nHost: " + target + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=client_credentials"

	t.Run("intercepted", func(t *testing.T) {
		raw, br := connectTunnel(t, p.addr, target, "")
		pool := x509.NewCertPool()
		pool.AddCert(p.ca.Cert)
		host, _, _ := net.SplitHostPort(target)
		tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: host})
		if _, err := io.WriteString(tc, partial); err != nil {
			t.Fatal(err)
		}
		tc.Close()
		x := p.sink.wait(t, 1)[0]
		if !strings.Contains(x.Error, "reading the request body from the client") || !strings.Contains(x.Error, "before the whole body") {
			t.Errorf("exchange error: got %q, want the client's short body named", x.Error)
		}
	})
	t.Run("plain", func(t *testing.T) {
		plain := serveRaw(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, strings.Replace(strings.Replace(partial, "POST /token", "POST http://"+plain+"/token", 1), target, plain, 1))
		c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(waitLimit))
		io.Copy(io.Discard, c)
		c.Close()
		xs := p.sink.wait(t, 2)
		if x := xs[1]; !strings.Contains(x.Error, "reading the request body from the client") {
			t.Errorf("exchange error: got %q, want the client's short body named", x.Error)
		}
	})
	mu.Lock()
	n := hits
	mu.Unlock()
	if n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
	resp, b := get(t, p.client(t), up.URL+"/after")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("next request: got %d %q, want 200", resp.StatusCode, b)
	}
}

// TestUpstreamStallsInSmallBody: an upstream that sends its header and
// part of a small body, then nothing: after UpstreamTimeout the client
// gets a 502 that says the body stalled, and the proxy keeps serving.
func TestUpstreamStallsInSmallBody(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stall" {
			io.WriteString(w, "fine")
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		<-release
	}), false)
	t.Cleanup(func() { close(release) }) // after newUpstream's: runs before its Close
	p := startProxy(t, Options{RootCAs: rootsOf(up), UpstreamTimeout: 300 * time.Millisecond})
	c := p.client(t)
	resp, b := get(t, c, up.URL+"/stall")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "stopped after 7 of 100 bytes") || resp.Header.Get("Proxy-Status") != "oauthproxy; error=http_response_timeout" {
		t.Errorf("client: got %d %q (Proxy-Status %q), want 502 saying the body stopped after 7 of 100 bytes", resp.StatusCode, b, resp.Header.Get("Proxy-Status"))
	}
	x := p.sink.wait(t, 1)[0]
	if !strings.Contains(x.Error, "timeout") || string(x.Response.Body.Data) != "partial" || !x.Response.Body.Truncated {
		t.Errorf("exchange: got error %q body %+v, want the timeout and the partial body", x.Error, x.Response.Body)
	}
	if resp, b := get(t, c, up.URL+"/next"); resp.StatusCode != http.StatusOK || string(b) != "fine" {
		t.Errorf("next request: got %d %q, want 200 fine", resp.StatusCode, b)
	}
}

// TestUpstreamIdleTimeout: with UpstreamIdleTimeout, a streamed body that
// stops arriving is cut and the exchange says why; one that keeps coming,
// however slowly, is relayed whole.
func TestUpstreamIdleTimeout(t *testing.T) {
	const size = 64 << 10 // over smallBody: streamed
	chunk := bytes.Repeat([]byte("x"), size/4)
	release := make(chan struct{})
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for i := 0; i < 4; i++ {
			if i > 0 {
				if r.URL.Path == "/stall" && i == 2 {
					<-release
					return
				}
				time.Sleep(20 * time.Millisecond) // slow, but far from the bound
			}
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	}), false)
	t.Cleanup(func() { close(release) }) // after newUpstream's: runs before its Close
	tests := []struct {
		name, path string
		idle       time.Duration
		wantCut    bool
	}{
		{"slow body, idle timeout", "/slow", 5 * time.Second, false},
		{"stalled body, idle timeout", "/stall", 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, Options{RootCAs: rootsOf(up), UpstreamIdleTimeout: tt.idle})
			resp, err := p.client(t).Get(up.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if cut := err != nil; cut != tt.wantCut || (!cut && len(b) != size) {
				t.Errorf("client: got %d bytes, error %v; want cut=%v", len(b), err, tt.wantCut)
			}
			x := p.sink.wait(t, 1)[0]
			if got := strings.Contains(x.Error, "stalled: no bytes for "+tt.idle.String()+" (--upstream-idle-timeout)"); got != tt.wantCut {
				t.Errorf("exchange error: got %q, want the stall named: %v", x.Error, tt.wantCut)
			}
		})
	}
}
