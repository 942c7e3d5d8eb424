package notify

import (
	"context"
	"sync"

	"github.com/allot-dev/allot"
)

// queue is a bounded FIFO of notices that never blocks the producer: when
// full, the oldest notice is dropped to make room. One worker drains it.
type queue struct {
	mu      sync.Mutex
	buf     []allot.Notice // ring
	head, n int
	closing bool
	wake    chan struct{} // a token when something was pushed or the queue closes
}

func newQueue(size int) *queue {
	return &queue{buf: make([]allot.Notice, max(size, 1)), wake: make(chan struct{}, 1)}
}

// push appends n, dropping the oldest notice when the queue is full.
// dropped is that notice; ok is false when the queue is closing (n is not
// queued).
func (q *queue) push(n allot.Notice) (dropped *allot.Notice, ok bool) {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return nil, false
	}
	if q.n == len(q.buf) {
		old := q.buf[q.head]
		dropped = &old
		q.buf[q.head] = allot.Notice{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	q.buf[(q.head+q.n)%len(q.buf)] = n
	q.n++
	q.mu.Unlock()
	q.signal()
	return dropped, true
}

// pop removes the oldest notice; done is true when the queue is closing
// and empty, so its worker may stop.
func (q *queue) pop() (n allot.Notice, ok, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return n, false, q.closing
	}
	n = q.buf[q.head]
	q.buf[q.head] = allot.Notice{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return n, true, false
}

// close stops accepting notices; the worker drains what is queued.
func (q *queue) close() {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.signal()
}

// len is the number of queued notices.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drain calls fn on each queued notice in order until the queue is closed
// and empty or ctx ends; it returns how many notices it left queued.
func (q *queue) drain(ctx context.Context, fn func(allot.Notice)) int {
	for {
		n, ok, done := q.pop()
		switch {
		case done:
			return 0
		case ok:
			fn(n)
			continue
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return q.len()
		}
	}
}
