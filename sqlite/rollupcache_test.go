package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
)

// cacheQueries are reports that between them keep every kind of unit in
// the cache over [from, to): whole days, hours at both ends, today's
// hours, hour totals, filtered and not.
func cacheQueries(from, to time.Time) []allot.ReportQuery {
	q := func(by []allot.Dimension, from, to time.Time, filter map[allot.Dimension]string) allot.ReportQuery {
		return allot.ReportQuery{By: by, From: from, To: to, Filter: filter}
	}
	mid := from.Add(to.Sub(from) / 3).Add(17 * time.Minute)
	return []allot.ReportQuery{
		q(nil, from, to, nil),
		q([]allot.Dimension{allot.DimDay, allot.DimTask}, from, to, nil),
		q([]allot.Dimension{allot.DimUser, allot.DimModel, allot.DimTask}, mid, to, nil),
		q([]allot.Dimension{allot.DimHour}, from, to, nil),
		q([]allot.Dimension{allot.DimHour, allot.DimTeam}, mid, to, nil),
		q([]allot.Dimension{allot.DimDay}, from, mid, map[allot.Dimension]string{allot.DimTeam: "team01"}),
		q([]allot.Dimension{allot.DimTask}, mid, to, map[allot.Dimension]string{allot.DimApp: "app1"}),
	}
}

// assertAll checks every cache query against the events.
func assertAll(t *testing.T, db *DB, events []allot.Event, from, to time.Time) {
	t.Helper()
	for _, q := range cacheQueries(from, to) {
		assertReportMatches(t, db, events, q)
	}
}

// untag gives every third event the untagged task and one of two system
// prompts, for relabelling.
func untag(events []allot.Event) {
	for i := range events {
		if i%3 == 0 {
			events[i].Task = allot.UntaggedTask
			events[i].SystemFP = uint64(1 + i%2)
		}
	}
}

// relabel applies a relabelling to the expected events.
func relabel(events []allot.Event, fp uint64, task string, from, to time.Time) {
	for i := range events {
		e := &events[i]
		if e.Task == allot.UntaggedTask && e.SystemFP == fp && !e.Time.Before(from) && e.Time.Before(to) {
			e.Task = task
		}
	}
}

// Reports keep days and hours in memory: whatever changes the rollups
// afterwards (late events for past hours and days, today's, a relabel, the
// same from another process sharing the file) shows in the next report.
func TestReportCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := Open(ctx, path) // another process
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	now := time.Now().UTC()
	start := now.Add(-80 * time.Hour)
	from, to := start.Add(3*time.Hour+30*time.Minute), now.Add(time.Hour)
	events := genEvents(31, 1500, start, now.Sub(start)-time.Minute, smallWorld)
	untag(events)
	mustAppend(t, db, events[:1000])
	assertAll(t, db, events[:1000], from, to)
	assertAll(t, db, events[:1000], from, to) // from the cache

	stored := 1000
	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"late events in this process", func(t *testing.T) { mustAppend(t, db, events[800:1250]); stored = 1250 }},
		{"late events in another process", func(t *testing.T) { mustAppend(t, other, events[1250:]); stored = len(events) }},
		{"relabel in this process", func(t *testing.T) {
			if _, err := db.RelabelTasks(ctx, allot.TaskLabels{1: "review"}, start, now); err != nil {
				t.Fatal(err)
			}
			relabel(events, 1, "review", start, now)
		}},
		{"relabel in another process", func(t *testing.T) {
			// RelabelTasks relabels the whole days of the calls it finds.
			a, b := start.Add(30*time.Hour).Truncate(24*time.Hour), now.Truncate(24*time.Hour)
			if _, err := other.RelabelTasks(ctx, allot.TaskLabels{2: "chat"}, a, b); err != nil {
				t.Fatal(err)
			}
			relabel(events, 2, "chat", a, b)
		}},
	}
	for _, s := range steps {
		s.change(t)
		for _, d := range []*DB{db, other} {
			assertAll(t, d, events[:stored], from, to)
		}
		if t.Failed() {
			t.Fatalf("after %s", s.name)
		}
	}
}

// However small the cache, reports stay exact.
func TestReportCacheEvicts(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.rcache = rollupcache.New(64 << 10)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := genEvents(32, 1500, start, 6*24*time.Hour, smallWorld)
	mustAppend(t, db, events[:1000])
	from, to := start.Add(90*time.Minute), start.Add(6*24*time.Hour-90*time.Minute)
	assertAll(t, db, events[:1000], from, to)
	mustAppend(t, db, events[800:])
	assertAll(t, db, events, from, to)
	if db.rcache.Bytes() > db.rcache.Limit() {
		t.Errorf("cache holds %d bytes, over its limit %d", db.rcache.Bytes(), db.rcache.Limit())
	}
}

// Every report is the rollups of one moment: with appends of late events
// all over the range going on, each report's totals are those after some
// number of whole appends, never part of one.
func TestReportIsASnapshotDuringAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	now := time.Now().UTC()
	start := now.Add(-70 * time.Hour)
	events := genEvents(33, 1200, start, now.Sub(start)-time.Minute, smallWorld)
	from, to := start.Add(-2*time.Hour), now.Add(time.Hour)

	// Batches of growing size, so no two prefixes have the same count.
	var batches [][]allot.Event
	requests, cost := []int64{0}, []allot.Money{0}
	for i, n := 0, 20; i < len(events); i, n = i+n, n+1 {
		b := events[i:min(i+n, len(events))]
		batches = append(batches, b)
		var c allot.Money
		for _, e := range b {
			c += e.Cost
		}
		requests = append(requests, requests[len(requests)-1]+int64(len(b)))
		cost = append(cost, cost[len(cost)-1]+c)
	}
	mustAppend(t, db, batches[0])

	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, q := range cacheQueries(from, to)[:4] {
		if q.From != from {
			continue
		}
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rows, err := db.Report(ctx, q)
				if err != nil {
					t.Error(err)
					return
				}
				var n int64
				var c allot.Money
				for _, r := range rows {
					n, c = n+r.Requests, c+r.Cost
				}
				k := slices.Index(requests, n)
				if k < 0 || cost[k] != c {
					t.Errorf("report by %v: %d requests costing %d, not the totals after any whole append", q.By, n, c)
					return
				}
			}
		})
	}
	for _, b := range batches[1:] {
		mustAppend(t, db, b)
	}
	close(done)
	wg.Wait()
	assertAll(t, db, events, from, to)
}
