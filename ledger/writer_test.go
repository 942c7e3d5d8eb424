package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// flakyLedger fails the first failures appends, then stores events by id.
type flakyLedger struct {
	mu       sync.Mutex
	failures int
	byID     map[string]int
	batches  int
}

func (f *flakyLedger) Append(_ context.Context, events []allot.Event) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return 0, errors.New("database is locked")
	}
	f.batches++
	n := 0
	for _, e := range events {
		if f.byID[e.ID] == 0 {
			n++
		}
		f.byID[e.ID]++
	}
	return n, nil
}

func (f *flakyLedger) Unpriced(context.Context) ([]allot.UnpricedModel, error) { return nil, nil }

func TestWriterStoresEveryEventOnceDespiteFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		events   int
		failures int
	}{
		{"few events", 3, 0},
		{"many batches", 5000, 0},
		{"store fails then recovers", 2500, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &flakyLedger{failures: tt.failures, byID: map[string]int{}}
			w := NewWriter(store, Options{BatchSize: 1000, FlushInterval: 10 * time.Millisecond})
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < tt.events; i += 4 {
						w.Record(allot.Event{ID: fmt.Sprintf("e%d", i)})
					}
				}()
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if len(store.byID) != tt.events {
				t.Fatalf("stored %d distinct events, want %d", len(store.byID), tt.events)
			}
			for id, n := range store.byID {
				if n != 1 {
					t.Fatalf("event %s stored %d times", id, n)
				}
			}
			if w.Depth() != 0 {
				t.Fatalf("depth after close = %d", w.Depth())
			}
		})
	}
}

func TestFlushWaitsForStorage(t *testing.T) {
	t.Parallel()
	store := &flakyLedger{byID: map[string]int{}}
	w := NewWriter(store, Options{FlushInterval: time.Hour})
	defer w.Close(context.Background())
	w.Record(allot.Event{ID: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.byID["a"] != 1 {
		t.Fatal("Flush returned before the event was stored")
	}
}
