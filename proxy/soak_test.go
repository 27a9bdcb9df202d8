package proxy

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// soakDuration is how long TestSoak loads the proxy: 20 s, or
// $OAUTHPROXY_SOAK (a Go duration such as 5m) for a longer run.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("OAUTHPROXY_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("OAUTHPROXY_SOAK=%q: want a duration such as 5m", v)
		}
		return d
	}
	return 20 * time.Second
}

// redactingSink does what the product's sinks do with every exchange
// (a redacted copy, as the log and the HAR writer make) and counts them.
type redactingSink struct{ n atomic.Int64 }

func (s *redactingSink) Handle(x *flow.Exchange) {
	_ = redact.Exchange(x)
	s.n.Add(1)
}

// TestSoak loads the real proxy (through a flow.Queue, like the product)
// with 64 keep-alive connections, new-connection churn and token
// exchanges with unique codes against a local HTTPS upstream, for
// soakDuration. It checks: no unexpected error; every exchange reached the
// sink; goroutines back to the baseline once the clients are gone; the
// heap (sampled after a GC) flat after warm-up: the later samples are not
// above the earlier ones by more than a margin (samples, not time); the
// counters page agrees.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: not in -short")
	}
	dur := soakDuration(t)
	up := newUpstream(t, tokenHandler(), false)
	sink := &redactingSink{}
	queue := flow.NewQueue(sink, 0)
	p := startProxy(t, Options{RootCAs: rootsOf(up), Sink: queue, Vars: func() map[string]int64 {
		return map[string]int64{"queue_depth": int64(queue.Len())}
	}})
	t.Cleanup(queue.Close)
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	newTransport := func(keepAlive bool) *http.Transport {
		return &http.Transport{Proxy: http.ProxyURL(p.url), TLSClientConfig: &tls.Config{RootCAs: pool},
			DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
	}

	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()

	var (
		requests, tokens, failures atomic.Int64
		errMu                      sync.Mutex
		firstErrs                  []string
	)
	fail := func(format string, a ...any) {
		failures.Add(1)
		errMu.Lock()
		if len(firstErrs) < 5 {
			firstErrs = append(firstErrs, fmt.Sprintf(format, a...))
		}
		errMu.Unlock()
	}
	do := func(c *http.Client, token bool) {
		var resp *http.Response
		var err error
		if token {
			code := make([]byte, 24)
			rand.Read(code)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {hex.EncodeToString(code)},
				"client_id": {"soak"}, "client_secret": {"soak-client-secret"}, "redirect_uri": {"https://app.example/cb"}}
			resp, err = c.Post(up.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			tokens.Add(1)
		} else {
			resp, err = c.Get(up.URL + "/api")
		}
		requests.Add(1)
		if err != nil {
			fail("%v", err)
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != 1024 {
			fail("status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var transports []*http.Transport
	for i := 0; i < 64; i++ { // 64 keep-alive connections, one each
		tr := newTransport(true)
		transports = append(transports, tr)
		c := &http.Client{Transport: tr, Timeout: waitLimit}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				do(c, (i+j)%2 == 0)
			}
		}()
	}
	for i := 0; i < 2; i++ { // churn: a new connection (CONNECT + TLS) per request
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr := newTransport(false)
				do(&http.Client{Transport: tr, Timeout: waitLimit}, true)
				tr.CloseIdleConnections()
			}
		}()
	}

	// Heap samples after a GC, 20 over the run; the first 30% are warm-up.
	const samples = 20
	var heap []uint64
	for i := 0; i < samples; i++ {
		time.Sleep(dur / samples)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = append(heap, ms.HeapAlloc)
	}
	close(stop)
	wg.Wait()
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}

	total, failed := requests.Load(), failures.Load()
	if failed > 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed, total, firstErrs)
	}
	if total < 64 {
		t.Fatalf("only %d requests in %v", total, dur)
	}
	// Every exchange reaches the sink (the proxy hands it over after the
	// body was relayed, so wait for the queue to drain).
	for deadline := time.Now().Add(waitLimit); sink.n.Load() < total && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := sink.n.Load(); got != total {
		t.Errorf("sink got %d exchanges, want %d", got, total)
	}

	// Heap flat after warm-up: the median of the last third of the samples
	// is within 25% + 4 MiB of the median of the samples right after warm-up.
	warm := heap[samples*3/10:]
	third := len(warm) / 3
	early, late := median(warm[:third]), median(warm[len(warm)-third:])
	if late > early+early/4+4<<20 {
		t.Errorf("heap grows: median %d KiB after warm-up, %d KiB at the end (samples %v)", early>>10, late>>10, kib(heap))
	}

	// The counters page, read by a loopback client, agrees: nothing in
	// flight, no client connection left but the page's own.
	p.Server.tr.CloseIdleConnections() // the proxy's upstream keep-alive pool
	var vars map[string]int64
	var goroutines int
	for deadline := time.Now().Add(waitLimit); ; {
		vars = readVars(t, p.addr)
		runtime.GC()
		goroutines = runtime.NumGoroutine()
		if (vars["client_conns"] == 1 && vars["inflight"] == 0 && vars["upstream_conns"] == 0 && goroutines <= baseGoroutines+2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if vars["client_conns"] != 1 || vars["inflight"] != 0 || vars["upstream_conns"] != 0 || vars["queue_depth"] != 0 {
		t.Errorf("after the load /debug/vars = %v, want client_conns 1 (the page's own request), inflight, upstream_conns and queue_depth 0", vars)
	}
	if goroutines > baseGoroutines+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before the load, %d after; stacks:\n%s", baseGoroutines, goroutines, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("soak: %v, 64 keep-alive + 2 churning clients, %d requests (%d token exchanges with unique codes), %d failed; goroutines %d before, %d after; heap after GC %d KiB after warm-up, %d KiB at the end (samples KiB %v)",
		dur, total, tokens.Load(), failed, baseGoroutines, goroutines, early>>10, late>>10, kib(heap))
}

func median(xs []uint64) uint64 {
	s := append([]uint64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func kib(xs []uint64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = x >> 10
	}
	return out
}

// readVars fetches the counters page from the proxy's own address.
func readVars(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitLimit}
	resp, err := c.Get("http://" + addr + VarsPath)
	if err != nil {
		t.Fatalf("GET %s: %v", VarsPath, err)
	}
	defer resp.Body.Close()
	var v map[string]int64
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", VarsPath, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", VarsPath, err)
	}
	return v
}
