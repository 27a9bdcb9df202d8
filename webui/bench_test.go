package webui

import (
	"fmt"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/cputime"
)

// benchExchanges are 64 token exchanges of distinct URLs.
func benchExchanges() []*flow.Exchange {
	xs := make([]*flow.Exchange, 64)
	for i := range xs {
		xs[i] = xchg("POST", "https://login.example.test/oauth2/token?x="+fmt.Sprint(i), 200,
			respJSON(`{"access_token":"a","token_type":"Bearer","expires_in":3600}`))
	}
	return xs
}

// BenchmarkHandle is the UI's cost per exchange in the sink chain, with
// no page open and with pages following the event stream (each drained by
// a reader, as an open page's stream is).
func BenchmarkHandle(b *testing.B) {
	for _, pages := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			s := New(Options{MaxBytes: 16 << 20})
			defer s.Close()
			for i := 0; i < pages; i++ {
				sb := s.hub.subscribe()
				go func() {
					for {
						select {
						case <-sb.ch:
						case <-sb.done:
							return
						}
					}
				}()
			}
			xs := benchExchanges()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Handle(xs[i%len(xs)])
			}
		})
	}
}

// BenchmarkEvents is the CPU the UI costs per exchange, as the proxy
// feeds it (in batches of 8 every 2 ms, as flow.Queue hands them on,
// ~4,000 exchanges/s), with no page open and with one page following
// /api/events over a real HTTP connection. The page is `curl -N` in its
// own process, so cpu-us/op (this process's user+system CPU per exchange,
// from getrusage) is the server's side only: Handle, the encoding, the
// stream's writes and the wake-ups. Compare pages=1 with pages=0.
func BenchmarkEvents(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl not found")
	}
	for _, pages := range []int{0, 1} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			s := New(Options{MaxBytes: 16 << 20})
			hs := httptest.NewServer(s)
			defer hs.Close()
			defer s.Close()
			for i := 0; i < pages; i++ {
				cmd := exec.Command(curl, "-sN", "-o", "/dev/null", hs.URL+"/api/events")
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				defer func() { cmd.Process.Kill(); cmd.Wait() }()
			}
			for int(s.hub.n.Load()) < pages {
				time.Sleep(time.Millisecond)
			}
			xs := benchExchanges()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Self()
			for i := 0; i < b.N; i++ {
				s.Handle(xs[i%len(xs)])
				if i%8 == 7 {
					time.Sleep(flow.QueueLinger)
				}
			}
			// Let the stream write what it holds before the clock stops.
			time.Sleep(50 * time.Millisecond)
			cpu = cputime.Self() - cpu
			b.StopTimer()
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
			var missed int64
			s.hub.mu.Lock()
			for sb := range s.hub.subs {
				missed += sb.missed.Load()
			}
			s.hub.mu.Unlock()
			b.ReportMetric(float64(missed)/float64(b.N), "missed/op")
		})
	}
}
