package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// outageLedger is an idempotent ledger (like the real stores: an event
// appended twice is stored once) that can be taken down and brought back.
type outageLedger struct {
	down atomic.Bool

	mu       sync.Mutex
	byID     map[string]bool
	events   map[string]allot.Event
	order    []string // ids in the order they were first stored
	attempts map[string]int
}

func newOutageLedger() *outageLedger {
	return &outageLedger{byID: map[string]bool{}, events: map[string]allot.Event{}, attempts: map[string]int{}}
}

func (o *outageLedger) Append(_ context.Context, events []allot.Event) (int, error) {
	if o.down.Load() {
		return 0, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, e := range events {
		o.attempts[e.ID]++
		if !o.byID[e.ID] {
			o.byID[e.ID] = true
			o.events[e.ID] = e
			o.order = append(o.order, e.ID)
			n++
		}
	}
	return n, nil
}

func (o *outageLedger) Unpriced(context.Context) ([]allot.UnpricedModel, error) { return nil, nil }

// stored returns how many distinct events the ledger holds.
func (o *outageLedger) stored() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.byID)
}

// checkAll fails unless exactly the events prefix0 .. prefix(n-1) are stored.
func (o *outageLedger) checkAll(t *testing.T, prefix string, n int) {
	t.Helper()
	if got := o.stored(); got != n {
		t.Fatalf("ledger holds %d events, want %d", got, n)
	}
	o.has(t, prefix, n)
}

// has fails unless the events prefix0 .. prefix(n-1) are stored.
func (o *outageLedger) has(t *testing.T, prefix string, n int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("%s%d", prefix, i); !o.byID[id] {
			t.Fatalf("event %s was lost", id)
		}
	}
}

var quiet = slog.New(slog.DiscardHandler)

// event is a usage event worth a spool line.
func event(id string) allot.Event {
	return allot.Event{
		ID: id, Time: time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC),
		Principal: allot.Principal{Org: "acme", Team: "platform", User: "alice"},
		Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
		Tokens: allot.Tokens{Input: 1200, Output: 300}, Cost: allot.MustUSD("0.006"), CostKnown: true, Status: 200,
	}
}

// spoolLines counts the lines of the spool in dir.
func spoolLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, SpoolFile))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{'\n'})
}

// eventually waits for cond or fails with what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSpoolHoldsEventsWhileTheStoreIsDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events int
		batch  int
	}{
		{"one event", 1, 1000},
		{"many batches", 2500, 1000},
		{"small batches", 700, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := newOutageLedger()
			store.down.Store(true)
			w, err := OpenWriter(store, Options{BatchSize: tt.batch, FlushInterval: 5 * time.Millisecond, SpoolDir: dir, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.events {
				w.Record(event(fmt.Sprintf("e%d", i)))
			}
			eventually(t, "every event spooled", func() bool { return w.Spooled() == int64(tt.events) })
			if got := spoolLines(t, dir); got != tt.events {
				t.Fatalf("spool holds %d lines, want %d", got, tt.events)
			}
			if w.Depth() != int64(tt.events) {
				t.Errorf("Depth = %d, want %d (spooled events are not stored yet)", w.Depth(), tt.events)
			}
			store.down.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.Flush(ctx); err != nil {
				t.Fatalf("Flush after the store came back: %v", err)
			}
			store.checkAll(t, "e", tt.events)
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := spoolLines(t, dir); got != 0 {
				t.Errorf("spool still holds %d lines after replay, want it truncated", got)
			}
		})
	}
}

// TestSpoolSurvivesRestart stops a writer while the store is down and
// starts a new one on the same directory: the spool is replayed first,
// before newer events, and every event is stored once.
func TestSpoolSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := newOutageLedger()
	store.down.Store(true)
	w1, err := OpenWriter(store, Options{BatchSize: 100, FlushInterval: 5 * time.Millisecond, SpoolDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1200 {
		w1.Record(event(fmt.Sprintf("old%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	if err := w1.Close(ctx); err != nil {
		t.Fatalf("Close with the store down: %v; want the events spooled and no error", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Close took %v with the store down; spooling should be quick", d)
	}
	if got := spoolLines(t, dir); got != 1200 {
		t.Fatalf("spool holds %d lines after Close, want 1200", got)
	}

	store.down.Store(false)
	w2, err := OpenWriter(store, Options{BatchSize: 100, FlushInterval: 5 * time.Millisecond, SpoolDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		w2.Record(event(fmt.Sprintf("new%d", i)))
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if store.stored() != 1250 {
		t.Fatalf("stored %d events, want 1250", store.stored())
	}
	store.has(t, "old", 1200)
	store.has(t, "new", 50)
	store.mu.Lock()
	defer store.mu.Unlock()
	for i, id := range store.order[:1200] {
		if id[:3] != "old" {
			t.Fatalf("event %d stored was %s; the spool must be replayed before newer events", i, id)
		}
	}
	if got := spoolLines(t, dir); got != 0 {
		t.Errorf("spool holds %d lines after replay, want 0", got)
	}
}

// TestSpoolReplayAfterCrash starts a writer on a spool left by a crash:
// some events were stored before the crash but the spool was never cut,
// and the last line is torn. Every whole event ends up stored once.
func TestSpoolReplayAfterCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var buf bytes.Buffer
	for i := range 10 {
		b, _ := json.Marshal(event(fmt.Sprintf("c%d", i)))
		buf.Write(append(b, '\n'))
	}
	buf.WriteString(`{"id":"torn","time":"2026-11-`) // the crash hit mid-write
	if err := os.WriteFile(filepath.Join(dir, SpoolFile), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newOutageLedger()
	store.Append(context.Background(), []allot.Event{event("c0"), event("c1"), event("c2"), event("c3"), event("c4")})
	w, err := OpenWriter(store, Options{FlushInterval: 5 * time.Millisecond, SpoolDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	store.checkAll(t, "c", 10)
	// Events come back from the spool exactly as they were recorded.
	back, want := store.events["c9"], event("c9")
	if !back.Time.Equal(want.Time) || back.Cost != want.Cost || back.Tokens != want.Tokens || back.Principal != want.Principal || back.Route != want.Route {
		t.Errorf("spool round trip changed the event: %+v, want %+v", back, want)
	}
	if n := spoolLines(t, dir); n != 0 {
		t.Errorf("spool holds %d lines after replay, want 0", n)
	}
}

// hangingLedger never answers until released.
type hangingLedger struct {
	*outageLedger
	release chan struct{}
}

func (h *hangingLedger) Append(ctx context.Context, events []allot.Event) (int, error) {
	select {
	case <-h.release:
		return h.outageLedger.Append(ctx, events)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// TestRecordNeverBlocks records while the store hangs (and would hang for
// an hour): every Record returns, and once the store answers every event
// is stored.
func TestRecordNeverBlocks(t *testing.T) {
	t.Parallel()
	store := &hangingLedger{outageLedger: newOutageLedger(), release: make(chan struct{})}
	w, err := OpenWriter(store, Options{BatchSize: 100, FlushInterval: time.Millisecond, SpoolDir: t.TempDir(), AppendTimeout: time.Hour, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := g; i < 20000; i += 4 {
					w.Record(event(fmt.Sprintf("r%d", i)))
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked while the store hung")
	}
	close(store.release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	store.checkAll(t, "r", 20000)
}

// FuzzSpoolRead feeds arbitrary bytes to the spool reader as a spool file
// left on disk: it must not panic, must make progress to the end, and
// return only events with an id.
func FuzzSpoolRead(f *testing.F) {
	b, _ := json.Marshal(event("seed"))
	f.Add(append(b, '\n'))
	f.Add([]byte("{\"id\":\"a\"}\nnot json\n{\"id\":\"\"}\n{\"id\":\"b\",\"cost_usd\":1e-3}\n{\"id\":\"torn"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SpoolFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sp, err := openSpool(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.close()
		for sp.pending() {
			events, off, _, err := sp.next(7, func([]byte, error) {})
			if err != nil {
				t.Fatal(err)
			}
			if off <= sp.offset {
				t.Fatalf("no progress at offset %d of %d", off, sp.size)
			}
			for _, e := range events {
				if e.ID == "" {
					t.Fatal("an event without an id came out of the spool")
				}
			}
			if err := sp.advance(off, 0); err != nil {
				t.Fatal(err)
			}
		}
	})
}
