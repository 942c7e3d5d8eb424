package sqlite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// Appends from several goroutines and reports running alongside them must
// neither fail nor lose or double count an event.
func TestConcurrentAppendAndReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := genEvents(5, 2000, start, 24*time.Hour, smallWorld)
	q := allot.ReportQuery{By: []allot.Dimension{allot.DimTeam}, From: start, To: start.Add(24 * time.Hour)}

	var wg sync.WaitGroup
	var total sync.Map
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() { // each writer sends every event, in its own batches: each id must count once
			defer wg.Done()
			for b := w * 100; b < len(events)+w*100; b += 250 {
				lo, hi := b%len(events), min(b%len(events)+250, len(events))
				n, err := db.Append(ctx, events[lo:hi])
				if err != nil {
					t.Error(err)
					return
				}
				total.Store([2]int{w, b}, n)
			}
		}()
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := db.Report(ctx, q); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Events(ctx, start, start.Add(time.Hour), 50); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()

	inserted := 0
	total.Range(func(_, v any) bool { inserted += v.(int); return true })
	if inserted != len(events) {
		t.Errorf("appends counted %d new events in all, want %d", inserted, len(events))
	}
	assertReportMatches(t, db, events, q)
}
