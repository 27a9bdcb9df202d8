package livelog

import (
	"io"
	"sync"
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
	a.cond.Broadcast()
	return len(p), nil
}

func (a *AsyncWriter) loop() {
	defer close(a.done)
	var out []byte
	for {
		a.mu.Lock()
		for len(a.buf) == 0 && !a.closed {
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
