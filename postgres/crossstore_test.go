package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/storetest"
	"github.com/allot-dev/allot/sqlite"
)

// TestSameReportsAsSQLite appends the same generated events to SQLite and
// PostgreSQL and asks both for every combination of dimensions, with and
// without filters, over aligned and unaligned ranges: the rows must be
// identical, down to their JSON bytes. It also compares the unpriced
// models and the events read back.
func TestSameReportsAsSQLite(t *testing.T) {
	t.Parallel()
	pg := openTest(t)
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	start := time.Date(2026, 6, 26, 7, 0, 0, 0, time.UTC) // across a month boundary
	span := 9 * 24 * time.Hour
	events := storetest.GenEvents(2026, 3000, start, span, storetest.SmallWorld)
	for b := 0; b < len(events); b += 500 {
		batch := events[b:min(b+700, len(events))] // overlapping batches
		nl, err1 := lite.Append(ctx, batch)
		np, err2 := pg.Append(ctx, batch)
		if err1 != nil || err2 != nil || nl != np {
			t.Fatalf("Append: sqlite %d %v, postgres %d %v", nl, err1, np, err2)
		}
	}

	ranges := []struct{ from, to time.Time }{
		{start, start.Add(span)},
		{start.Add(90 * time.Minute), start.Add(span - 5*time.Hour - 30*time.Minute)},
		{start.Add(-30 * 24 * time.Hour), start.Add(span + 30*24*time.Hour)},
	}
	filters := []map[allot.Dimension]string{
		nil,
		{allot.DimTeam: "data"},
		{allot.DimModel: "gpt-4o", allot.DimApp: ""},
		{allot.DimUser: "björn", allot.DimProvider: "openai", allot.DimTask: "review"},
	}
	compare := func(q allot.ReportQuery) {
		t.Helper()
		a, err1 := lite.Report(ctx, q)
		b, err2 := pg.Report(ctx, q)
		if err1 != nil || err2 != nil {
			t.Fatalf("Report %v %v: sqlite %v, postgres %v", q.By, q.Filter, err1, err2)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !reflect.DeepEqual(a, b) || string(ja) != string(jb) {
			n := min(len(a), len(b), 3)
			t.Errorf("Report by %v filter %v from %s: sqlite %d rows, postgres %d\n sqlite %v\npostgres %v", q.By, q.Filter, q.From, len(a), len(b), a[:n], b[:n])
		}
	}
	queries := 0
	for mask := 0; mask < 1<<len(allot.Dimensions); mask++ {
		var by []allot.Dimension
		for i, d := range allot.Dimensions {
			if mask&(1<<i) != 0 {
				by = append(by, d)
			}
		}
		r := ranges[mask%len(ranges)]
		f := filters[mask%len(filters)]
		compare(allot.ReportQuery{By: by, From: r.from, To: r.to, Filter: f})
		queries++
	}
	for _, nq := range storetest.ReportQueries(start, span) {
		compare(nq.Q)
		queries++
	}
	t.Logf("%d reports compared", queries)

	ua, err1 := lite.Unpriced(ctx)
	ub, err2 := pg.Unpriced(ctx)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(ua, ub) {
		t.Errorf("Unpriced: sqlite %v %v\npostgres %v %v", ua, err1, ub, err2)
	}
	ea, err1 := lite.Events(ctx, start, start.Add(span), 0)
	eb, err2 := pg.Events(ctx, start, start.Add(span), 0)
	if err1 != nil || err2 != nil || len(ea) != len(events) || !reflect.DeepEqual(ea, eb) {
		t.Errorf("Events: sqlite %d %v, postgres %d %v, differ: %v", len(ea), err1, len(eb), err2, firstDiff(ea, eb))
	}
}

// firstDiff describes the first differing event of two lists.
func firstDiff(a, b []allot.Event) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("#%d\n%+v\n%+v", i, a[i], b[i])
		}
	}
	return "none"
}
