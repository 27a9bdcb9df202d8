package flow

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFailed(t *testing.T) {
	tests := []struct {
		name string
		x    Exchange
		want bool
	}{
		{"200", Exchange{Response: &Response{Status: 200}}, false},
		{"302", Exchange{Response: &Response{Status: 302}}, false},
		{"400", Exchange{Response: &Response{Status: 400}}, true},
		{"503", Exchange{Response: &Response{Status: 503}}, true},
		{"upstream error", Exchange{Error: "dial tcp: refused"}, true},
		{"no response yet", Exchange{}, false},
		{"client aborted after 200", Exchange{Response: &Response{Status: 200}, Error: ClientAbortedPrefix + "the client closed the connection while idp.example:443 sent the response body"}, false},
		{"client aborted after 302", Exchange{Response: &Response{Status: 302}, Error: ClientAbortedPrefix + "the client closed the connection while idp.example:443 sent the response body"}, false},
		{"client aborted after 403", Exchange{Response: &Response{Status: 403}, Error: ClientAbortedPrefix + "the client closed the connection while idp.example:443 sent the response body"}, true},
		{"client aborted before the answer", Exchange{Error: ClientAbortedPrefix + "the client closed the connection before idp.example:443 answered"}, true},
		{"browser canceled, read from a DevTools HAR", Exchange{Error: BrowserCanceledPrefix + "the request (net::ERR_ABORTED)"}, false},
		{"page script aborted, read from a DevTools HAR", Exchange{Error: ClientAbortedPrefix + "the page's script aborted the request (net::ERR_ABORTED)"}, true},
		{"browser error, read from a DevTools HAR", Exchange{Error: "the browser reported net::ERR_CONNECTION_REFUSED"}, true},
		{"upstream reset after 200", Exchange{Response: &Response{Status: 200}, Error: "oauthproxy: upstream idp.example:443: response body: connection reset by peer"}, true},
		{"upstream reset after 302", Exchange{Response: &Response{Status: 302}, Error: "oauthproxy: upstream idp.example:443: response body: connection reset by peer"}, true},
		{"no status read from a capture", Exchange{Response: &Response{}, Error: "no response"}, true},
		{"callback refused, read from a DevTools HAR", Exchange{Error: BrowserReportedPrefix + "net::ERR_CONNECTION_REFUSED (no answer)", OAuth: OAuth{Label: LabelCallback}}, false},
		{"callback refused, live proxy", Exchange{Error: "oauthproxy: upstream localhost:8400: dial tcp 127.0.0.1:8400: connect: connection refused", OAuth: OAuth{Label: LabelCallback}}, false},
		{"callback with status 0 read from a capture", Exchange{Response: &Response{}, Error: "Aborted", OAuth: OAuth{Label: LabelCallback}}, false},
		{"callback refused, not yet inspected", Exchange{Error: BrowserReportedPrefix + "net::ERR_CONNECTION_REFUSED (no answer)"}, true},
		{"callback, the client left before the answer", Exchange{Error: ClientAbortedPrefix + "the client closed the connection before localhost:8400 answered", OAuth: OAuth{Label: LabelCallback}}, true},
		{"callback answered 500", Exchange{Response: &Response{Status: 500}, OAuth: OAuth{Label: LabelCallback}}, true},
		{"callback broken off after 200", Exchange{Response: &Response{Status: 200}, Error: "oauthproxy: upstream localhost:8400: response body: connection reset by peer", OAuth: OAuth{Label: LabelCallback}}, true},
		{"token request refused", Exchange{Error: "oauthproxy: upstream idp.example:443: connect: connection refused", OAuth: OAuth{Label: LabelToken}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.Failed(); got != tt.want {
				t.Errorf("Failed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSeverityRank(t *testing.T) {
	order := []Severity{SeverityError, SeverityWarn, SeverityInfo, Severity("bogus")}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() >= order[i].Rank() {
			t.Errorf("%s.Rank() = %d, not below %s.Rank() = %d", order[i-1], order[i-1].Rank(), order[i], order[i].Rank())
		}
	}
}

func TestURLString(t *testing.T) {
	var r Request
	if got := r.URLString(); got != "" {
		t.Errorf("nil URL: got %q, want empty", got)
	}
	r.URL, _ = url.Parse("https://idp.example/token?x=1")
	if got := r.URLString(); got != "https://idp.example/token?x=1" {
		t.Errorf("got %q", got)
	}
}

func TestChainAndSerial(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rec := func(name string) Sink {
		return SinkFunc(func(x *Exchange) {
			mu.Lock()
			got = append(got, name+":"+x.ID)
			mu.Unlock()
		})
	}
	s := &Serial{Next: Chain{rec("a"), nil, rec("b")}}
	s.Handle(&Exchange{ID: "1"})
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:1" {
		t.Fatalf("got %v, want [a:1 b:1]", got)
	}
	// Serial keeps sinks from running concurrently.
	var wg sync.WaitGroup
	active, maxActive := 0, 0
	probe := &Serial{Next: SinkFunc(func(*Exchange) {
		mu.Lock()
		active++
		if active > maxActive {
			maxActive = active
		}
		mu.Unlock()
		mu.Lock()
		active--
		mu.Unlock()
	})}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); probe.Handle(&Exchange{}) }()
	}
	wg.Wait()
	if maxActive != 1 {
		t.Errorf("Serial let %d handlers run at once, want 1", maxActive)
	}
}

func TestQueue(t *testing.T) {
	var got []string
	q := NewQueue(SinkFunc(func(x *Exchange) { got = append(got, x.ID) }), 4)
	for i := 0; i < 100; i++ {
		q.Handle(&Exchange{ID: string(rune('a' + i%26))})
	}
	q.Close()
	if len(got) != 100 {
		t.Fatalf("handled %d exchanges, want 100", len(got))
	}
	for i, id := range got {
		if want := string(rune('a' + i%26)); id != want {
			t.Fatalf("exchange %d: got %s, want %s (order lost)", i, id, want)
		}
	}
	q.Handle(&Exchange{ID: "late"}) // after Close: handled directly, no panic
	if got[len(got)-1] != "late" {
		t.Errorf("exchange after Close was not handled")
	}
	q.Close() // idempotent
}

// TestQueueConcurrent: exchanges handed over from many goroutines at once,
// through a queue smaller than their number, each reach Next exactly once,
// one at a time, and Close waits for all of them.
func TestQueueConcurrent(t *testing.T) {
	const workers, each = 8, 200
	var (
		active, maxActive atomic.Int32
		mu                sync.Mutex
		seen              = map[string]int{}
	)
	q := NewQueue(SinkFunc(func(x *Exchange) {
		if n := active.Add(1); n > maxActive.Load() {
			maxActive.Store(n)
		}
		mu.Lock()
		seen[x.ID]++
		mu.Unlock()
		active.Add(-1)
	}), 16)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q.Handle(&Exchange{ID: fmt.Sprintf("%d-%d", w, i)})
			}
		}()
	}
	wg.Wait()
	q.Close()
	if len(seen) != workers*each {
		t.Errorf("handled %d distinct exchanges, want %d", len(seen), workers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("exchange %s handled %d times, want 1", id, n)
		}
	}
	if maxActive.Load() != 1 {
		t.Errorf("Next ran %d times at once, want 1", maxActive.Load())
	}
}
