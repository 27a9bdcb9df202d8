package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestClientAbortCancelsUpstream: a client that gives up while the proxy
// waits for upstream cancels the upstream request at once (before, an
// intercepted one held its connections until the upstream timeout), and
// the exchange is recorded as a client abort, not an upstream failure. The
// upstream timeout is an hour: only the abort can end the upstream request.
func TestClientAbortCancelsUpstream(t *testing.T) {
	arrived := make(chan struct{}, 4)
	canceled := make(chan struct{}, 4)
	stop := make(chan struct{}) // lets the handlers go when the test failed
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			w.Write([]byte("ok"))
			return
		}
		arrived <- struct{}{}
		select {
		case <-r.Context().Done(): // the proxy closed or reset the upstream request
			canceled <- struct{}{}
		case <-stop:
		}
	})
	tlsUp := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	t.Cleanup(func() { close(stop) }) // runs before the upstreams close
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp), UpstreamTimeout: time.Hour})
	for _, tc := range []struct{ name, url string }{
		{"intercepted", tlsUp.URL + "/slow"},
		{"plain", plainUp.URL + "/slow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.sink.all())
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", tc.url, nil)
			c := p.client(t)
			errc := make(chan error, 1)
			go func() {
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			select {
			case <-arrived:
			case <-time.After(waitLimit):
				t.Fatal("the request never reached upstream")
			}
			cancel() // the client gives up: its connection to the proxy closes
			if err := <-errc; err == nil {
				t.Fatal("client: got a response; want its cancellation error")
			}
			select {
			case <-canceled:
			case <-time.After(waitLimit):
				t.Fatal("upstream request still open after the client went away (held until the upstream timeout)")
			}
			x := p.sink.wait(t, before+1)[before]
			if !x.ClientAborted() || strings.Contains(x.Error, "timeout") {
				t.Errorf("exchange error %q; want a client abort (%q...)", x.Error, flow.ClientAbortedPrefix)
			}
		})
	}
	// The proxy keeps serving.
	if resp, _ := get(t, p.client(t), tlsUp.URL+"/after"); resp.StatusCode != http.StatusOK {
		t.Errorf("after: status %d", resp.StatusCode)
	}
}

// TestClientLeavesMidDownload: a client that hangs up in the middle of a
// large streamed response (512 MiB announced or chunked, never sent in
// full) makes the proxy close the upstream response at once, the exchange
// is recorded as a client abort with the bytes that were relayed, and the
// proxy keeps serving: the next request succeeds.
func TestClientLeavesMidDownload(t *testing.T) {
	chunk := bytes.Repeat([]byte("z"), 32<<10)
	const chunks = 1 << 14 // 512 MiB: never sent in full
	upClosed := make(chan string, 8)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			w.Write([]byte("ok"))
			return
		}
		if r.URL.Query().Get("length") != "" {
			w.Header().Set("Content-Length", strconv.Itoa(chunks*len(chunk)))
		}
		for i := 0; i < chunks; i++ {
			if _, err := w.Write(chunk); err != nil {
				upClosed <- r.URL.RawQuery // the proxy closed the upstream connection
				return
			}
		}
		upClosed <- "sent everything"
	})
	tlsUp := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp)})
	for _, tc := range []struct{ name, url string }{
		{"intercepted chunked", tlsUp.URL + "/big?chunked=1"},
		{"intercepted content-length", tlsUp.URL + "/big?length=1"},
		{"plain chunked", plainUp.URL + "/big?chunked=1"},
		{"plain content-length", plainUp.URL + "/big?length=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.sink.all())
			c := p.client(t)
			resp, err := c.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.ReadFull(resp.Body, make([]byte, 2<<20))
			if err != nil {
				t.Fatalf("read %d bytes: %v", n, err)
			}
			resp.Body.Close() // before EOF: the client closes its connection
			c.CloseIdleConnections()
			select {
			case got := <-upClosed:
				if got == "sent everything" {
					t.Fatal("upstream sent all 512 MiB: the proxy kept reading after the client left")
				}
			case <-time.After(waitLimit):
				t.Fatal("upstream still sending after the client left")
			}
			x := p.sink.wait(t, before+1)[before]
			if !x.ClientAborted() || !strings.Contains(x.Error, "response body") {
				t.Errorf("exchange error %q; want a client abort during the response body (%q...)", x.Error, flow.ClientAbortedPrefix)
			}
			if x.Response == nil || x.Response.Status != http.StatusOK || !x.Response.Body.Truncated || x.Response.Body.Size < 2<<20 {
				t.Errorf("exchange response %+v; want 200, truncated, at least the 2 MiB the client read", x.Response)
			}
			if x.Failed() {
				t.Errorf("Failed() = true; want false: the server answered 200, only the client left")
			}
			// The proxy keeps serving.
			if resp, b := get(t, p.client(t), strings.Split(tc.url, "/big")[0]+"/after"); resp.StatusCode != http.StatusOK || string(b) != "ok" {
				t.Errorf("next request: got %d %q, want 200 ok", resp.StatusCode, b)
			}
			if x := p.sink.wait(t, before+2)[before+1]; x.Error != "" || x.Request.URL.Path != "/after" {
				t.Errorf("next exchange: %s error %q; want /after without error", x.Request.URL.Path, x.Error)
			}
		})
	}
	p.sink.checkOnce(t)
	if n := len(p.sink.all()); n != 8 {
		t.Errorf("exchanges: got %d, want 8 (one per request)", n)
	}
}

// TestAbortWatchReused: a connection's abort watch serves its exchanges
// one after another. A watch whose read started and stopped leaves the
// connection readable, bytes read meanwhile included; a late timer firing
// after stop starts nothing; the next exchange's watch still sees the
// client leave. The timer's firing is simulated by calling start.
func TestAbortWatchReused(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	cc := &clientConn{Conn: server}
	canceled := 0
	cancel := func() { canceled++ }

	// 1: the read starts, the client sends the next request meanwhile,
	// the answer comes: no abort, the bytes are kept for the next Read.
	w := cc.watchAbort(cancel)
	w.start()
	client.SetWriteDeadline(time.Now().Add(waitLimit)) // a safety net, not a timing assertion
	if _, err := client.Write([]byte("GET /next")); err != nil {
		t.Fatalf("exchange 1: nothing read the connection while the watch ran: %v", err)
	}
	if w.stop() {
		t.Fatal("exchange 1: got an abort, want none")
	}
	if got := string(cc.stash); got != "GET /next" {
		t.Errorf("exchange 1: kept %q for the next Read, want %q", got, "GET /next")
	}
	// 2: stopped before the timer fired; the firing comes late.
	w = cc.watchAbort(cancel)
	if w.stop() {
		t.Fatal("exchange 2: got an abort, want none")
	}
	w.start()
	if w.started {
		t.Fatal("a late firing after stop started a read")
	}
	// 3: the client leaves while the exchange waits.
	w = cc.watchAbort(cancel)
	w.start()
	client.Close()
	<-w.done
	if !w.stop() {
		t.Fatal("exchange 3: the client left; want an abort")
	}
	if canceled != 1 {
		t.Errorf("cancel called %d times, want 1 (exchange 3 only)", canceled)
	}
}
