// Package ledger moves usage events from the request hot path to storage:
// Record never blocks on disk, a background loop appends in batches, and
// nothing recorded is dropped (design invariant 1).
package ledger

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// Options tune a Writer.
type Options struct {
	BatchSize     int           // events per append; default 1000
	FlushInterval time.Duration // longest an event waits before it is written; default 200ms
	Logger        *slog.Logger
	// OnAppend, if set, is called after each successful batch with its events (e.g. metrics).
	OnAppend func(events []allot.Event)
}

// Writer batches events into a Ledger off the hot path.
type Writer struct {
	store allot.Ledger
	opts  Options

	mu      sync.Mutex
	pending []allot.Event // events recorded but not yet taken by the loop
	wake    chan struct{}
	depth   atomic.Int64 // recorded and not yet stored

	closing chan struct{}
	done    chan struct{}
	closed  atomic.Bool
}

// NewWriter starts a writer over store; call Close to flush and stop it.
func NewWriter(store allot.Ledger, opts Options) *Writer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Writer{store: store, opts: opts, wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Record queues e for storage. It never blocks on disk and never drops an
// event: the queue grows in memory if the store is slow or down.
func (w *Writer) Record(e allot.Event) {
	w.mu.Lock()
	w.pending = append(w.pending, e)
	n := len(w.pending)
	w.mu.Unlock()
	w.depth.Add(1)
	if n >= w.opts.BatchSize {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Depth is the number of events recorded and not yet stored.
func (w *Writer) Depth() int64 { return w.depth.Load() }

// Flush blocks until every event recorded before the call is stored or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	select {
	case w.wake <- struct{}{}:
	default:
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for w.depth.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Close stores everything still queued and stops the loop. It retries a
// failing store until ctx ends; what is left then is logged as lost.
func (w *Writer) Close(ctx context.Context) error {
	if w.closed.Swap(true) {
		<-w.done
		return nil
	}
	close(w.closing)
	select {
	case <-w.done:
	case <-ctx.Done():
	}
	if n := w.depth.Load(); n > 0 {
		w.opts.Logger.Error("ledger writer stopped with events unstored", "events", n)
		return ctx.Err()
	}
	return nil
}

func (w *Writer) take() []allot.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), w.opts.BatchSize)
	if n == 0 {
		return nil
	}
	batch := make([]allot.Event, n)
	copy(batch, w.pending)
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:])
	w.pending = w.pending[:rest]
	return batch
}

func (w *Writer) loop() {
	defer close(w.done)
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	closing := false
	for {
		for {
			batch := w.take()
			if batch == nil {
				break
			}
			w.store1(batch)
		}
		if closing {
			return
		}
		select {
		case <-ticker.C:
		case <-w.wake:
		case <-w.closing:
			closing = true
		}
	}
}

// store1 appends one batch, retrying with backoff until it is stored.
func (w *Writer) store1(batch []allot.Event) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.store.Append(ctx, batch)
		cancel()
		if err == nil {
			w.depth.Add(-int64(len(batch)))
			if w.opts.OnAppend != nil {
				w.opts.OnAppend(batch)
			}
			return
		}
		w.opts.Logger.Error("append usage events; will retry", "events", len(batch), "attempt", attempt, "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
