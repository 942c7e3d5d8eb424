package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// journalFiles lists the journal segments in dir.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, journalPrefix+"*"+journalSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestJournalOutlivesAKilledWriter: a writer whose process dies before it
// stored what it recorded (here: its store hangs and it is abandoned, as
// kill -9 would leave it) loses nothing: the next writer on the journal
// directory stores every event exactly once, including those the first
// one had stored already, and then deletes the segments.
func TestJournalOutlivesAKilledWriter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead := &hangingLedger{outageLedger: newOutageLedger(), release: make(chan struct{})}
	a, err := OpenWriter(dead, Options{BatchSize: 100, FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(dead.release); _ = a.Close(context.Background()) })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < 2000; i += 4 {
				a.Record(event(fmt.Sprintf("k%d", i)))
			}
		})
	}
	wg.Wait()

	// The new process's store already has some of them.
	store := newOutageLedger()
	store.Append(context.Background(), []allot.Event{event("k0"), event("k1"), event("k1999")})
	b, err := OpenWriter(store, Options{FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	store.checkAll(t, "k", 2000)
	back, want := store.events["k7"], event("k7")
	if !back.Time.Equal(want.Time) || back.Cost != want.Cost || back.Tokens != want.Tokens || back.Principal != want.Principal {
		t.Errorf("journal round trip changed the event: %+v, want %+v", back, want)
	}
	// Once stored, the dead writer's segments are gone (the loop deletes
	// them at its next idle turn).
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := 0
		for _, f := range journalFiles(t, dir) {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 && !strings.HasSuffix(f, fmt.Sprintf("%020d%s", b.journal.seq, journalSuffix)) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stored journal segments were not deleted: %v", left, journalFiles(t, dir))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestJournalKeepsOnlyWhatIsNotStored: while the store works, the journal
// holds at most the current segment, and a clean Close leaves nothing.
func TestJournalKeepsOnlyWhatIsNotStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := newOutageLedger()
	w, err := OpenWriter(store, Options{BatchSize: 50, FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 5 {
		for i := range 300 {
			w.Record(event(fmt.Sprintf("s%d", round*300+i)))
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	store.checkAll(t, "s", 1500)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Segments closed by the last take are deleted at the loop's next
	// idle turn, which Close ends with.
	for _, f := range journalFiles(t, dir) {
		evs, _, err := readJournal(f, func([]byte, error) {})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			t.Errorf("segment %s still holds %d stored events after Close", filepath.Base(f), len(evs))
		}
	}
}

// TestJournalSkipsATornLine: a write cut by a crash leaves a partial last
// line; the events before it are stored and the torn one is skipped.
func TestJournalSkipsATornLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	for i := range 5 {
		line, _ := json.Marshal(event(fmt.Sprintf("t%d", i)))
		b.Write(append(line, '\n'))
	}
	b.WriteString(`{"id":"torn","ti`)
	if err := os.WriteFile(filepath.Join(dir, journalPrefix+"00000000000000000007"+journalSuffix), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newOutageLedger()
	w, err := OpenWriter(store, Options{FlushInterval: time.Millisecond, JournalDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	store.checkAll(t, "t", 5)
	if w.journal.seq != 8 {
		t.Errorf("new segment %d, want 8 (after the one left)", w.journal.seq)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRecord measures Record with and without the journal: the
// journal's cost on the request path is one JSON encoding and one write(2).
func BenchmarkRecord(b *testing.B) {
	for _, journal := range []bool{false, true} {
		b.Run(fmt.Sprintf("journal=%v", journal), func(b *testing.B) {
			opts := Options{FlushInterval: time.Millisecond, Logger: quiet}
			if journal {
				opts.JournalDir = b.TempDir()
			}
			w, err := OpenWriter(newOutageLedger(), opts)
			if err != nil {
				b.Fatal(err)
			}
			e := event("bench")
			b.ReportAllocs()
			for b.Loop() {
				w.Record(e)
			}
			b.StopTimer()
			_ = w.Close(context.Background())
		})
	}
}
