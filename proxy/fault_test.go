package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// The faults not covered by failure_test.go and edge_test.go (reset,
// silence, TLS failure, slow-loris, client gone, 100-continue, sink panic
// in the direct path): an upstream that closes its keep-alive connection
// after each answer, an HTTP/2 upstream that sends GOAWAY, and a sink that
// panics behind a flow.Queue. Each time: the client gets its answer or a
// clear 502, the exchange says what happened, the next request succeeds.

// TestUpstreamClosesKeepAlive: the upstream answers one request per
// connection without saying Connection: close, then closes. Requests that
// would reuse the dead connection are retried or refused with a clear 502;
// the proxy keeps serving.
func TestUpstreamClosesKeepAlive(t *testing.T) {
	var conns atomic.Int64
	addr := serveRaw(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
		// and close, as a server with a short keep-alive timeout does
	})
	p := startProxy(t, Options{})
	c := p.client(t)
	ok, clear := 0, 0
	for i := 0; i < 6; i++ {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = c.Get("http://" + addr + "/get")
		} else {
			resp, err = c.Post("http://"+addr+"/post", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 200 && string(b) == "ok":
			ok++
		case resp.StatusCode == http.StatusBadGateway && strings.HasPrefix(string(b), "oauthproxy: upstream "+addr):
			clear++
			t.Logf("request %d: %s", i, strings.TrimSpace(string(b)))
		default:
			t.Errorf("request %d: got %d %q, want 200 ok or a 502 naming the upstream", i, resp.StatusCode, b)
		}
	}
	if ok == 0 {
		t.Errorf("no request succeeded (%d clear 502s)", clear)
	}
	if resp, body := get(t, c, "http://"+addr+"/after"); resp.StatusCode != 200 {
		t.Errorf("after: got %d %s, want 200", resp.StatusCode, body)
	}
	t.Logf("%d answered, %d clear 502s, over %d upstream connections", ok, clear, conns.Load())
	p.sink.wait(t, 7)
}

// TestUpstreamGOAWAY: an HTTP/2 upstream that turns keep-alives off sends
// GOAWAY on its connection; requests in the middle of it are answered or
// refused with a clear 502, later ones go over a new connection.
func TestUpstreamGOAWAY(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{} // the upstream connections used
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		echoHandler().ServeHTTP(w, r)
	}), true)
	p := startProxy(t, Options{RootCAs: rootsOf(up)})
	c := p.client(t)
	for i := 0; i < 8; i++ {
		// Every other request, the server stops keep-alives: its HTTP/2
		// connections get a GOAWAY.
		up.Config.SetKeepAlivesEnabled(i%2 == 0)
		resp, body := get(t, c, up.URL+"/g")
		switch {
		case resp.StatusCode == 200 && strings.Contains(string(body), `"proto_major":2`):
		case resp.StatusCode == http.StatusBadGateway && strings.HasPrefix(string(body), "oauthproxy: upstream "):
			t.Logf("request %d: %s", i, strings.TrimSpace(string(body)))
		default:
			t.Errorf("request %d: got %d %q, want 200 over HTTP/2 or a clear 502", i, resp.StatusCode, body)
		}
	}
	up.Config.SetKeepAlivesEnabled(true)
	if resp, body := get(t, c, up.URL+"/after"); resp.StatusCode != 200 {
		t.Errorf("after: got %d %s, want 200", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) < 2 {
		t.Errorf("all requests used %d upstream connection(s): no GOAWAY happened, the test tests nothing", len(remotes))
	}
	t.Logf("9 requests over %d upstream HTTP/2 connections", len(remotes))
}

// panicSink panics on every exchange whose URL contains "/boom".
type panicSink struct{ n atomic.Int64 }

func (s *panicSink) Handle(x *flow.Exchange) {
	if x.Request.URL != nil && strings.Contains(x.Request.URL.Path, "/boom") {
		panic("sink bug")
	}
	s.n.Add(1)
}

// TestQueuedSinkPanic: a sink behind flow.Queue (the product's wiring)
// panics: the process survives, the client got its answer, the exchanges
// after it still reach the sink. Needs the queue's per-exchange panic
// recovery (issue 14, hardena's part): without it the test binary dies.
//
// It runs in a child process so that, without that recovery, the crash
// fails this test only instead of killing every test of the package.
func TestQueuedSinkPanic(t *testing.T) {
	if os.Getenv("OAUTHPROXY_TEST_QUEUE_PANIC_CHILD") == "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestQueuedSinkPanic$", "-test.count=1")
		cmd.Env = append(os.Environ(), "OAUTHPROXY_TEST_QUEUE_PANIC_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("a panicking sink behind flow.Queue took the process down (%v):\n%s", err, out)
		}
		return
	}
	up := newUpstream(t, echoHandler(), false)
	sink := &panicSink{}
	q := flow.NewQueue(sink, 0)
	t.Cleanup(q.Close)
	p := startProxy(t, Options{RootCAs: rootsOf(up), Sink: q})
	c := p.client(t)
	if resp, _ := get(t, c, up.URL+"/boom"); resp.StatusCode != 200 {
		t.Errorf("/boom: got %d, want 200 (the panic is after the answer)", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		if resp, body := get(t, c, up.URL+"/after"); resp.StatusCode != 200 {
			t.Fatalf("after the panic: got %d %s, want 200", resp.StatusCode, body)
		}
	}
	// The proxy hands an exchange over after its response is done, so the
	// last one may still be on its way: wait for it (bounded) before Close.
	for deadline := time.Now().Add(10 * time.Second); sink.n.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	q.Close()
	if got := sink.n.Load(); got != 3 {
		t.Errorf("sink got %d exchanges after the panic, want 3", got)
	}
}
