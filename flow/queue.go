package flow

import (
	"sync"
	"time"
)

// QueueLinger is how long the Queue's goroutine lets exchanges gather
// after the first one arrives, before it hands them to Next. Under load
// one wake-up of that goroutine then serves many exchanges instead of
// one (a goroutine wake-up costs about as much CPU as a small sink); a
// person watching the log sees no delay.
const QueueLinger = 2 * time.Millisecond

// Queue hands exchanges to Next from a single goroutine, in the order
// Handle was called, so the proxy's connections never wait on each other
// for inspection, logging and capture (a lock around the sinks makes 32
// busy connections queue up on it). Handle blocks only when Size exchanges
// are already waiting, which bounds memory. Close drains the queue.
type Queue struct {
	next Sink
	size int
	wake chan struct{} // capacity 1: "the batch is no longer empty"; closed by Close
	done chan struct{}

	mu    sync.Mutex
	room  *sync.Cond // signalled when the batch was taken
	batch []*Exchange
	shut  bool
}

// NewQueue starts the goroutine that feeds next; size <= 0 means 1024.
func NewQueue(next Sink, size int) *Queue {
	if size <= 0 {
		size = 1024
	}
	q := &Queue{next: next, size: size, wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.room = sync.NewCond(&q.mu)
	go q.loop()
	return q
}

// Handle queues x. After Close, x is handed to Next directly, once the
// queue has drained.
func (q *Queue) Handle(x *Exchange) {
	q.mu.Lock()
	for len(q.batch) >= q.size && !q.shut {
		q.room.Wait()
	}
	if q.shut {
		q.mu.Unlock()
		<-q.done
		q.next.Handle(x)
		return
	}
	q.batch = append(q.batch, x)
	if len(q.batch) == 1 {
		// Under the lock: Close closes wake under it too.
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
}

func (q *Queue) loop() {
	defer close(q.done)
	var spare []*Exchange
	for {
		_, open := <-q.wake
		if open {
			time.Sleep(QueueLinger)
		}
		q.mu.Lock()
		b := q.batch
		q.batch = spare[:0]
		q.room.Broadcast()
		q.mu.Unlock()
		for i, x := range b {
			q.next.Handle(x)
			b[i] = nil
		}
		spare = b
		if !open {
			return
		}
	}
}

// Close waits until every queued exchange has been handled.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.shut {
		q.mu.Unlock()
		<-q.done
		return
	}
	q.shut = true
	q.room.Broadcast()
	close(q.wake)
	q.mu.Unlock()
	<-q.done
}

// Len returns the number of exchanges waiting to be handed to Next.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.batch)
}
