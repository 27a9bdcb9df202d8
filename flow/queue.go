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

// Queue bounds.
const (
	// DefaultQueueSize is how many exchanges may wait when QueueOptions.Size is 0.
	DefaultQueueSize = 1024
	// DefaultQueueBytes is how many body bytes queued exchanges may hold
	// when QueueOptions.MaxBytes is 0: with 1 MiB bodies, 1024 waiting
	// exchanges could otherwise hold 2 GiB.
	DefaultQueueBytes = 64 << 20
	// exchangeOverhead is what an exchange is counted at besides its bodies
	// (headers, URL, annotations).
	exchangeOverhead = 1 << 10
)

// QueueOptions configure a Queue.
type QueueOptions struct {
	// Size bounds the number of exchanges waiting; <= 0 means DefaultQueueSize.
	Size int
	// MaxBytes bounds the body bytes of the exchanges waiting or being
	// handled; <= 0 means DefaultQueueBytes. One exchange larger than the
	// bound still passes, alone.
	MaxBytes int64
	// OnPanic is called, from the Queue's goroutine, when Next panicked
	// on x; x is then dropped (for the sinks that had not seen it yet) and
	// the next exchange is handled. nil: the panic is swallowed silently,
	// which a program should not want.
	OnPanic func(x *Exchange, p *SinkPanic)
}

// Queue hands exchanges to Next from a single goroutine, in the order
// Handle was called, so the proxy's connections never wait on each other
// for inspection, logging and capture (a lock around the sinks makes 32
// busy connections queue up on it). Handle blocks only when Size exchanges,
// or MaxBytes of bodies, are already waiting, which bounds memory. A panic
// in Next costs that exchange only. Close drains the queue.
type Queue struct {
	next     Sink
	size     int
	maxBytes int64
	onPanic  func(*Exchange, *SinkPanic)
	wake     chan struct{} // capacity 1: "the batch is no longer empty"; closed by Close
	done     chan struct{}

	mu    sync.Mutex
	room  *sync.Cond // signalled when the batch was taken or bytes were freed
	batch []*Exchange
	bytes int64 // body bytes of exchanges queued or being handled
	shut  bool
}

// NewQueue starts the goroutine that feeds next; size <= 0 means
// DefaultQueueSize. Bytes are bounded by DefaultQueueBytes.
func NewQueue(next Sink, size int) *Queue {
	return NewQueueOptions(next, QueueOptions{Size: size})
}

// NewQueueOptions starts the goroutine that feeds next, with the bounds
// and panic handler of o.
func NewQueueOptions(next Sink, o QueueOptions) *Queue {
	if o.Size <= 0 {
		o.Size = DefaultQueueSize
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultQueueBytes
	}
	q := &Queue{next: next, size: o.Size, maxBytes: o.MaxBytes, onPanic: o.OnPanic, wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.room = sync.NewCond(&q.mu)
	go q.loop()
	return q
}

// Weight is what an exchange counts for in a Queue's byte bound: its
// captured bodies plus a fixed overhead.
func Weight(x *Exchange) int64 {
	n := int64(exchangeOverhead + len(x.Request.Body.Data))
	if x.Response != nil {
		n += int64(len(x.Response.Body.Data))
	}
	return n
}

// Handle queues x. After Close, x is handed to Next directly, once the
// queue has drained.
func (q *Queue) Handle(x *Exchange) {
	w := Weight(x)
	q.mu.Lock()
	for !q.shut && (len(q.batch) >= q.size || (q.bytes > 0 && q.bytes+w > q.maxBytes)) {
		q.room.Wait()
	}
	if q.shut {
		q.mu.Unlock()
		<-q.done
		q.handle(x)
		return
	}
	q.batch = append(q.batch, x)
	q.bytes += w
	if len(q.batch) == 1 {
		// Under the lock: Close closes wake under it too.
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
}

// Bytes returns the body bytes (as Weight counts them) of the exchanges
// queued or being handled.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// handle passes x to Next, recovering from a panic.
func (q *Queue) handle(x *Exchange) {
	defer func() {
		if v := recover(); v != nil {
			p, ok := v.(*SinkPanic)
			if !ok {
				p = newSinkPanic(q.next, v)
			}
			if q.onPanic != nil {
				q.onPanic(x, p)
			}
		}
	}()
	q.next.Handle(x)
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
		var w int64
		for i, x := range b {
			w += Weight(x)
			q.handle(x)
			b[i] = nil
		}
		if w > 0 {
			q.mu.Lock()
			q.bytes -= w
			q.room.Broadcast()
			q.mu.Unlock()
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
