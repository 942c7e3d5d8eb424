package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/internal/storetest"
)

// openDay is the cache tests' last day, left open by closeAll: the hour
// tests close its hours.
var openDay = cacheStart.Add(cacheSpan - 24*time.Hour)

// closeHoursOf closes hours [from, to) of the open day (hours from its
// start), failing the test on error, and returns how many it closed.
func closeHoursOf(t *testing.T, db *DB, day time.Time, from, to int) int {
	t.Helper()
	var hours []int64
	for h := from; h < to; h++ {
		hours = append(hours, hourOf(day)+int64(h))
	}
	n, err := db.closeHours(context.Background(), hours)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hourVersions reads rollups_hours.
func hourVersions(t *testing.T, db *DB) map[int64]int64 {
	t.Helper()
	rows, _ := db.pool.Query(context.Background(), `SELECT hour::int8, version FROM rollups_hours`)
	out := map[int64]int64{}
	var h, v int64
	for rows.Next() {
		if err := rows.Scan(&h, &v); err != nil {
			t.Fatal(err)
		}
		out[h] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertDayReports checks assertAllReports and reports over the open day
// alone: by hour, by day and fine groups, and ranges inside it that start
// and end within closed and open hours.
func assertDayReports(t *testing.T, db *DB, day time.Time, events []allot.Event) {
	t.Helper()
	assertAllReports(t, db, events)
	fine := []allot.Dimension{allot.DimUser, allot.DimModel, allot.DimTask, allot.DimApp}
	for _, r := range [][2]time.Duration{{0, 24 * time.Hour}, {90 * time.Minute, 22*time.Hour + 10*time.Minute}, {-30 * time.Hour, 23 * time.Hour}} {
		from, to := day.Add(r[0]), day.Add(r[1])
		for _, by := range [][]allot.Dimension{nil, {allot.DimHour}, {allot.DimDay, allot.DimUser}, fine, append([]allot.Dimension{allot.DimHour}, fine...)} {
			assertReport(t, db, events, allot.ReportQuery{By: by, From: from, To: to})
		}
		assertReport(t, db, events, allot.ReportQuery{By: []allot.Dimension{allot.DimModel}, From: from, To: to,
			Filter: map[allot.Dimension]string{allot.DimUser: events[0].Principal.User}})
	}
}

// Closed hours of a day not closed are kept in memory like closed days:
// late events into them, from this replica or another, and relabels show
// in the next report of either replica.
func TestHourCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, other := openPair(t)
	events := storetest.GenEvents(51, 1500, cacheStart, cacheSpan, storetest.SmallWorld)
	untag(events)
	mustAppend(t, db, events[:1000])
	closeAll(t, db)
	if n := closeHoursOf(t, db, openDay, 0, 20); n != 20 {
		t.Fatalf("closed %d hours, want 20", n)
	}
	if n := closeHoursOf(t, other, openDay, 0, 20); n != 0 {
		t.Fatalf("closed %d hours again", n)
	}
	assertDayReports(t, db, openDay, events[:1000])
	// The closed hours' blocks are held at their versions.
	for h, v := range hourVersions(t, db) {
		if db.rcache.Get(rollupcache.Key{Kind: rollupcache.Hour, N: h}, v) == nil {
			t.Fatalf("hour %d at version %d not cached", h, v)
		}
	}
	assertDayReports(t, db, openDay, events[:1000]) // from the cache
	assertDayReports(t, other, openDay, events[:1000])

	// Late events only into the open day's closed hours.
	var late []allot.Event
	for _, e := range events[1000:] {
		if !e.Time.Before(openDay) && e.Time.Before(openDay.Add(20*time.Hour)) {
			late = append(late, e)
		}
	}
	if len(late) < 20 {
		t.Fatalf("only %d late events into closed hours", len(late))
	}
	expect := slices.Clone(events[:1000])
	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"late events from this replica", func(t *testing.T) {
			mustAppend(t, db, late[:len(late)/2])
			expect = append(expect, late[:len(late)/2]...)
		}},
		{"late events from another replica", func(t *testing.T) {
			mustAppend(t, other, late[len(late)/2:])
			expect = append(expect, late[len(late)/2:]...)
		}},
		{"relabel from this replica", func(t *testing.T) {
			if _, err := db.RelabelTasks(ctx, allot.TaskLabels{1: "review"}, openDay, openDay.Add(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			relabel(expect, 1, "review", openDay, openDay.Add(24*time.Hour))
		}},
		{"relabel from another replica", func(t *testing.T) {
			a, b := openDay.Add(5*time.Hour), openDay.Add(12*time.Hour)
			if _, err := other.RelabelTasks(ctx, allot.TaskLabels{2: "chat"}, a, b); err != nil {
				t.Fatal(err)
			}
			relabel(expect, 2, "chat", a, b)
		}},
	}
	for _, s := range steps {
		before := hourVersions(t, db)
		s.change(t)
		after := hourVersions(t, db)
		bumped := 0
		for h, v := range before {
			if after[h] > v {
				bumped++
			}
		}
		if bumped == 0 {
			t.Errorf("%s: no hour got a new version", s.name)
		}
		for _, d := range []*DB{db, other} {
			assertDayReports(t, d, openDay, expect)
		}
		if t.Failed() {
			t.Fatalf("after %s", s.name)
		}
	}
}

// A late event into a closed hour gives that hour alone a new version, in
// the append's transaction; an append of events already stored does not;
// closing the day hands its hours over to the day's version.
func TestLateEventsNewHourVersion(t *testing.T) {
	t.Parallel()
	db, _ := openPair(t)
	events := storetest.GenEvents(52, 400, cacheStart, cacheSpan, storetest.SmallWorld)
	base, lateIn := events[:300], []allot.Event{}
	for _, e := range events[300:] {
		if !e.Time.Before(openDay.Add(2*time.Hour)) && e.Time.Before(openDay.Add(3*time.Hour)) {
			lateIn = append(lateIn, e) // hour 2 of the open day only
		}
	}
	if len(lateIn) == 0 {
		lateIn = []allot.Event{events[300]}
		lateIn[0].Time = openDay.Add(2*time.Hour + 17*time.Minute)
	}
	mustAppend(t, db, base)
	closeAll(t, db)
	closeHoursOf(t, db, openDay, 0, 24)
	before := hourVersions(t, db)
	if len(before) != 24 {
		t.Fatalf("%d hours closed, want 24", len(before))
	}
	mustAppend(t, db, base) // all stored already
	if after := hourVersions(t, db); !equalMaps(after, before) {
		t.Errorf("repeats changed versions: %v, then %v", before, after)
	}
	mustAppend(t, db, lateIn)
	after := hourVersions(t, db)
	target := hourOf(openDay) + 2
	for h, v := range before {
		if h == target && after[h] <= v || h != target && after[h] != v {
			t.Errorf("hour %d: version %d, then %d", h, v, after[h])
		}
	}
	assertDayReports(t, db, openDay, append(slices.Clone(base), lateIn...))

	// Closing the day: its hours leave rollups_hours, reports stay exact.
	if _, err := db.CloseDays(context.Background(), openDay.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(hourVersions(t, db)); n != 0 {
		t.Errorf("%d hours of a closed day left in rollups_hours", n)
	}
	if n := closeHoursOf(t, db, openDay, 0, 24); n != 0 {
		t.Errorf("closed %d hours of a closed day", n)
	}
	assertDayReports(t, db, openDay, append(slices.Clone(base), lateIn...))
}

// Reports before and after hours are closed, and after more are, agree
// with the events; the hours closed are read from memory after.
func TestHourClosedBetweenReports(t *testing.T) {
	t.Parallel()
	db, other := openPair(t)
	events := storetest.GenEvents(53, 1200, cacheStart, cacheSpan, storetest.SmallWorld)
	mustAppend(t, db, events)
	closeAll(t, db)
	for _, step := range [][2]int{{0, 0}, {3, 9}, {0, 3}, {9, 24}} {
		closeHoursOf(t, other, openDay, step[0], step[1])
		assertDayReports(t, db, openDay, events)
		assertDayReports(t, other, openDay, events)
	}
	// Every closed hour's block is cached at its version, for both kinds
	// (hour totals and hours per attribution).
	for h, v := range hourVersions(t, db) {
		for _, k := range []rollupcache.Kind{rollupcache.Hour, rollupcache.HourTotal} {
			if db.rcache.Get(rollupcache.Key{Kind: k, N: h}, v) == nil {
				t.Errorf("hour %d (kind %d) at version %d not cached", h, k, v)
			}
		}
	}
}

// Retention drops closed hours with their rollups; hours filled and
// closed again are read again, not taken for what the cache held.
func TestHourCacheRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, other := openPair(t)
	events := storetest.GenEvents(54, 1200, cacheStart, cacheSpan, storetest.SmallWorld)
	mustAppend(t, db, events)
	// Days up to April 29 closed; April 30 (the month's last, dropped
	// below) and May 2 have closed hours.
	apr30 := time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)
	if _, err := db.CloseDays(ctx, apr30); err != nil {
		t.Fatal(err)
	}
	closeHoursOf(t, db, apr30, 0, 24)
	closeHoursOf(t, db, openDay, 0, 12)
	assertDayReports(t, db, apr30, events)
	assertDayReports(t, other, openDay, events)

	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if n, err := db.DropBefore(ctx, may); err != nil || n != 1 {
		t.Fatalf("DropBefore = %d, %v; want 1 month", n, err)
	}
	for h := range hourVersions(t, db) {
		if h < hourOf(may) {
			t.Errorf("hour %d of a dropped month still closed", h)
		}
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
		assertDayReports(t, d, apr30, kept)
		assertDayReports(t, d, openDay, kept)
	}

	// Half of the dropped events come back, and April 30's hours are
	// closed again.
	back := dropped[:len(dropped)/2]
	mustAppend(t, other, back)
	closeHoursOf(t, other, apr30, 0, 24)
	all := append(slices.Clone(back), kept...)
	for _, d := range []*DB{db, other} {
		assertDayReports(t, d, apr30, all)
	}
}

// Every report is the rollups of one moment, also while two replicas
// append late events into the open day's hours and another closes them
// one by one: each report's totals are those after some number of whole
// appends, never part of one.
func TestReportIsASnapshotWhileHoursClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, other := openPair(t)
	closer := openSchema(t, testDSN(t), db.schema)
	closer.closing.Store(true)
	closer.closingHours.Store(true)
	events := storetest.GenEvents(55, 1400, openDay, 24*time.Hour, storetest.SmallWorld)
	mustAppend(t, db, events[:400])

	appendWhileReporting(t, db, other, events[:400], events[400:], openDay, openDay.Add(24*time.Hour), func(done <-chan struct{}) {
		for h := 0; h < 24; h++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := closer.closeHours(ctx, []int64{hourOf(openDay) + int64(h)}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	closeHoursOf(t, db, openDay, 0, 24)
	assertDayReports(t, db, openDay, events)
	assertDayReports(t, other, openDay, events)
}

// Reports close the past hours of today in the background (not those of
// the last quarter of an hour), and stay exact.
func TestReportsCloseHours(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.closing.Store(true) // days: left to the test
	now := time.Now().UTC()
	start := now.Add(-4 * time.Hour).Truncate(time.Hour)
	events := storetest.GenEvents(56, 600, start, now.Add(-time.Minute).Sub(start), storetest.SmallWorld)
	mustAppend(t, db, events)
	q := allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimHour}, From: start, To: now.Add(time.Hour)}
	assertReport(t, db, events, q)
	db.bg.Wait()
	closed := hourVersions(t, db)
	limit := closableHourBefore(time.Now())
	for h := hourOf(start); h < limit; h++ {
		if _, ok := closed[h]; !ok && floorDiv(h, 24) >= closableBefore(time.Now()) { // else left to CloseDays
			t.Errorf("hour %d (%s) not closed", h, time.Unix(h*3600, 0).UTC())
		}
	}
	for h := range closed {
		if h >= limit {
			t.Errorf("hour %d closed before its time", h)
		}
	}
	assertReport(t, db, events, q)
	assertReport(t, db, events, allot.ReportQuery{From: start, To: now.Add(time.Hour)})
}
