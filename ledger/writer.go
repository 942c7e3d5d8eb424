// Package ledger moves usage events from the request hot path to storage:
// Record never blocks on disk, a background loop appends in batches, and
// nothing recorded is dropped (design invariant 1). With a spool directory,
// batches the store refuses are written to a local file (fsynced) and
// replayed in order when it is back, also after a restart.
package ledger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// Options tune a Writer.
type Options struct {
	// BatchSize caps the events per append; default 5000. Under light load
	// batches are what FlushInterval gathers; near saturation larger ones
	// store more per second (SQLite: ~40k events/s at 1,000, ~56k at
	// 5,000 on a loaded 2-core machine; BenchmarkAppend in the stores).
	BatchSize     int
	FlushInterval time.Duration // longest an event waits before it is written; default 200ms
	Logger        *slog.Logger
	// OnAppend, if set, is called after each successful batch with its events (e.g. metrics).
	OnAppend func(events []allot.Event)
	// SpoolDir, if set, is a local directory where batches wait on disk
	// (SpoolFile, JSON lines, fsynced) while the store fails, instead of
	// in memory; they are replayed in order when it answers again and at
	// the next start, so a crash or restart during an outage loses
	// nothing. One writer per directory.
	SpoolDir string
	// AppendTimeout bounds one Append; default 30s.
	AppendTimeout time.Duration
	// JournalDir, if set, is a local directory where Record writes each
	// event before it returns (see journal), so events recorded and not
	// yet stored survive the process being killed: the next writer on
	// the directory stores them. One writer per directory.
	JournalDir string
}

// Writer batches events into a Ledger off the hot path.
type Writer struct {
	store     allot.Ledger
	opts      Options
	spool     *spool        // nil without Options.SpoolDir; used by the loop only
	recovered []allot.Event // events of the intents an earlier run left open

	mu      sync.Mutex
	pending []allot.Event // events recorded but not yet taken by the loop
	journal *journal      // nil without Options.JournalDir
	wake    chan struct{}
	depth   atomic.Int64 // recorded and not yet stored (spooled ones included)
	mem     atomic.Int64 // recorded and neither stored nor spooled
	spooled atomic.Int64 // waiting in the spool

	nextReplay time.Time // loop only: when to try the spool again
	backoff    time.Duration

	closing chan struct{}
	done    chan struct{}
	closed  atomic.Bool
}

// Backoff between retries of a failing store.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// OpenWriter starts a writer over store, first opening the spool in
// opts.SpoolDir (if set) and queueing what an earlier run left in it for
// replay. Call Close to flush and stop it.
func OpenWriter(store allot.Ledger, opts Options) (*Writer, error) {
	var sp *spool
	if opts.SpoolDir != "" {
		var err error
		if sp, err = openSpool(opts.SpoolDir); err != nil {
			return nil, err
		}
	}
	var j *journal
	var left, recovered []allot.Event
	if opts.JournalDir != "" {
		logger := opts.Logger
		if logger == nil {
			logger = slog.Default()
		}
		var err error
		j, left, recovered, err = openJournal(opts.JournalDir, func(path string, line []byte, err error) {
			logger.Error("ledger journal: skipping a line that is not an event", "path", path, "line", string(line[:min(len(line), 200)]), "err", err)
		})
		if err != nil {
			if sp != nil {
				sp.close()
			}
			return nil, err
		}
		if len(left) > 0 {
			logger.Info("ledger journal holds events recorded by an earlier run; storing them", "events", len(left), "dir", opts.JournalDir)
		}
		if len(recovered) > 0 {
			logger.Warn("calls were in flight when an earlier run died; the provider may bill them, so each is recorded as an estimated event with status 444",
				"events", len(recovered), "dir", opts.JournalDir)
			left = append(left, recovered...)
		}
	}
	w := start(store, opts, sp, j, left)
	w.recovered = recovered
	return w, nil
}

// Recovered returns the events this writer recovered from intents an
// earlier run left open (calls in flight when it died), also queued for
// storage: with budget counters shared by replicas, nothing else counts
// them (see budget.Unrebuilt).
func (w *Writer) Recovered() []allot.Event { return slices.Clone(w.recovered) }

// NewWriter is OpenWriter for callers that cannot handle an error: a spool
// that cannot be opened is logged and the writer keeps failed batches in
// memory instead.
func NewWriter(store allot.Ledger, opts Options) *Writer {
	w, err := OpenWriter(store, opts)
	if err != nil {
		if opts.Logger == nil {
			opts.Logger = slog.Default()
		}
		opts.Logger.Error("ledger spool unavailable; failed batches wait in memory", "err", err)
		opts.SpoolDir, opts.JournalDir = "", ""
		w, _ = OpenWriter(store, opts)
	}
	return w
}

// start fills defaults and starts the loop.
func start(store allot.Ledger, opts Options, sp *spool, j *journal, left []allot.Event) *Writer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.AppendTimeout <= 0 {
		opts.AppendTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Writer{store: store, opts: opts, spool: sp, journal: j, pending: left, backoff: minBackoff,
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	w.depth.Add(int64(len(left)))
	w.mem.Add(int64(len(left)))
	if sp != nil && sp.events > 0 {
		w.depth.Add(sp.events)
		w.spooled.Add(sp.events)
		opts.Logger.Info("ledger spool holds events from an earlier run; replaying them first", "events", sp.events, "path", sp.path)
	}
	go w.loop()
	return w
}

// Record queues e for storage. It never waits for the disk and never
// drops an event: the queue grows in memory if the store is slow (and the
// spool, if any, takes what the store refuses). With a journal, e is in
// the journal when Record returns, and it completes the intent of e.ID.
// Over-long labels are capped first (allot.CapLabels), so neither memory,
// journal nor spool holds them.
func (w *Writer) Record(e allot.Event) {
	e.CapLabels()
	var line *bytes.Buffer
	if w.journal != nil {
		var err error
		if line, err = encodeLine(&e); err != nil {
			w.opts.Logger.Error("ledger journal: event kept in memory only", "err", err)
		}
	}
	w.mu.Lock()
	if line != nil {
		w.journalWrite(line.Bytes())
		lineBuffers.Put(line)
	}
	if w.journal != nil {
		w.journal.complete(e.ID)
	}
	w.pending = append(w.pending, e)
	n := len(w.pending)
	w.mu.Unlock()
	w.depth.Add(1)
	w.mem.Add(1)
	if n >= w.opts.BatchSize {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Intend journals the intent of a call about to be forwarded (see
// allot.IntentRecorder): e is the event to store, flagged Estimated with
// status allot.StatusCrashed, if the process dies before Record is called
// with an event of e.ID. Like Record it costs one JSON encoding and one
// write(2), and waits for no disk: the intent outlives the process (kill
// -9, OOM) in the kernel's page cache, not a power cut. Without a journal
// it does nothing.
func (w *Writer) Intend(e allot.Event) {
	if w.journal == nil {
		return
	}
	buf, err := encodeIntent(&e)
	if err != nil {
		w.opts.Logger.Error("ledger journal: call forwarded without an intent", "err", err)
		return
	}
	w.mu.Lock()
	j := w.journal
	if err := j.intend(e.ID, buf); err != nil {
		if !j.failed {
			w.opts.Logger.Error("ledger journal write failed; intents wait in memory only until it works again", "err", err)
		}
		j.failed = true
	} else {
		j.failed = false
	}
	w.mu.Unlock()
}

// Depth is the number of events recorded and not yet stored, including
// those waiting in the spool.
func (w *Writer) Depth() int64 { return w.depth.Load() }

// Spooled is the number of events waiting in the spool for the store.
func (w *Writer) Spooled() int64 { return w.spooled.Load() }

// Flush blocks until every event recorded before the call is stored (not
// merely spooled) or ctx ends.
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

// Close writes everything still queued to the store, or to the spool when
// the store fails, and stops the loop. Without a spool it retries a
// failing store until ctx ends; what is left then is logged as lost.
// Events left in the spool are replayed by the next writer on SpoolDir.
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
	if n := w.mem.Load(); n > 0 {
		w.opts.Logger.Error("ledger writer stopped with events unstored", "events", n)
		return ctx.Err()
	}
	select {
	case <-w.done:
		if w.journal != nil {
			w.mu.Lock()
			w.journal.close()
			w.mu.Unlock()
		}
		if w.spool != nil {
			if n := w.spooled.Load(); n > 0 {
				w.opts.Logger.Warn("ledger writer stopped with events in the spool; the next start replays them", "events", n, "path", w.spool.path)
			}
			w.spool.close()
		}
	default:
	}
	return nil
}

// journalWrite writes one line to the journal; a failure is logged once
// until a write succeeds again, and the event stays in memory. Callers
// hold w.mu.
func (w *Writer) journalWrite(line []byte) {
	j := w.journal
	if err := j.write(line); err != nil {
		if !j.failed {
			w.opts.Logger.Error("ledger journal write failed; events wait in memory only until it works again", "err", err)
		}
		j.failed = true
		return
	}
	j.failed = false
}

// take hands the loop the next batch of pending events. When it takes the
// last one it starts a new journal segment; when none are pending it
// returns the closed segments, whose events the loop has all made safe.
func (w *Writer) take() (batch []allot.Event, safe []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), w.opts.BatchSize)
	if n == 0 {
		if w.journal != nil {
			safe = w.journal.takeClosed()
		}
		return nil, safe
	}
	batch = make([]allot.Event, n)
	copy(batch, w.pending)
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:])
	w.pending = w.pending[:rest]
	if rest == 0 && w.journal != nil {
		if err := w.journal.rotate(); err != nil {
			w.opts.Logger.Error("ledger journal: could not start a new segment", "err", err)
		}
	}
	return batch, nil
}

// forget deletes journal segments whose events are stored or spooled.
func (w *Writer) forget(segments []string) {
	for _, path := range segments {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.opts.Logger.Error("ledger journal: could not delete a stored segment; its events will be stored again at the next start (harmless)", "path", path, "err", err)
		}
	}
}

// spooling reports whether events wait in the spool (new batches then
// queue behind them, keeping the order).
func (w *Writer) spooling() bool { return w.spool != nil && w.spool.pending() }

func (w *Writer) loop() {
	defer close(w.done)
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	closing := false
	for {
		more := false
		if w.spooling() && !time.Now().Before(w.nextReplay) {
			more = w.replay(10)
		}
		for {
			batch, safe := w.take()
			if batch == nil {
				w.forget(safe)
				break
			}
			w.persist(batch)
		}
		if closing {
			// One last try, so a store that is up is left with everything.
			for w.spooling() && w.replay(10) {
			}
			return
		}
		if more {
			continue
		}
		var retry <-chan time.Time
		var timer *time.Timer
		if w.spooling() {
			timer = time.NewTimer(time.Until(w.nextReplay))
			retry = timer.C
		}
		select {
		case <-ticker.C:
		case <-w.wake:
		case <-retry:
		case <-w.closing:
			closing = true
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// append stores one batch with the append timeout.
func (w *Writer) append(batch []allot.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.AppendTimeout)
	defer cancel()
	_, err := w.store.Append(ctx, batch)
	if err == nil && w.opts.OnAppend != nil {
		w.opts.OnAppend(batch)
	}
	return err
}

// persist makes one batch safe: stored, or spooled when the store fails
// (or events already wait in the spool). Without a spool it retries the
// store with backoff until it is stored.
func (w *Writer) persist(batch []allot.Event) {
	n := int64(len(batch))
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		if !w.spooling() {
			err := w.append(batch)
			if err == nil {
				w.depth.Add(-n)
				w.mem.Add(-n)
				return
			}
			if w.spool == nil {
				w.opts.Logger.Error("append usage events; will retry", "events", len(batch), "attempt", attempt, "err", err)
				time.Sleep(backoff)
				backoff = min(backoff*2, maxBackoff)
				continue
			}
			w.opts.Logger.Error("append usage events; spooling them to disk until the store is back", "events", len(batch), "err", err)
			w.failed()
		}
		err := w.spool.write(batch)
		if err == nil {
			w.mem.Add(-n)
			w.spooled.Add(n)
			return
		}
		w.opts.Logger.Error("spool usage events; will retry", "events", len(batch), "attempt", attempt, "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, maxBackoff)
	}
}

// failed schedules the next replay after a failing append.
func (w *Writer) failed() {
	w.nextReplay = time.Now().Add(w.backoff)
	w.backoff = min(w.backoff*2, maxBackoff)
}

// replay appends up to chunks batches from the spool to the store, in
// order. It reports whether more can be replayed right away; after a
// failing append it schedules the next try with backoff.
func (w *Writer) replay(chunks int) bool {
	for range chunks {
		events, off, lines, err := w.spool.next(w.opts.BatchSize, func(line []byte, err error) {
			w.opts.Logger.Error("ledger spool: skipping a line that is not an event", "line", string(line[:min(len(line), 200)]), "err", err)
		})
		if err != nil {
			w.opts.Logger.Error("replay ledger spool; will retry", "err", err)
			w.failed()
			return false
		}
		if len(events) > 0 {
			if err := w.append(events); err != nil {
				w.opts.Logger.Error("replay ledger spool; will retry", "events", len(events), "err", err)
				w.failed()
				return false
			}
		}
		if err := w.spool.advance(off, lines); err != nil {
			w.opts.Logger.Error("ledger spool: events stored, but the spool could not be cut; they will be replayed again (harmless)", "err", err)
		}
		w.depth.Add(-int64(lines))
		w.spooled.Add(-int64(lines))
		w.nextReplay, w.backoff = time.Time{}, minBackoff
		if !w.spool.pending() {
			w.opts.Logger.Info("ledger spool replayed; the store has every event")
			return false
		}
	}
	return true
}
