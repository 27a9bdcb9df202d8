package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBigDownload is acceptance (5): a large body generated on the fly by
// the upstream streams through the proxy without being buffered: the
// in-process heap grows far less than the body. 256 MiB, 64 MiB in -short.
func TestBigDownload(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 64 << 20
	}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 2048) // 32 KiB
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Query().Get("cl") == "1" {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), false)
	for _, mode := range []struct{ name, query string }{{"content-length", "?cl=1"}, {"chunked", ""}} {
		t.Run(mode.name, func(t *testing.T) {
			p := startProxy(t, Options{RootCAs: rootsOf(up)})
			c := p.client(t)
			c.Timeout = 0

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				for {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			resp, err := c.Get(up.URL + "/big" + mode.query)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			close(stop)
			<-sampled
			if err != nil || n != size {
				t.Fatalf("download: got %d bytes, err %v; want %d", n, err, size)
			}
			growth := int64(peak.Load()) - int64(base)
			t.Logf("heap in use: base %d MiB, peak growth %d MiB for a %d MiB body", base>>20, growth>>20, size>>20)
			if growth >= 64<<20 {
				t.Errorf("heap growth during the download: got %d MiB, want < 64 MiB", growth>>20)
			}
			x := p.sink.wait(t, 1)[0]
			b := x.Response.Body
			if b.Size != size || len(b.Data) != 0 || !b.Truncated {
				t.Errorf("exchange body: got size %d, %d bytes kept, truncated %v; want size %d, nothing kept (binary media), truncated", b.Size, len(b.Data), b.Truncated, size)
			}
		})
	}
}

// TestCapture: bodies are teed up to BodyCap; media bodies are counted but
// not kept unless the status is an error.
func TestCapture(t *testing.T) {
	body := strings.Repeat("x", 3000)
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.URL.Query().Get("ct"))
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(status)
		io.WriteString(w, body)
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up), BodyCap: 1000})
	c := p.client(t)
	tests := []struct {
		name, ct string
		status   int
		kept     int
	}{
		{"json capped", "application/json", 200, 1000},
		{"image skipped", "image/png", 200, 0},
		{"video skipped", "Video/mp4", 200, 0},
		{"octet-stream error kept", "application/octet-stream", 500, 1000},
		{"zip skipped", "application/zip", 200, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.sink.all())
			resp, got := get(t, c, fmt.Sprintf("%s/?ct=%s&status=%d", up.URL, tc.ct, tc.status))
			if resp.StatusCode != tc.status || string(got) != body {
				t.Fatalf("client: got %d and %d bytes, want %d and the whole body", resp.StatusCode, len(got), tc.status)
			}
			x := p.sink.wait(t, before+1)[before]
			b := x.Response.Body
			if len(b.Data) != tc.kept || b.Size != int64(len(body)) || !b.Truncated {
				t.Errorf("captured: got %d bytes kept, size %d, truncated %v; want %d, %d, true", len(b.Data), b.Size, b.Truncated, tc.kept, len(body))
			}
		})
	}
}

// TestAcceptEncoding: Accept-Encoding reaches upstream as sent, the gzip
// body reaches the client still compressed, and the exchange holds it
// decoded.
func TestAcceptEncoding(t *testing.T) {
	plain := `{"access_token":"abc","token_type":"Bearer"}`
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(plain))
	zw.Close()
	var seen atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		w.Write(zipped.Bytes())
	})
	up := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	c := p.client(t)
	for i, u := range []string{up.URL + "/token", plainUp.URL + "/token"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if s, _ := seen.Load().(string); s != "gzip, br" {
			t.Errorf("%s: upstream saw Accept-Encoding %q, want %q", u, s, "gzip, br")
		}
		if !bytes.Equal(got, zipped.Bytes()) || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: client got %q (encoding %q), want the gzip bytes untouched", u, got, resp.Header.Get("Content-Encoding"))
		}
		x := p.sink.wait(t, i+1)[i]
		b := x.Response.Body
		if string(b.Data) != plain || b.Encoding != "gzip" || b.Size != int64(zipped.Len()) || b.DecodeError != "" {
			t.Errorf("%s: exchange body: got %q encoding %q size %d err %q; want decoded JSON, gzip, %d", u, b.Data, b.Encoding, b.Size, b.DecodeError, zipped.Len())
		}
	}
	// curl --compressed through the MITM decodes what it receives itself.
	out, err := execCurl(t, "--compressed", "--proxy", p.url.String(), "--cacert", p.caFile(t), up.URL+"/token")
	if err != nil || out != plain {
		t.Errorf("curl --compressed: got %q %v, want %q", out, err, plain)
	}
}

// TestBadGzip: a body that claims gzip but is not gives DecodeError and raw Data.
func TestBadGzip(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "not gzip at all")
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	resp, got := get(t, p.client(t), up.URL)
	if resp.StatusCode != 200 || string(got) != "not gzip at all" {
		t.Fatalf("client: got %d %q", resp.StatusCode, got)
	}
	b := p.sink.wait(t, 1)[0].Response.Body
	if b.DecodeError == "" || string(b.Data) != "not gzip at all" {
		t.Errorf("exchange body: got data %q decode error %q, want raw data and an error", b.Data, b.DecodeError)
	}
}

// TestTrailers: trailers from upstream reach the client (intercepted and
// plain) and the exchange.
func TestTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc123")
	})
	for _, h2 := range []bool{false, true} {
		up := newUpstream(t, h, h2)
		plainUp := newPlainUpstream(t, h)
		p := startProxy(t, Options{RootCAs: rootsOf(up)})
		c := p.client(t)
		for i, u := range []string{up.URL, plainUp.URL} {
			name := fmt.Sprintf("h2=%v %s", h2, u[:5])
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc123" {
				t.Errorf("%s: client got body %q trailer %v, want body and X-Checksum: abc123", name, b, resp.Trailer)
			}
			x := p.sink.wait(t, i+1)[i]
			if x.Response.Trailer.Get("X-Checksum") != "abc123" {
				t.Errorf("%s: exchange trailer: got %v, want X-Checksum: abc123", name, x.Response.Trailer)
			}
		}
	}
}

// TestChunkedStreaming: a chunked response is relayed chunk by chunk: the
// upstream sends its second chunk only after the client got the first.
func TestChunkedStreaming(t *testing.T) {
	gotFirst := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(waitLimit):
			return
		}
		io.WriteString(w, "second\n")
	})
	for _, tc := range []struct {
		name string
		up   *httptest.Server
	}{{"intercepted", newUpstream(t, h, false)}, {"plain", newPlainUpstream(t, h)}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, Options{RootCAs: rootsOf(tc.up)})
			resp, err := p.client(t).Get(tc.up.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("transfer encoding: got %v, want chunked", resp.TransferEncoding)
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("first chunk: got %q %v", line, err)
			}
			gotFirst <- struct{}{}
			rest, _ := io.ReadAll(br)
			if string(rest) != "second\n" {
				t.Errorf("second chunk: got %q, want %q", rest, "second\n")
			}
		})
	}
}

// TestRequestStreaming: a chunked request body is streamed upstream and
// captured, and a large upload is counted beyond the cap.
func TestRequestStreaming(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}), false)
	p := startProxy(t, Options{RootCAs: rootsOf(up), BodyCap: 10})
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 100; i++ {
			pw.Write([]byte("0123456789"))
		}
		pw.Close()
	}()
	resp, err := p.client(t).Post(up.URL, "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "1000" {
		t.Errorf("upstream received: got %s bytes, want 1000", b)
	}
	rb := p.sink.wait(t, 1)[0].Request.Body
	if rb.Size != 1000 || string(rb.Data) != "0123456789" || !rb.Truncated {
		t.Errorf("request body: got size %d data %q truncated %v; want 1000, first 10 bytes, true", rb.Size, rb.Data, rb.Truncated)
	}
}

// wsAccept computes Sec-WebSocket-Accept.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho upgrades and echoes raw bytes (enough to prove a bidirectional relay).
func wsEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want websocket", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		buf := make([]byte, 1024)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				c.Write(bytes.ToUpper(buf[:n]))
			}
			if err != nil {
				return
			}
		}
	})
}

// TestWebSocket: an upgrade passes through (plain and inside an
// intercepted tunnel): 101, then bytes both ways.
func TestWebSocket(t *testing.T) {
	tlsUp := newUpstream(t, wsEcho(), false)
	h2Up := newUpstream(t, wsEcho(), true)
	plainUp := newPlainUpstream(t, wsEcho())
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp, h2Up)})
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	// An HTTP/2 connection to h2Up exists before the upgrade, which must
	// still go over HTTP/1.1.
	if resp, _ := get(t, p.client(t), h2Up.URL+"/not-ws"); resp.StatusCode != 400 {
		t.Fatalf("warm-up: got %d, want 400", resp.StatusCode)
	}

	for _, tc := range []struct {
		name string
		up   *httptest.Server
	}{{"intercepted", tlsUp}, {"intercepted, HTTP/2 upstream", h2Up}, {"plain", plainUp}} {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.up.Listener.Addr().String()
			var conn net.Conn
			var target string
			if tc.up != plainUp {
				raw, br := connectTunnel(t, p.addr, host, "")
				tc := tls.Client(&bufConn{Conn: raw, r: br}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
				if err := tc.Handshake(); err != nil {
					t.Fatalf("TLS through the tunnel: %v", err)
				}
				conn, target = tc, "/ws"
			} else {
				raw, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { raw.Close() })
				conn, target = raw, "http://"+host+"/ws"
			}
			_ = conn.SetDeadline(time.Now().Add(waitLimit))
			key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", target, host, key)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("upgrade response: %v", err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				t.Fatalf("upgrade: got %d %v, want 101 with the accept key", resp.StatusCode, resp.Header)
			}
			for _, msg := range []string{"hello", "again"} {
				io.WriteString(conn, msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != strings.ToUpper(msg) {
					t.Fatalf("echo: got %q %v, want %q", got, err, strings.ToUpper(msg))
				}
			}
		})
	}
	xs := p.sink.wait(t, 4)[1:]
	for _, x := range xs {
		if x.Response == nil || x.Response.Status != 101 {
			t.Errorf("websocket exchange: got %+v, want status 101", x.Response)
		}
	}
}
