package postgres

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/storetest"
)

func mustAppend(t testing.TB, db *DB, evs []allot.Event) int {
	t.Helper()
	n, err := db.Append(context.Background(), evs)
	if err != nil {
		t.Fatalf("Append %d events: %v", len(evs), err)
	}
	return n
}

func assertReport(t *testing.T, db *DB, events []allot.Event, q allot.ReportQuery) {
	t.Helper()
	got, err := db.Report(context.Background(), q)
	if err != nil {
		t.Fatalf("Report %v: %v", q.By, err)
	}
	if want := storetest.ExpectedReport(events, q); !reflect.DeepEqual(got, want) {
		t.Errorf("Report by %v from %s: %d rows, want %d\n got %v\nwant %v", q.By, q.From, len(got), len(want), got, want)
	}
}

// countRows counts the rows of a table.
func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPartitionsAndRetention: events of three months land in three
// partitions; DropBefore drops whole months before its time, with their
// rollups, and keeps the month it falls in.
func TestPartitionsAndRetention(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := storetest.GenEvents(3, 900, jan, 89*24*time.Hour, storetest.SmallWorld) // Jan, Feb, Mar
	mustAppend(t, db, evs)
	have, err := db.partitions(ctx, db.pool)
	if err != nil {
		t.Fatal(err)
	}
	// Next month's partition is made ahead.
	if want := map[int]bool{monthOf(jan): true, monthOf(jan) + 1: true, monthOf(jan) + 2: true, monthOf(time.Now()) + 1: true}; !reflect.DeepEqual(have, want) {
		t.Fatalf("partitions %v, want %v", have, want)
	}
	all := allot.ReportQuery{By: []allot.Dimension{allot.DimDay, allot.DimUser}, From: jan, To: jan.AddDate(0, 3, 0)}
	assertReport(t, db, evs, all)

	cut := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC) // inside February: only January goes
	dropped, err := db.DropBefore(ctx, cut)
	if err != nil || dropped != 1 {
		t.Fatalf("DropBefore(%s) = %d, %v; want 1", cut, dropped, err)
	}
	var kept []allot.Event
	for _, e := range evs {
		if !e.Time.Before(jan.AddDate(0, 1, 0)) {
			kept = append(kept, e)
		}
	}
	assertReport(t, db, kept, all)
	assertReport(t, db, kept, allot.ReportQuery{By: []allot.Dimension{allot.DimHour}, From: jan, To: jan.AddDate(0, 3, 0)})
	if got, _ := db.Events(ctx, jan, jan.AddDate(0, 3, 0), 0); len(got) != len(kept) {
		t.Errorf("%d events left, want %d", len(got), len(kept))
	}
	if dropped, err := db.DropBefore(ctx, cut); err != nil || dropped != 0 {
		t.Errorf("dropping again = %d, %v; want 0", dropped, err)
	}

	// A replica that cached January's partition appends there again: the
	// partition is made again and the event is stored.
	replica := openSchema(t, testDSN(t), db.schema)
	replica.parts[monthOf(jan)] = true
	if n := mustAppend(t, replica, evs[:1]); n != 1 {
		t.Errorf("appending to a dropped month stored %d events, want 1", n)
	}
}

// TestKeepRetentionDropsOldMonthsUntilStopped: the retention loop a
// PostgreSQL server runs drops the months older than ledger_retention
// at once, keeps the recent ones, and ends with its context.
func TestKeepRetentionDropsOldMonthsUntilStopped(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	old := time.Now().UTC().AddDate(0, -6, 0)
	recent := time.Now().UTC().Add(-time.Hour)
	evs := append(storetest.GenEvents(5, 50, old, 24*time.Hour, storetest.SmallWorld),
		storetest.GenEvents(6, 50, recent.Add(-30*time.Minute), 30*time.Minute, storetest.SmallWorld)...)
	mustAppend(t, db, evs)
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		db.KeepRetention(run, 90*24*time.Hour)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := db.Events(ctx, old.Add(-48*time.Hour), old.Add(48*time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events of six months ago still there after 10s of a 90-day retention", len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, err := db.Events(ctx, recent.Add(-time.Hour), recent.Add(time.Hour), 0); err != nil || len(got) != 50 {
		t.Errorf("recent events: %d, %v; want all 50 kept", len(got), err)
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("KeepRetention still running after its context ended")
	}
}

// TestConcurrentOverlappingAppends: replicas appending overlapping batches
// of the same events at once store each event once and count it once in
// the rollups, without deadlocks.
func TestConcurrentOverlappingAppends(t *testing.T) {
	t.Parallel()
	first := openTest(t)
	second := openSchema(t, testDSN(t), first.schema)
	start := time.Date(2026, 4, 29, 0, 0, 0, 0, time.UTC) // across a month boundary
	evs := storetest.GenEvents(21, 3000, start, 4*24*time.Hour, storetest.SmallWorld)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := range 6 {
		db := []*DB{first, second}[w%2]
		wg.Go(func() {
			for b := (w * 250) % 3000; b < 3000; b += 500 {
				n, err := db.Append(context.Background(), evs[b:min(b+700, 3000)])
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	mustAppend(t, first, evs) // whatever no worker covered
	n := countRows(t, first, "events")
	if n != len(evs) {
		t.Errorf("%d events stored, want %d", n, len(evs))
	}
	assertReport(t, first, evs, allot.ReportQuery{By: []allot.Dimension{allot.DimHour, allot.DimModel}, From: start, To: start.Add(4 * 24 * time.Hour)})
	assertReport(t, second, evs, allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start, To: start.Add(4 * 24 * time.Hour)})
}

// TestMigrateOnceUnderRace: replicas opening a new schema at once apply
// each migration exactly once; a second Migrate changes nothing; a store
// opened without Migrate on an unmigrated schema says what to do.
func TestMigrateOnceUnderRace(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	ctx := context.Background()
	_, err := Open(ctx, dsn, Options{Schema: schema, Logger: quiet})
	if e := allot.ErrorOf(err); e.Code != allot.EUnavailable {
		t.Fatalf("Open without Migrate on an empty schema: %v, want EUnavailable", err)
	}
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	for i := range dbs {
		wg.Go(func() {
			db, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true, MaxConns: 2, Logger: quiet})
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	if t.Failed() {
		return
	}
	var versions []int
	rows, _ := dbs[0].pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	var want []int // every embedded migration once (versions need not be contiguous)
	ms, _ := migrations()
	for _, m := range ms {
		want = append(want, m.version)
	}
	if rows.Err() != nil || len(want) < 4 || !reflect.DeepEqual(versions, want) {
		t.Errorf("schema_migrations holds %v (%v), want %v", versions, rows.Err(), want)
	}
	if err := dbs[0].Migrate(ctx); err != nil {
		t.Errorf("migrating again: %v", err)
	}
	db, err := Open(ctx, dsn, Options{Schema: schema, Logger: quiet})
	if err != nil {
		t.Fatalf("Open without Migrate on a migrated schema: %v", err)
	}
	db.Close()
	if _, err := dbs[0].pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dsn, Options{Schema: schema, Logger: quiet})
	if e := allot.ErrorOf(err); e.Code != allot.EUnavailable {
		t.Errorf("Open of a newer schema: %v, want EUnavailable", err)
	}
}

// TestOpenRefusesABadDSN: a DSN that is not one is EInvalid, without a password in the message.
func TestOpenRefusesABadDSN(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), "postgres://u:secret@host:notaport/db", Options{})
	var e *allot.Error
	if !errors.As(err, &e) || e.Code != allot.EInvalid {
		t.Fatalf("Open with a bad DSN: %v, want EInvalid", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestEachHourMatchesEvents: EachHour's synthetic events sum to the events.
func TestEachHourMatchesEvents(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	start := time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)
	evs := storetest.GenEvents(4, 500, start, 30*time.Hour, storetest.SmallWorld)
	mustAppend(t, db, evs)
	var got, want allot.Tokens
	var gotCost, wantCost allot.Money
	for _, e := range evs {
		if e.Time.Before(start.Add(24 * time.Hour)) {
			want, wantCost = want.Add(e.Tokens), wantCost+e.Cost
		}
	}
	err := db.EachHour(context.Background(), start, start.Add(24*time.Hour), func(e allot.Event) error {
		if e.Time.Minute() != 0 || e.Org != "acme" || e.User == "" {
			t.Errorf("synthetic event %+v", e)
		}
		got, gotCost = got.Add(e.Tokens), gotCost+e.Cost
		return nil
	})
	if err != nil || got != want || gotCost != wantCost {
		t.Errorf("EachHour sums %+v %s (%v), want %+v %s", got, gotCost, err, want, wantCost)
	}
}

// TestCachesStartOver: with caches far smaller than the strings and
// attributions in use, they start over again and again, and every event
// is still stored and read back exactly.
func TestCachesStartOver(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.dict.max, db.attrs.max = 8, 4
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	evs := storetest.GenEvents(13, 600, start, 48*time.Hour, storetest.SmallWorld)
	for b := 0; b < len(evs); b += 50 {
		mustAppend(t, db, evs[b:b+50])
	}
	got, err := db.Events(context.Background(), start, start.Add(48*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]allot.Event{}, evs...)
	slices.SortFunc(want, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events read back differ (%d, want %d)", len(got), len(want))
	}
	assertReport(t, db, evs, allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimModel}, From: start, To: start.Add(48 * time.Hour)})
}

// TestClosedDaysStayExact: closing days moves reports to the daily
// rollups without changing a number, also when late events (and repeats)
// arrive for closed days and for days being closed at that moment.
func TestClosedDaysStayExact(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.closing.Store(true) // reports leave the closing to this test
	ctx := context.Background()
	start := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	span := 6 * 24 * time.Hour
	evs := storetest.GenEvents(31, 3000, start, span, storetest.SmallWorld)
	early, late := evs[:2000], evs[2000:]
	mustAppend(t, db, early)
	queries := storetest.ReportQueries(start, span)
	check := func(stored []allot.Event) {
		t.Helper()
		for _, nq := range queries {
			assertReport(t, db, stored, nq.Q)
		}
	}
	check(early)
	if n, err := db.CloseDays(ctx, start.Add(3*24*time.Hour)); err != nil || n != 3 {
		t.Fatalf("CloseDays of the first 3 days = %d, %v", n, err)
	}
	check(early) // closed and open days together

	// Late events and repeats for all six days, appended while the last
	// three close.
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := 0; b < len(late); b += 50 {
			batch := append(append([]allot.Event{}, late[b:b+50]...), early[b:b+20]...)
			if _, err := db.Append(ctx, batch); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
		if _, err := db.CloseDays(ctx, start.Add(span)); err != nil {
			t.Errorf("CloseDays: %v", err)
		}
	})
	wg.Wait()
	if closed, err := db.closedDays(ctx, dayOf(start), dayOf(start)+10); err != nil || len(closed) != 6 {
		t.Fatalf("%d days closed (%v), want 6", len(closed), err)
	}
	check(evs)
	if n, err := db.CloseDays(ctx, start.Add(span)); err != nil || n != 0 {
		t.Errorf("closing again = %d, %v; want 0", n, err)
	}
}

// TestFastAndExactAppends: a batch of new events takes the fast way, one
// holding a stored event the exact way; either way new strings are stored
// and read back, late events of closed days reach the daily rollups, and
// unpriced totals count each event once.
func TestFastAndExactAppends(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.closing.Store(true) // reports leave the closing to this test
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	evs := storetest.GenEvents(41, 1200, start, 3*24*time.Hour, storetest.SmallWorld)
	first, late := evs[:800], evs[800:]
	mustAppend(t, db, first)
	if n, err := db.CloseDays(ctx, start.Add(3*24*time.Hour)); err != nil || n == 0 {
		t.Fatalf("CloseDays = %d, %v", n, err)
	}
	// New strings with a repeat: the fast copy is refused, the exact way
	// stores the new event with its strings.
	fresh := late[0]
	fresh.ID, fresh.User, fresh.Session, fresh.Task = "fresh-1", "newcomer", "newcomer-session", "new-task"
	if n := mustAppend(t, db, []allot.Event{first[0], fresh}); n != 1 {
		t.Fatalf("appending a repeat and a new event stored %d, want 1", n)
	}
	// Late events only, for closed days: the fast way.
	mustAppend(t, db, late[1:])
	stored := append(append(append([]allot.Event{}, first...), fresh), late[1:]...)
	for _, nq := range storetest.ReportQueries(start, 3*24*time.Hour) {
		assertReport(t, db, stored, nq.Q)
	}
	got, err := db.Events(ctx, fresh.Time, fresh.Time.Add(time.Microsecond), 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range got {
		if e.ID == fresh.ID {
			found = true
			if e.User != fresh.User || e.Session != fresh.Session || e.Task != fresh.Task {
				t.Errorf("read back %q/%q/%q, want %q/%q/%q", e.User, e.Session, e.Task, fresh.User, fresh.Session, fresh.Task)
			}
		}
	}
	if !found {
		t.Errorf("event %s not read back", fresh.ID)
	}
	unpriced, err := db.Unpriced(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := storetest.ExpectedUnpriced(stored); !reflect.DeepEqual(unpriced, want) {
		t.Errorf("Unpriced = %+v\nwant %+v", unpriced, want)
	}
}

// TestAppendInterrupted: an append cancelled while it waits for a day
// being closed (its copy already on the way) stores nothing and leaves no
// transaction open; appending the batch again stores it once.
func TestAppendInterrupted(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	start := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	evs := storetest.GenEvents(51, 400, start, time.Hour, storetest.SmallWorld)
	mustAppend(t, db, evs[:1]) // strings and partitions exist: the append goes straight to its copy
	closer, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := closer.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.dayLock(dayOf(start))); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if n, err := db.Append(short, evs); err == nil {
		t.Fatalf("Append while the day is locked = %d, want an error", n)
	}
	closer.Rollback(ctx)
	if n := countRows(t, db, "events"); n != 1 {
		t.Fatalf("%d events stored after the cancelled append, want 1", n)
	}
	if n := mustAppend(t, db, evs); n != len(evs)-1 {
		t.Errorf("appending again stored %d, want %d", n, len(evs)-1)
	}
	assertReport(t, db, evs, allot.ReportQuery{By: []allot.Dimension{allot.DimHour, allot.DimUser}, From: start, To: start.Add(time.Hour)})
}

// TestRollupTriggerAsked: the rollup trigger sums only inserts of
// transactions that ask for it, as Append does; an allot from before it
// (running while the migration is applied) sums its inserts itself.
func TestRollupTriggerAsked(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 10, 9, 30, 0, 0, time.UTC)
	mustAppend(t, db, storetest.GenEvents(52, 10, at, time.Minute, storetest.SmallWorld))
	insert := func(id string, ask bool) {
		t.Helper()
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if ask {
			if _, err := tx.Exec(ctx, rollupsByTrigger); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO events (`+eventColumns+`)
			SELECT $1, latency_us, ttft_us, request_bytes, max_tokens, system_fp, request_fp, input, cache_read, cache_write_5m,
				cache_write_1h, output, reasoning, cost_nano, attr, session, messages, status, flags, $2 FROM events LIMIT 1`, at, []byte(id)); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	requests := func() (n int64) {
		t.Helper()
		if err := db.pool.QueryRow(ctx, `SELECT sum(requests)::int8 FROM rollups_hourly`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := requests()
	insert("not-asked", false)
	if got := requests(); got != before {
		t.Errorf("an insert that did not ask for rollups counts: %d requests, want %d", got, before)
	}
	insert("asked", true)
	if got := requests(); got != before+1 {
		t.Errorf("an insert that asked for rollups: %d requests, want %d", got, before+1)
	}
}

// TestSortBatch: repeats are dropped (the first occurrence wins, in place)
// and the order is by encoded id.
func TestSortBatch(t *testing.T) {
	t.Parallel()
	hex := func(b byte) string {
		return strings.Repeat("0", 30) + string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15])
	}
	ev := func(id string, tokens int64) allot.Event {
		return allot.Event{ID: id, Tokens: allot.Tokens{Input: tokens}}
	}
	for _, c := range []struct {
		name  string
		in    []allot.Event
		kept  []int64 // Input of the events kept, in batch order
		order []string
	}{
		{"distinct", []allot.Event{ev("b", 1), ev("a", 2), ev(hex(2), 3)}, []int64{1, 2, 3}, []string{hex(2), "a", "b"}},
		{"repeats", []allot.Event{ev("b", 1), ev("a", 2), ev("b", 3), ev("a", 4), ev("c", 5)}, []int64{1, 2, 5}, []string{"a", "b", "c"}},
		{"all the same", []allot.Event{ev("x", 1), ev("x", 2), ev("x", 3)}, []int64{1}, []string{"x"}},
	} {
		k := sortBatch(c.in)
		var kept []int64
		for _, e := range k.batch {
			kept = append(kept, e.Tokens.Input)
		}
		var order []string
		for _, i := range k.order {
			order = append(order, k.batch[i].ID)
			if !reflect.DeepEqual(k.ids[i], encodeID(k.batch[i].ID)) {
				t.Errorf("%s: ids[%d] = %x, want the encoding of %q", c.name, i, k.ids[i], k.batch[i].ID)
			}
		}
		if !reflect.DeepEqual(kept, c.kept) || !reflect.DeepEqual(order, c.order) {
			t.Errorf("%s: kept %v in order %v, want %v in order %v", c.name, kept, order, c.kept, c.order)
		}
	}
}
