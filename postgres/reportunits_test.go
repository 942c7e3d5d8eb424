package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/internal/storetest"
)

// cacheStart and cacheSpan are the days the report cache tests fill: five
// days long past, so that they can be closed.
var (
	cacheStart = time.Date(2026, 4, 28, 0, 0, 0, 0, time.UTC)
	cacheSpan  = 5 * 24 * time.Hour
)

// assertAllReports checks every shared report query over the cache tests'
// days against the events, and fine-grained groups over ranges that cut
// an hour or two off a closed day (read as the day less those hours:
// groups with events only in those hours must not show).
func assertAllReports(t *testing.T, db *DB, events []allot.Event) {
	t.Helper()
	for _, nq := range storetest.ReportQueries(cacheStart, cacheSpan) {
		assertReport(t, db, events, nq.Q)
	}
	fine := []allot.Dimension{allot.DimUser, allot.DimModel, allot.DimTask, allot.DimApp}
	for _, r := range [][2]time.Duration{{time.Hour + 20*time.Minute, 3*24*time.Hour - 90*time.Minute}, {22 * time.Hour, 48 * time.Hour}} {
		for _, by := range [][]allot.Dimension{fine, append([]allot.Dimension{allot.DimDay}, fine...)} {
			assertReport(t, db, events, allot.ReportQuery{By: by, From: cacheStart.Add(r[0]), To: cacheStart.Add(r[1])})
		}
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

// openPair opens two handles on one schema, as two replicas, that leave
// the closing of days and hours to the test.
func openPair(t *testing.T) (*DB, *DB) {
	t.Helper()
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	db, other := openSchema(t, dsn, schema), openSchema(t, dsn, schema)
	for _, d := range []*DB{db, other} {
		d.closing.Store(true)
		d.closingHours.Store(true)
	}
	return db, other
}

// closeAll closes the cache tests' first four days, leaving the last open.
func closeAll(t *testing.T, db *DB) {
	t.Helper()
	if _, err := db.CloseDays(context.Background(), cacheStart.Add(cacheSpan-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// Reports keep closed days in memory: whatever changes their rollups
// afterwards (late events, from this replica or another, a relabel) shows
// in the next report of either replica.
func TestReportCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, other := openPair(t)
	events := storetest.GenEvents(41, 1500, cacheStart, cacheSpan, storetest.SmallWorld)
	untag(events)
	mustAppend(t, db, events[:1000])
	closeAll(t, db)
	assertAllReports(t, db, events[:1000])
	if db.rcache.Bytes() == 0 {
		t.Fatal("reports over closed days cached nothing")
	}
	assertAllReports(t, db, events[:1000]) // from the cache
	assertAllReports(t, other, events[:1000])

	stored := 1000
	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"late events from this replica", func(t *testing.T) { mustAppend(t, db, events[800:1250]); stored = 1250 }},
		{"late events from another replica", func(t *testing.T) { mustAppend(t, other, events[1250:]); stored = len(events) }},
		{"relabel from this replica", func(t *testing.T) {
			if _, err := db.RelabelTasks(ctx, allot.TaskLabels{1: "review"}, cacheStart, cacheStart.Add(cacheSpan)); err != nil {
				t.Fatal(err)
			}
			relabel(events, 1, "review", cacheStart, cacheStart.Add(cacheSpan))
		}},
		{"relabel from another replica", func(t *testing.T) {
			a, b := cacheStart.Add(24*time.Hour), cacheStart.Add(3*24*time.Hour)
			if _, err := other.RelabelTasks(ctx, allot.TaskLabels{2: "chat"}, a, b); err != nil {
				t.Fatal(err)
			}
			relabel(events, 2, "chat", a, b)
		}},
	}
	for _, s := range steps {
		s.change(t)
		for _, d := range []*DB{db, other} {
			assertAllReports(t, d, events[:stored])
		}
		if t.Failed() {
			t.Fatalf("after %s", s.name)
		}
	}
}

// A late event into a closed day gives the day a new version, in the
// append's transaction; an append of events already stored does not.
func TestLateEventsNewVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openPair(t)
	events := storetest.GenEvents(42, 300, cacheStart, 2*24*time.Hour, storetest.SmallWorld)
	mustAppend(t, db, events[:200])
	closeAll(t, db)
	versions := func() map[int64]int64 {
		t.Helper()
		rows, _ := db.pool.Query(ctx, `SELECT day::int8, version FROM rollups_days`)
		out := map[int64]int64{}
		var d, v int64
		for rows.Next() {
			if err := rows.Scan(&d, &v); err != nil {
				t.Fatal(err)
			}
			out[d] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := versions()
	if len(before) != 4 {
		t.Fatalf("%d days closed, want 4", len(before))
	}
	mustAppend(t, db, events[:200]) // all stored already
	if after := versions(); !equalMaps(after, before) {
		t.Errorf("repeats changed versions: %v, then %v", before, after)
	}
	var late []allot.Event
	for _, e := range events[200:] {
		if e.Time.Before(cacheStart.Add(24 * time.Hour)) {
			late = append(late, e) // the first day's only
		}
	}
	mustAppend(t, db, late)
	after := versions()
	first := dayOf(cacheStart)
	for d, v := range before {
		if d == first && after[d] <= v || d != first && after[d] != v {
			t.Errorf("day %d: version %d, then %d", d, v, after[d])
		}
	}
}

// equalMaps reports whether a and b hold the same entries.
func equalMaps(a, b map[int64]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Days that retention drops vanish from reports, also from those that held
// them in memory; a dropped day that is filled and closed again is read
// again, not taken for what it held before.
func TestReportCacheRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, other := openPair(t)
	events := storetest.GenEvents(43, 1200, cacheStart, cacheSpan, storetest.SmallWorld)
	mustAppend(t, db, events)
	closeAll(t, db)
	assertAllReports(t, db, events)
	assertAllReports(t, other, events)

	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if n, err := db.DropBefore(ctx, may); err != nil || n != 1 {
		t.Fatalf("DropBefore = %d, %v; want 1 month", n, err)
	}
	var kept, dropped []allot.Event
	for _, e := range events {
		if e.Time.Before(may) {
			dropped = append(dropped, e)
		} else {
			kept = append(kept, e)
		}
	}
	for _, d := range []*DB{db, other} {
		assertAllReports(t, d, kept)
	}

	// Half of the dropped events come back (an import, say), and their
	// days are closed again.
	back := dropped[:len(dropped)/2]
	mustAppend(t, other, back)
	closeAll(t, other)
	for _, d := range []*DB{db, other} {
		assertAllReports(t, d, append(slices.Clone(back), kept...))
	}
}

// However small the cache, reports stay exact.
func TestReportCacheEvicts(t *testing.T) {
	t.Parallel()
	db, _ := openPair(t)
	db.rcache = rollupcache.New(16 << 10)
	events := storetest.GenEvents(44, 1500, cacheStart, cacheSpan, storetest.SmallWorld)
	mustAppend(t, db, events[:1000])
	closeAll(t, db)
	assertAllReports(t, db, events[:1000])
	mustAppend(t, db, events[800:])
	assertAllReports(t, db, events)
	if db.rcache.Bytes() > db.rcache.Limit() {
		t.Errorf("cache holds %d bytes, over its limit %d", db.rcache.Bytes(), db.rcache.Limit())
	}
}

// Every report is the rollups of one moment: with late events appended to
// closed days by two replicas at once, each report's totals are those
// after some number of whole appends, never part of one.
func TestReportIsASnapshotDuringAppends(t *testing.T) {
	t.Parallel()
	db, other := openPair(t)
	events := storetest.GenEvents(45, 1400, cacheStart, cacheSpan, storetest.SmallWorld)
	mustAppend(t, db, events[:400])
	closeAll(t, db)

	appendWhileReporting(t, db, other, events[:400], events[400:], cacheStart, cacheStart.Add(cacheSpan), nil)
	assertAllReports(t, db, events)
	assertAllReports(t, other, events)
}

// appendWhileReporting appends late in batches of growing size from db and
// other at once, while reports over [from, to) run on both (and also runs
// alongside, if set, until the appends end or it returns), and fails the
// test if any report's totals are not those of stored plus some number of
// each writer's whole batches: every report is the rollups of one moment.
func appendWhileReporting(t *testing.T, db, other *DB, stored, late []allot.Event, from, to time.Time, also func(done <-chan struct{})) {
	t.Helper()
	ctx := context.Background()
	var batches [2][][]allot.Event
	for i, n, k := 0, 10, 0; i < len(late); i, n, k = i+n, n+1, k+1 {
		batches[k%2] = append(batches[k%2], late[i:min(i+n, len(late))])
	}
	type total struct {
		requests int64
		cost     allot.Money
	}
	sum := func(evs []allot.Event) total {
		var s total
		for _, e := range evs {
			s.requests++
			s.cost += e.Cost
		}
		return s
	}
	base := sum(stored)
	possible := map[total]bool{}
	var prefix [2][]total
	for w := range batches {
		prefix[w] = []total{{}}
		for _, b := range batches[w] {
			p := prefix[w][len(prefix[w])-1]
			s := sum(b)
			prefix[w] = append(prefix[w], total{p.requests + s.requests, p.cost + s.cost})
		}
	}
	for _, a := range prefix[0] {
		for _, b := range prefix[1] {
			possible[total{base.requests + a.requests + b.requests, base.cost + a.cost + b.cost}] = true
		}
	}
	queries := []allot.ReportQuery{
		{From: from, To: to},
		{By: []allot.Dimension{allot.DimDay, allot.DimUser}, From: from, To: to},
		{By: []allot.Dimension{allot.DimHour}, From: from, To: to},
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for i, q := range queries {
		readers.Go(func() {
			d := []*DB{db, other}[i%2]
			for {
				select {
				case <-done:
					return
				default:
				}
				rows, err := d.Report(ctx, q)
				if err != nil {
					t.Error(err)
					return
				}
				var got total
				for _, r := range rows {
					got.requests, got.cost = got.requests+r.Requests, got.cost+r.Cost
				}
				if !possible[got] {
					t.Errorf("report by %v: %d requests costing %d, not the totals after any whole appends", q.By, got.requests, got.cost)
					return
				}
			}
		})
	}
	if also != nil {
		readers.Go(func() { also(done) })
	}
	var writers sync.WaitGroup
	for w, d := range []*DB{db, other} {
		writers.Go(func() {
			for _, b := range batches[w] {
				if _, err := d.Append(ctx, b); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
}
