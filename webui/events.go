package webui

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// subBuffer is how many events one page may lag behind before it misses
// some; each event is one encoded row (a few hundred bytes). It holds the
// rows that arrive while a stream lingers (eventLinger) at several
// thousand exchanges per second.
const subBuffer = 1024

// hub fans rows out to the event streams of open pages. Publishing never
// blocks: a page whose buffer is full misses the event and is told so.
type hub struct {
	mu     sync.Mutex
	subs   map[*sub]struct{}
	n      atomic.Int32 // len(subs), read without the lock on the hot path
	closed bool
	// scratch is publish's encoding buffer (under mu).
	scratch []byte
}

// sub is one open event stream.
type sub struct {
	ch     chan []byte
	missed atomic.Int64
	done   chan struct{}
}

func newHub() *hub { return &hub{subs: map[*sub]struct{}{}} }

// subscribe registers a stream; nil after close.
func (h *hub) subscribe() *sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	s := &sub{ch: make(chan []byte, subBuffer), done: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s
}

func (h *hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.n.Store(int32(len(h.subs)))
	}
}

// publish sends row to every stream that has room. With no page open it
// costs one atomic load.
func (h *hub) publish(row *Row) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Encoded once, into a scratch buffer, then copied at its size and
	// shared (read-only) by every page.
	var err error
	if h.scratch, err = appendRow(h.scratch[:0], row); err != nil {
		return
	}
	b := bytes.Clone(h.scratch)
	if cap(h.scratch) > 64<<10 {
		h.scratch = nil // not kept after a row with a huge URL
	}
	for s := range h.subs {
		select {
		case s.ch <- b:
		default:
			s.missed.Add(1)
		}
	}
}

// close ends every stream.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		close(s.done)
		delete(h.subs, s)
	}
	h.n.Store(0)
}
