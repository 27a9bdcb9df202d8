package flow

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestQueueSinkPanic: a sink that panics on one exchange costs that
// exchange only: the queue reports the panic, naming the sink, and keeps
// handing over the next exchanges (before, the process died).
func TestQueueSinkPanic(t *testing.T) {
	var mu sync.Mutex
	var handled, reported []string
	var sink SinkFunc = func(x *Exchange) {
		if x.ID == "boom" {
			panic("sink bug with code=secret-canary")
		}
		mu.Lock()
		handled = append(handled, x.ID)
		mu.Unlock()
	}
	q := NewQueueOptions(sink, QueueOptions{Size: 2, OnPanic: func(x *Exchange, p *SinkPanic) {
		mu.Lock()
		reported = append(reported, x.ID+" "+p.Sink+" "+fmt.Sprint(p.Value))
		mu.Unlock()
		if len(p.Stack) == 0 {
			t.Errorf("SinkPanic has no stack")
		}
	}})
	for _, id := range []string{"a", "boom", "b", "boom", "c"} {
		q.Handle(&Exchange{ID: id})
	}
	q.Close()
	if got, want := strings.Join(handled, ","), "a,b,c"; got != want {
		t.Errorf("handled %s; want %s", got, want)
	}
	want := "boom flow.SinkFunc sink bug with code=secret-canary"
	if len(reported) != 2 || reported[0] != want || reported[1] != want {
		t.Errorf("reported %q; want twice %q", reported, want)
	}
	// After Close, Handle calls Next directly: still recovered.
	q.Handle(&Exchange{ID: "boom"})
	if len(reported) != 3 {
		t.Errorf("panic after Close reported %d times in all; want 3", len(reported))
	}
}

// TestChainPanic: in a Chain, the sinks after a panicking one still get
// the exchange, and the Chain then panics with a *SinkPanic naming the
// sink that failed.
func TestChainPanic(t *testing.T) {
	var got []string
	c := Chain{
		SinkFunc(func(x *Exchange) { got = append(got, "a:"+x.ID) }),
		panicky{},
		SinkFunc(func(x *Exchange) { got = append(got, "b:"+x.ID) }),
	}
	p := HandleSafe(c, &Exchange{ID: "1"})
	if strings.Join(got, ",") != "a:1,b:1" {
		t.Errorf("sinks got %v; want [a:1 b:1]", got)
	}
	if p == nil || p.Sink != "flow.panicky" {
		t.Fatalf("HandleSafe = %+v; want a *SinkPanic of flow.panicky", p)
	}
	if err := error(p); !strings.Contains(err.Error(), "flow: sink flow.panicky panicked: assignment to entry in nil map") {
		t.Errorf("Error() = %q", err)
	}
	var target *SinkPanic
	if !errors.As(error(p), &target) {
		t.Errorf("SinkPanic is not an error")
	}
	if HandleSafe(c, &Exchange{ID: "2"}) == nil {
		t.Errorf("second exchange: panic not reported")
	}
}

type panicky struct{}

func (panicky) Handle(*Exchange) {
	var m map[string]int
	m["x"]++ // a real runtime panic, not a string
}

// TestQueueBytes: the queue holds at most MaxBytes of bodies, however many
// exchanges its count bound would allow (before, 1024 exchanges with 1 MiB
// bodies each could wait: 2 GiB). The sink is held until the test lets it
// go, so without the byte bound the producer runs far ahead.
func TestQueueBytes(t *testing.T) {
	const n, body = 40, 64 << 10
	w := Weight(&Exchange{Request: Request{Body: Body{Data: make([]byte, body)}}})
	maxBytes := 4 * w
	gate := make(chan struct{})
	q := NewQueueOptions(SinkFunc(func(*Exchange) { <-gate }), QueueOptions{Size: 1024, MaxBytes: maxBytes})
	var worst int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			q.Handle(&Exchange{ID: fmt.Sprint(i), Request: Request{Body: Body{Data: make([]byte, body)}}})
			if b := q.Bytes(); b > worst {
				worst = b
			}
		}
	}()
	for i := 0; i < n; i++ {
		gate <- struct{}{}
	}
	<-done
	q.Close()
	if worst > maxBytes {
		t.Errorf("queue held %d bytes; want at most %d", worst, maxBytes)
	}
	if worst < w {
		t.Errorf("queue never held an exchange (%d bytes): the test did not test", worst)
	}
	if b := q.Bytes(); b != 0 {
		t.Errorf("after Close the queue counts %d bytes; want 0", b)
	}
	// One exchange larger than the bound still passes, alone.
	q2 := NewQueueOptions(SinkFunc(func(*Exchange) {}), QueueOptions{MaxBytes: 10})
	q2.Handle(&Exchange{Request: Request{Body: Body{Data: make([]byte, 100)}}})
	q2.Close()
}
