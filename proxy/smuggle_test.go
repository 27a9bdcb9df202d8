package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSmuggling sends request-smuggling attempts (conflicting
// Content-Length and Transfer-Encoding, two Content-Lengths, obs-fold,
// odd codings) followed by an honest request on the same connection, on a
// plain proxy connection and inside an intercepted tunnel. The proxy must
// not desynchronise: either it refuses the attempt (4xx/5xx, or inside a
// tunnel by closing the connection before answering anything) and serves
// nothing more on that connection, or it answers every request it framed
// and the honest one gets its own answer; no body the upstream receives
// carries a request.
func TestSmuggling(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		echoHandler().ServeHTTP(w, r)
	})
	plain := newPlainUpstream(t, h)
	tlsUp := newUpstream(t, h, false)
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp)})

	attacks := []struct{ name, head, body string }{
		{"CL.TE", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
			"0\r\n\r\nGET {u}/smuggled HTTP/1.1\r\nHost: {h}\r\n\r\n"},
		{"TE.CL", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
			"8\r\nSMUGGLED\r\n0\r\n\r\n"},
		{"two Content-Lengths", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n",
			"GET {u}/smuggled HTTP/1.1\r\nHost: {h}\r\n\r\n"},
		{"obs-fold Transfer-Encoding", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
			"0\r\n\r\n"},
		{"obfuscated coding", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n",
			"0\r\n\r\n"},
		{"chunked twice", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
			"0\r\n\r\n"},
		{"space before colon", "POST {u}/a HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n",
			"0\r\n\r\n"},
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	for _, mode := range []string{"plain", "tunnel"} {
		for _, a := range attacks {
			t.Run(mode+"/"+a.name, func(t *testing.T) {
				var c net.Conn
				var u, host string
				switch mode {
				case "plain":
					host = plain.Listener.Addr().String()
					u = "http://" + host
					raw, err := net.Dial("tcp", p.addr)
					if err != nil {
						t.Fatal(err)
					}
					c = raw
				case "tunnel":
					host = tlsUp.Listener.Addr().String()
					raw, br := connectTunnel(t, p.addr, host, "")
					tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					c = tc
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(waitLimit))
				fill := strings.NewReplacer("{u}", u, "{h}", host).Replace
				honest := fill("GET {u}/next HTTP/1.1\r\nHost: {h}\r\n\r\n")
				io.WriteString(c, fill(a.head)+fill(a.body)+honest)

				br := bufio.NewReader(c)
				sawNext := false
				for i := 0; i < 4 && !sawNext; i++ {
					resp, err := http.ReadResponse(br, nil)
					if err != nil && i == 0 {
						t.Logf("refused: connection closed without an answer (%v)", err)
						return // nothing served: the only honest answer inside a tunnel
					}
					if err != nil {
						break
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 400 {
						// Refused: the connection must not go on to serve
						// the bytes that followed as requests.
						if _, err := http.ReadResponse(br, nil); err == nil {
							t.Errorf("after refusing with %d the proxy kept reading requests on the connection", resp.StatusCode)
						}
						t.Logf("refused: %d, then closed", resp.StatusCode)
						return
					}
					var echo struct{ Path string }
					json.Unmarshal(b, &echo)
					if echo.Path == "/next" {
						sawNext = true
					}
				}
				if !sawNext {
					t.Errorf("the honest request after the attempt got no answer of its own")
				} else {
					t.Logf("framed as Go does (chunked wins over Content-Length); the honest request got its own answer")
				}
				mu.Lock()
				defer mu.Unlock()
				for _, b := range bodies {
					if strings.Contains(b, "HTTP/1.1") {
						t.Errorf("the upstream received a request inside a body: %q", b)
					}
				}
			})
		}
	}
	if resp, _ := get(t, p.client(t), tlsUp.URL); resp.StatusCode != 200 {
		t.Errorf("after the attempts: got %d, want 200", resp.StatusCode)
	}
}
