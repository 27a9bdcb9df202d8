package flow

import "sync"

// Queue hands exchanges to Next from a single goroutine, in the order
// Handle was called, so the proxy's connections never wait on each other
// for inspection, logging and capture (a lock around the sinks makes 32
// busy connections queue up on it). Handle blocks only when Size exchanges
// are already waiting, which bounds memory. Close drains the queue.
type Queue struct {
	next Sink
	ch   chan *Exchange
	done chan struct{}
	once sync.Once
	mu   sync.RWMutex // guards closed against Handle racing Close
	shut bool
}

// NewQueue starts the goroutine that feeds next; size <= 0 means 1024.
func NewQueue(next Sink, size int) *Queue {
	if size <= 0 {
		size = 1024
	}
	q := &Queue{next: next, ch: make(chan *Exchange, size), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for x := range q.ch {
			q.next.Handle(x)
		}
	}()
	return q
}

// Handle queues x. After Close, x is handed to Next directly.
func (q *Queue) Handle(x *Exchange) {
	q.mu.RLock()
	if !q.shut {
		q.ch <- x
		q.mu.RUnlock()
		return
	}
	q.mu.RUnlock()
	q.next.Handle(x)
}

// Close waits until every queued exchange has been handled.
func (q *Queue) Close() {
	q.once.Do(func() {
		q.mu.Lock()
		q.shut = true
		close(q.ch)
		q.mu.Unlock()
		<-q.done
	})
}
