package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// intent is what the gateway journals before forwarding call id: the
// request's input estimate and the reservation's worst-case output.
func intent(id string) allot.Event {
	e := event(id)
	e.Tokens = allot.Tokens{Input: 40, Output: 4096}
	e.Cost, e.Status = allot.MustUSD("0.041"), 0
	return e
}

// reopen opens a writer on dir over store, as the next process would, and
// waits until it stored what the journal held.
func reopen(t *testing.T, dir string, store allot.Ledger) *Writer {
	t.Helper()
	w, err := OpenWriter(store, Options{FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

// checkRecovered fails unless the store holds call id as the estimated
// event of its intent, with status StatusCrashed.
func checkRecovered(t *testing.T, store *outageLedger, id string) {
	t.Helper()
	store.mu.Lock()
	got, ok := store.events[id]
	store.mu.Unlock()
	want := intent(id)
	switch {
	case !ok:
		t.Errorf("call %s, forwarded and never completed, has no event", id)
	case !got.Estimated || got.Status != allot.StatusCrashed:
		t.Errorf("call %s: estimated=%v status=%d, want estimated with status %d", id, got.Estimated, got.Status, allot.StatusCrashed)
	case got.Tokens != want.Tokens || got.Cost != want.Cost || got.Principal != want.Principal || !got.Time.Equal(want.Time):
		t.Errorf("call %s recovered as %+v, want its intent %+v", id, got, want)
	}
}

// checkReal fails unless the store holds call id as its recorded event.
func checkReal(t *testing.T, store *outageLedger, id string) {
	t.Helper()
	store.mu.Lock()
	got, ok := store.events[id]
	store.mu.Unlock()
	if !ok || got.Estimated || got.Status != 200 || got.Tokens != event(id).Tokens {
		t.Errorf("call %s: stored %+v (present %v), want its recorded event", id, got, ok)
	}
}

// TestIntentsWithoutTheirEventAreRecovered: a writer whose process dies
// (its store hangs and it is abandoned, as kill -9 leaves it) with calls
// in flight: the next writer on the directory stores an estimated event
// for each call whose intent was journaled and whose event was not, and
// the recorded event, not an estimate, for each call that completed.
func TestIntentsWithoutTheirEventAreRecovered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead := &hangingLedger{outageLedger: newOutageLedger(), release: make(chan struct{})}
	a, err := OpenWriter(dead, Options{BatchSize: 3, FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(dead.release); _ = a.Close(context.Background()) })
	for i := range 10 {
		a.Intend(intent(fmt.Sprintf("c%d", i)))
	}
	for i := 0; i < 10; i += 2 {
		a.Record(event(fmt.Sprintf("c%d", i))) // the even calls completed
	}
	a.Record(event("otlp")) // an event of no intent

	store := newOutageLedger()
	reopen(t, dir, store)
	if got := store.stored(); got != 11 {
		t.Fatalf("ledger holds %d events, want 11 (10 calls and 1 reported)", got)
	}
	for i := range 10 {
		if id := fmt.Sprintf("c%d", i); i%2 == 0 {
			checkReal(t, store, id)
		} else {
			checkRecovered(t, store, id)
		}
	}
}

// TestOpenIntentsOutliveRotation: segments are deleted once their events
// are stored, but an intent still open is copied into the next segment,
// so a call in flight across many rotations is recovered, once; a call
// that completed after its intent was copied is not.
func TestOpenIntentsOutliveRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := newOutageLedger()
	w, err := OpenWriter(store, Options{BatchSize: 5, FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	first := w.journal.path(w.journal.seq)
	w.Intend(intent("long"))    // in flight throughout
	w.Intend(intent("settled")) // completes after some rotations
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 6 {
		for i := range 20 {
			w.Record(event(fmt.Sprintf("r%d", round*20+i)))
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if round == 3 {
			w.Record(event("settled"))
		}
	}
	eventually(t, "the first segment to be deleted once its events were stored", func() bool {
		_, err := os.Stat(first)
		return os.IsNotExist(err)
	})
	// The process dies: whatever the directory holds now is what the next
	// one finds (Close keeps a segment that holds open intents).
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again := newOutageLedger()
	reopen(t, dir, again)
	if got := again.stored(); got != 1 {
		t.Errorf("the next writer stored %d events, want only the call in flight", got)
	}
	checkRecovered(t, again, "long")
	if again.attempts["settled"] != 0 {
		t.Errorf("the completed call was stored again as an estimate")
	}
}

// TestRecoveryIsIdempotent: a crash while the recovered events are being
// stored recovers them again, and the store keeps each once.
func TestRecoveryIsIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead := &hangingLedger{outageLedger: newOutageLedger(), release: make(chan struct{})}
	a, err := OpenWriter(dead, Options{FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a.Intend(intent("x"))
	a.Intend(intent("x")) // the same call journaled twice counts once
	a.Intend(intent("y"))
	// The next process dies too, before it stored anything.
	dead2 := &hangingLedger{outageLedger: newOutageLedger(), release: make(chan struct{})}
	b, err := OpenWriter(dead2, Options{FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Depth(); got != 2 {
		t.Errorf("second writer queued %d recovered events, want 2", got)
	}
	t.Cleanup(func() {
		close(dead.release)
		close(dead2.release)
		_ = a.Close(context.Background())
		_ = b.Close(context.Background())
	})
	store := newOutageLedger()
	store.Append(context.Background(), []allot.Event{event("y")}) // y's real event did land
	reopen(t, dir, store)
	if got := store.stored(); got != 2 {
		t.Fatalf("ledger holds %d events, want 2", got)
	}
	checkRecovered(t, store, "x")
	checkReal(t, store, "y") // the first stored wins: the real one
}

// TestTornIntentIsSkipped: a crash mid-write leaves a partial last line;
// the intents and events before it are read, the torn one is skipped.
func TestTornIntentIsSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	for _, id := range []string{"i0", "i1", "i2"} {
		e := intent(id)
		buf, err := encodeIntent(&e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(buf.Bytes())
	}
	e := event("i1")
	line, err := encodeLine(&e)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(line.Bytes())
	e = intent("torn")
	torn, _ := encodeIntent(&e)
	b.Write(torn.Bytes()[:torn.Len()/2])
	if err := os.WriteFile(filepath.Join(dir, journalPrefix+"00000000000000000003"+journalSuffix), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newOutageLedger()
	reopen(t, dir, store)
	if got := store.stored(); got != 3 {
		t.Fatalf("ledger holds %d events, want 3", got)
	}
	checkRecovered(t, store, "i0")
	checkReal(t, store, "i1")
	checkRecovered(t, store, "i2")
}

// TestIntentWithoutJournalIsANoop: a writer without a journal directory
// keeps no intents.
func TestIntentWithoutJournalIsANoop(t *testing.T) {
	t.Parallel()
	w, err := OpenWriter(newOutageLedger(), Options{FlushInterval: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w.Intend(intent("x"))
	if w.Depth() != 0 {
		t.Errorf("an intent was queued as an event")
	}
	_ = w.Close(context.Background())
}

// BenchmarkIntend measures what an intent adds to a journaled call: one
// JSON encoding and one write(2) before the call, and completing it when
// its event is recorded (Record alone is BenchmarkRecord/journal=true).
func BenchmarkIntend(b *testing.B) {
	w, err := OpenWriter(newOutageLedger(), Options{FlushInterval: time.Millisecond, JournalDir: b.TempDir(), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	in, e := intent("bench"), event("bench")
	b.ReportAllocs()
	for b.Loop() {
		w.Intend(in)
		w.Record(e)
	}
	b.StopTimer()
	_ = w.Close(context.Background())
}

// FuzzJournalRecovery feeds arbitrary bytes to the start of a writer as a
// journal segment left on disk: reading it must not panic, every event
// and recovered intent must have an id, no call may come out twice, and a
// recovered call is never one the segment also holds an event for.
func FuzzJournalRecovery(f *testing.F) {
	in, ev := intent("seed"), event("done")
	ib, _ := encodeIntent(&in)
	eb, _ := encodeLine(&ev)
	f.Add(append(append([]byte{}, ib.Bytes()...), eb.Bytes()...))
	f.Add([]byte("{\"intent\":{\"id\":\"a\"}}\n{\"intent\":{\"id\":\"a\"}}\n{\"id\":\"a\"}\n{\"intent\":null}\n{\"intent\":{\"id\":\"\"}}\n{\"intent\":{\"id\":\"b\",\"cost_usd\":1e-3}}\n{\"intent\":{\"id\":\"torn"))
	f.Add([]byte("\n\n{\"intent\":\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, journalPrefix+"00000000000000000001"+journalSuffix), data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, left, recovered, err := openJournal(dir, func(string, []byte, error) {})
		if err != nil {
			t.Fatal(err)
		}
		j.close()
		recorded := map[string]bool{}
		for _, e := range left {
			if e.ID == "" {
				t.Fatal("an event without an id came out of the journal")
			}
			recorded[e.ID] = true
		}
		seen := map[string]bool{}
		for _, e := range recovered {
			switch {
			case e.ID == "":
				t.Fatal("an intent without an id was recovered")
			case seen[e.ID]:
				t.Fatalf("call %s recovered twice", e.ID)
			case recorded[e.ID]:
				t.Fatalf("call %s recovered although its event is in the journal", e.ID)
			case !e.Estimated || e.Status != allot.StatusCrashed:
				t.Fatalf("call %s recovered without the estimated flag and status 444", e.ID)
			}
			seen[e.ID] = true
		}
	})
}
