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
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestStalledRequestBody: a client that sends a request header announcing
// a body, part of the body, and then nothing (keeping the connection open)
// is cut off by IdleTimeout, on a plain proxy connection as in an
// intercepted tunnel: the exchange and the log name the stalled client,
// an upstream request already started is canceled, and the proxy keeps
// serving. Before, a plain connection waited for the body for ever (net/http
// clears the read deadline after the header), holding the upstream request.
func TestStalledRequestBody(t *testing.T) {
	var mu sync.Mutex
	started := map[string]bool{} // paths whose request reached upstream
	ended := make(chan string, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			io.WriteString(w, "ok")
			return
		}
		mu.Lock()
		started[r.URL.Path] = true
		mu.Unlock()
		n, err := io.Copy(io.Discard, r.Body) // ends when the proxy gives up on the request
		if think, _ := time.ParseDuration(r.URL.Query().Get("think")); think > 0 {
			time.Sleep(think)
			if err == nil {
				fmt.Fprintf(w, "complete body of %d bytes", n)
			}
			return
		}
		ended <- r.URL.Path
	})
	tlsUp := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	var logBuf syncBuffer
	const idle = 300 * time.Millisecond
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp), IdleTimeout: idle, HeaderTimeout: 200 * time.Millisecond, Logger: zerolog.New(&logBuf)})

	bodies := []struct {
		name, header, sent string
		streamed           bool // relayed while read (not read whole before the request goes upstream)
	}{
		{"small body", "Content-Length: 100\r\n", "grant_type=client_credentials", false},
		{"large body", "Content-Length: 100000\r\n", strings.Repeat("a", 3000), true},
		{"chunked body", "Transfer-Encoding: chunked\r\n", "1e\r\ngrant_type=client_credentials\r\n", true},
	}
	n := 0
	for _, mode := range []string{"plain", "intercepted"} {
		for _, b := range bodies {
			t.Run(mode+"/"+b.name, func(t *testing.T) {
				n++
				path := "/" + strings.ReplaceAll(mode+"-"+b.name, " ", "-")
				var c net.Conn
				var target string
				if mode == "plain" {
					raw, err := net.Dial("tcp", p.addr)
					if err != nil {
						t.Fatal(err)
					}
					c = raw
					target = plainUp.URL + path
				} else {
					hostport := strings.TrimPrefix(tlsUp.URL, "https://")
					raw, br := connectTunnel(t, p.addr, hostport, "")
					pool := x509.NewCertPool()
					pool.AddCert(p.ca.Cert)
					tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					c = tc
					target = path
				}
				defer c.Close()
				host := strings.TrimPrefix(strings.TrimPrefix(target, "http://"), "https://")
				host, _, _ = strings.Cut(host, "/")
				if host == "" {
					host = strings.TrimPrefix(tlsUp.URL, "https://")
				}
				if _, err := io.WriteString(c, "POST "+target+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/x-www-form-urlencoded\r\n"+b.header+"\r\n"+b.sent); err != nil {
					t.Fatal(err)
				}
				// The client now stalls: it neither sends nor closes.
				x := p.sink.wait(t, n)[n-1]
				if !strings.Contains(x.Error, "the client stopped sending the request body") || !strings.Contains(x.Error, "idle timeout") {
					t.Errorf("exchange error: got %q, want the stalled client named", x.Error)
				}
				// The client gets an answer that says so, or its connection
				// closed; either way the proxy is done with it.
				_ = c.SetReadDeadline(time.Now().Add(waitLimit))
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
					got, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(got), "stopped sending the request body") {
						t.Errorf("client: got %d %q, want 408 naming the stalled body (or a closed connection)", resp.StatusCode, got)
					}
				}
				if err := waitClosed(c); err != nil {
					t.Errorf("stalled client's connection: %v", err)
				}
				mu.Lock()
				reached := started[path]
				mu.Unlock()
				if reached != b.streamed {
					t.Errorf("upstream got the request: %v, want %v (a small body is read whole first)", reached, b.streamed)
				}
				if reached {
					select {
					case got := <-ended:
						if got != path {
							t.Errorf("upstream request ended: %s, want %s", got, path)
						}
					case <-time.After(waitLimit):
						t.Errorf("upstream request %s still open after the client stalled", path)
					}
				}
				if log := logBuf.String(); !strings.Contains(log, "stalled") || !strings.Contains(log, path) {
					t.Errorf("log lacks a line naming the stalled client of %s:\n%s", path, log)
				}
			})
		}
	}
	t.Logf("proxy log:\n%s", logBuf.String())

	// A body that keeps coming, however slowly, is not cut; nor is an
	// upstream that thinks for longer than the idle timeout once the body
	// is in (the deadline ends with the body). Its own proxy, with a
	// longer idle timeout: the gaps between the pieces stay far below it
	// on a busy machine.
	const slowIdle = time.Second
	slow := startProxy(t, Options{RootCAs: rootsOf(tlsUp), IdleTimeout: slowIdle})
	t.Run("slow", func(t *testing.T) {
		for _, mode := range []string{"plain", "intercepted"} {
			for _, size := range []int{100, 64 << 10} {
				t.Run(fmt.Sprintf("%s/body of %d bytes, upstream thinking", mode, size), func(t *testing.T) {
					t.Parallel()
					const pieces = 8 // one every 150 ms: the whole body takes longer than the idle timeout
					body := strings.Repeat("b", size)
					pr, pw := io.Pipe()
					go func() {
						for i := 0; i < pieces; i++ {
							time.Sleep(150 * time.Millisecond)
							pw.Write([]byte(body[i*size/pieces : (i+1)*size/pieces]))
						}
						pw.Close()
					}()
					u := plainUp.URL
					if mode == "intercepted" {
						u = tlsUp.URL
					}
					req, _ := http.NewRequest("POST", u+"/slow?think="+(slowIdle*3/2).String(), pr)
					req.ContentLength = int64(size)
					resp, err := slow.client(t).Do(req)
					if err != nil {
						t.Fatalf("client: %v", err)
					}
					got, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || string(got) != fmt.Sprintf("complete body of %d bytes", size) {
						t.Errorf("client: got %d %q, want 200 and the whole body relayed", resp.StatusCode, got)
					}
				})
			}
		}
	})
	if resp, b := get(t, p.client(t), tlsUp.URL+"/after"); resp.StatusCode != http.StatusOK || string(b) != "ok" {
		t.Errorf("after the stalled clients: got %d %q, want 200 ok", resp.StatusCode, b)
	}
}
