package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// benchWorld is a mid-sized company: 1000 people in 20 teams.
var benchWorld = world{users: 1000, teams: 20, models: 10, tasks: 30, apps: 5, providers: 3}

var benchStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fill appends n events in batches of 1000, spread evenly over span in
// time order, as a running gateway would.
func fill(tb testing.TB, db *DB, seed uint64, n int, span time.Duration) {
	tb.Helper()
	batches := (n + 999) / 1000
	step := span / time.Duration(batches)
	for i := 0; i < batches; i++ {
		evs := genEvents(seed+uint64(i), min(1000, n-i*1000), benchStart.Add(time.Duration(i)*step), step, benchWorld)
		if got := mustAppend(tb, db, evs); got != len(evs) {
			tb.Fatalf("batch %d stored %d of %d", i, got, len(evs))
		}
	}
}

// BenchmarkAppend appends batches of 1,000 new events (a minute of
// traffic), of 5,000 (the ledger writer's largest by default) and of
// 20,000, and reports the sustained rate: events per second of time spent
// in Append.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			db := openTest(b)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				evs := genEvents(uint64(i)+1, n, benchStart.Add(time.Duration(i*n/1000)*time.Minute), time.Duration(n/1000)*time.Minute, benchWorld)
				b.StartTimer()
				if _, err := db.Append(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkBytesPerRow stores 200k events and reports the database file's
// size per event after a checkpoint and VACUUM: events, their indexes, the
// rollups and the dictionary together. "day" is 200k events in one day
// (1000 busy people); "month" spreads them over 30 days, so nearly every
// event gets a rollup row of its own (the worst case for rollups).
func BenchmarkBytesPerRow(b *testing.B) {
	for _, span := range []struct {
		name string
		d    time.Duration
	}{{"day", 24 * time.Hour}, {"month", 30 * 24 * time.Hour}} {
		b.Run(span.name, func(b *testing.B) {
			const rows = 200_000
			for b.Loop() {
				dir := b.TempDir()
				path := filepath.Join(dir, "allot.db")
				db, err := Open(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				fill(b, db, 1, rows, span.d)
				sizes := tableSizes(b, db)
				if _, err := db.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
					b.Fatal(err)
				}
				if _, err := db.w.Exec(`VACUUM`); err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				st, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(st.Size())/rows, "bytes/row")
				for name, size := range sizes {
					b.ReportMetric(float64(size)/rows, name+"-B/row")
				}
			}
		})
	}
}

// tableSizes returns the bytes each table and index takes, if the driver
// has the dbstat table; nil otherwise.
func tableSizes(tb testing.TB, db *DB) map[string]int64 {
	rows, err := db.w.Query(`SELECT name, sum(pgsize) FROM dbstat GROUP BY name`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			tb.Fatal(err)
		}
		if size > 1<<20 {
			out[name] = size
		}
	}
	return out
}

var (
	reportDBOnce sync.Once
	reportDB     *DB
	reportDir    string
	reportEvents = 1_000_000
)

// BenchmarkReport reports over a month of rollups filled from a million
// events (1000 users, about 33 calls each a day; 100k with -short), after
// a first report has summed the month's days into daily_totals, over whole
// days and over a range that starts and ends inside a day.
func BenchmarkReport(b *testing.B) {
	reportDBOnce.Do(func() {
		if testing.Short() {
			reportEvents = 100_000
		}
		var err error
		reportDir, err = os.MkdirTemp("", "allot-bench-report-")
		if err != nil {
			b.Fatal(err)
		}
		reportDB, err = Open(context.Background(), filepath.Join(reportDir, "allot.db"))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		fill(b, reportDB, 1, reportEvents, 30*24*time.Hour)
		b.Logf("setup: %d events in %s", reportEvents, time.Since(t0).Round(time.Millisecond))
		// The first report over past days sums each day once into daily_totals.
		t0 = time.Now()
		if _, err := reportDB.Report(context.Background(), allot.ReportQuery{From: benchStart, To: benchStart.Add(30 * 24 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
		b.Logf("first report (builds 30 daily totals): %s", time.Since(t0).Round(time.Millisecond))
	})
	if reportDB == nil {
		b.Fatal("setup failed")
	}
	// "aligned" is the 30 whole days; "unaligned" runs from 05:30 on the
	// first day to 05:30 on the last, so 19 hours of its first day and 6 of
	// its last come from hourly rollups.
	for _, rng := range []struct {
		name     string
		from, to time.Time
	}{
		{"aligned", benchStart, benchStart.Add(30 * 24 * time.Hour)},
		{"unaligned", benchStart.Add(5*time.Hour + 30*time.Minute), benchStart.Add(29*24*time.Hour + 5*time.Hour + 30*time.Minute)},
	} {
		for _, by := range [][]allot.Dimension{
			{allot.DimUser, allot.DimDay},
			{allot.DimTeam, allot.DimModel},
			{allot.DimHour},
		} {
			q := allot.ReportQuery{By: by, From: rng.from, To: rng.to}
			b.Run(fmt.Sprint(rng.name, by), func(b *testing.B) {
				b.Run("warm", func(b *testing.B) { benchReport(b, q, false) })
				b.Run("cold", func(b *testing.B) { benchReport(b, q, true) })
			})
		}
	}
}

// benchReport runs q over the report ledger: warm, with the blocks it
// reads in memory from a first run, as a dashboard's reports find them;
// cold, with the report cache emptied before each run, as after a restart.
func benchReport(b *testing.B, q allot.ReportQuery, cold bool) {
	if _, err := reportDB.Report(context.Background(), q); err != nil {
		b.Fatal(err)
	}
	var rows int
	for b.Loop() {
		if cold {
			b.StopTimer()
			reportDB.rcache.Clear()
			b.StartTimer()
		}
		r, err := reportDB.Report(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		rows = len(r)
	}
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(reportEvents), "events")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if reportDB != nil {
		reportDB.Close()
		os.RemoveAll(reportDir)
	}
	os.Exit(code)
}

// BenchmarkListEventsOfAPerson reads the first two pages (100 events) of
// one person's request log over the last 30 days and over all time, on
// the ledger at ALLOT_BENCH_DB (e.g. one the insights or web benchmarks
// generated: 10 million events of 1,000 people); skipped without it.
func BenchmarkListEventsOfAPerson(b *testing.B) {
	path := os.Getenv("ALLOT_BENCH_DB")
	if path == "" {
		b.Skip("set ALLOT_BENCH_DB to a generated ledger")
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		from time.Time
	}{{"30d", time.Now().AddDate(0, 0, -30)}, {"all", time.Time{}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				q := allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimUser: "user0042"}, From: c.from, Limit: 100}
				page, err := db.ListEvents(ctx, q)
				if err != nil || len(page) != 100 {
					b.Fatalf("first page: %d events, %v", len(page), err)
				}
				q.Before = page[99].ID
				if page, err = db.ListEvents(ctx, q); err != nil || len(page) != 100 {
					b.Fatalf("second page: %d events, %v", len(page), err)
				}
			}
		})
	}
}
