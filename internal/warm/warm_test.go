package warm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// warmReporter records what Once asks of a store.
type warmReporter struct {
	mu        sync.Mutex
	queries   []allot.ReportQuery
	warmed    []int
	reportErr error
}

func (w *warmReporter) Report(_ context.Context, q allot.ReportQuery) ([]allot.ReportRow, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queries = append(w.queries, q)
	return nil, w.reportErr
}

func (w *warmReporter) WarmInsights(_ context.Context, days int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warmed = append(w.warmed, days)
	return nil
}

func (w *warmReporter) warmings() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.warmed)
}

// A starting server reads the last 35 days of rollups in one report (so
// the report cache holds every day of the dashboard's default range) and
// packs the insight aggregates of those days; a store that fails is only
// logged.
func TestOnceReadsTheLastDaysOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := &warmReporter{}
	Once(context.Background(), r, slog.New(slog.NewTextHandler(&logs, nil)), slog.LevelInfo)
	if len(r.queries) != 1 || len(r.warmed) != 1 || r.warmed[0] != Days {
		t.Fatalf("queries %+v, insight warmings %v: want one report and one warming of %d days", r.queries, r.warmed, Days)
	}
	q := r.queries[0]
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if len(q.By) != 0 || !q.To.Equal(end) || !q.From.Equal(end.AddDate(0, 0, -Days)) {
		t.Fatalf("warm report %+v, want the %d days up to %s with no dimensions", q, Days, end)
	}
	if !strings.Contains(logs.String(), "store warmed") {
		t.Fatalf("log: %s", logs.String())
	}

	logs.Reset()
	failing := &warmReporter{reportErr: errors.New("database is gone")}
	Once(context.Background(), failing, slog.New(slog.NewTextHandler(&logs, nil)), slog.LevelInfo)
	if len(failing.warmed) != 0 || !strings.Contains(logs.String(), "database is gone") {
		t.Fatalf("after a failed report: warmings %v, log %s", failing.warmed, logs.String())
	}
}

// A running server warms its store again and again (a new day, or a late
// call into a past day, would leave the next insights to rebuild), and
// stops when the server does.
func TestKeepRepeatsUntilStopped(t *testing.T) {
	t.Parallel()
	r := &warmReporter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Keep(ctx, r, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for r.warmings() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("warmed %d times in 5 s at a 1 ms interval", r.warmings())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Keep still running after its context ended")
	}
}
