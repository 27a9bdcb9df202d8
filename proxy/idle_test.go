package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleRelease: after a burst of exchanges the proxy returns freed
// memory to the system once it is idle, once per idle period: not while
// it has never served anything, not again while it stays idle, and again
// after the next burst.
func TestIdleRelease(t *testing.T) {
	var calls atomic.Int64
	released := make(chan struct{}, 16)
	old := freeOSMemory
	freeOSMemory = func() {
		calls.Add(1)
		released <- struct{}{}
	}
	t.Cleanup(func() { freeOSMemory = old })

	up := newUpstream(t, echoHandler(), false)
	const every = 20 * time.Millisecond
	p := startProxy(t, Options{RootCAs: rootsOf(up), IdleRelease: every})
	idle := func() { time.Sleep(10 * every) } // many ticks with no traffic
	waitRelease := func(after string) {
		t.Helper()
		select {
		case <-released:
		case <-time.After(waitLimit):
			t.Fatalf("no memory release after %s", after)
		}
	}

	idle()
	if n := calls.Load(); n != 0 {
		t.Errorf("released %d times before any traffic; want 0", n)
	}
	// One exchange per burst: with several, a slow machine could see a
	// tick without a new one between them, and rightly release twice.
	c := p.client(t)
	if resp, _ := get(t, c, up.URL); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitRelease("the first burst")
	idle()
	if n := calls.Load(); n != 1 {
		t.Errorf("released %d times after one burst and a long idle; want 1", n)
	}
	get(t, c, up.URL)
	waitRelease("the second burst")
	idle()
	if n := calls.Load(); n != 2 {
		t.Errorf("released %d times after two bursts; want 2", n)
	}
	// The counters page says so (the memory test of the real binary
	// waits for it).
	if got := p.Vars()["idle_releases"]; got != calls.Load() {
		t.Errorf("idle_releases = %d, want %d", got, calls.Load())
	}
}
