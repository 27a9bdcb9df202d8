package livelog

import (
	"io"
	"sync"
	"time"
)

// AsyncWriter decouples the proxy from a slow or busy log destination:
// Write copies into a buffer and returns; one goroutine writes the buffer
// out, so under load many log lines share one write(2) and no exchange
// waits on the terminal. Close flushes everything written before it.
type AsyncWriter struct {
	w       io.Writer
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	closed  bool
	done    chan struct{}
	err     error
	maxSize int
	pending bool // a delayed flush is scheduled
}

// NewAsyncWriter starts the writing goroutine. If more than 4 MiB are
// waiting (the destination is stuck), Write blocks until there is room, so
// nothing is dropped and memory stays bounded.
func NewAsyncWriter(w io.Writer) *AsyncWriter {
	a := &AsyncWriter{w: w, done: make(chan struct{}), maxSize: 4 << 20}
	a.cond = sync.NewCond(&a.mu)
	go a.loop()
	return a
}

// Write queues p. It returns the first error the destination returned.
func (a *AsyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.buf) > a.maxSize && !a.closed && a.err == nil {
		a.cond.Wait()
	}
	if a.err != nil {
		return 0, a.err
	}
	if a.closed {
		return 0, io.ErrClosedPipe
	}
	a.buf = append(a.buf, p...)
	if len(a.buf) >= flushSize {
		a.cond.Broadcast()
	} else if !a.pending {
		// Let lines gather for a moment: under load one write(2) and one
		// wake-up serve many exchanges; a person sees no delay.
		a.pending = true
		time.AfterFunc(flushDelay, a.kick)
	}
	return len(p), nil
}

// Flush timing: lines are written at most flushDelay after they were
// queued, or as soon as flushSize bytes are waiting.
const (
	flushDelay = 5 * time.Millisecond
	flushSize  = 32 << 10
)

func (a *AsyncWriter) kick() {
	a.mu.Lock()
	a.pending = false
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *AsyncWriter) loop() {
	defer close(a.done)
	var out []byte
	for {
		a.mu.Lock()
		for (len(a.buf) == 0 || (a.pending && len(a.buf) < flushSize)) && !a.closed {
			a.cond.Wait()
		}
		if len(a.buf) == 0 && a.closed {
			a.mu.Unlock()
			return
		}
		out, a.buf = a.buf, out[:0]
		a.cond.Broadcast()
		a.mu.Unlock()
		if _, err := a.w.Write(out); err != nil {
			a.mu.Lock()
			if a.err == nil {
				a.err = err
			}
			a.cond.Broadcast()
			a.mu.Unlock()
		}
	}
}

// Close writes out what is queued and stops the goroutine.
func (a *AsyncWriter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.cond.Broadcast()
	a.mu.Unlock()
	<-a.done
	return a.err
}
