package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// listWorld fills a database with events over two days and returns them in
// insertion order.
func listWorld(t *testing.T) (*DB, []allot.Event) {
	t.Helper()
	db := openTest(t)
	var all []allot.Event
	for i := range 4 {
		evs := genEvents(uint64(100+i), 500, benchStart.Add(time.Duration(i)*12*time.Hour), 12*time.Hour, smallWorld)
		// Some events share a time, so ordering ties are exercised.
		for j := 0; j+1 < len(evs); j += 50 {
			evs[j+1].Time = evs[j].Time
		}
		mustAppend(t, db, evs)
		all = append(all, evs...)
	}
	return db, all
}

// expectEvents is the reference answer: filter, newest first, ties by
// insertion order (later first).
func expectEvents(all []allot.Event, q allot.EventQuery) []allot.Event {
	type indexed struct {
		i int
		e allot.Event
	}
	var sel []indexed
	for i, e := range all {
		if !q.From.IsZero() && e.Time.Before(q.From) || !q.To.IsZero() && !e.Time.Before(q.To) {
			continue
		}
		ok := true
		for d, v := range q.Filter {
			var got string
			switch d {
			case allot.DimUser:
				got = e.User
			case allot.DimTeam:
				got = e.Team
			case allot.DimModel:
				got = e.ServedModel
			case allot.DimTask:
				got = e.Task
			case allot.DimApp:
				got = e.App
			case allot.DimProvider:
				got = e.Provider
			}
			ok = ok && got == v
		}
		if ok {
			sel = append(sel, indexed{i, e})
		}
	}
	slices.SortFunc(sel, func(a, b indexed) int {
		if c := b.e.Time.Compare(a.e.Time); c != 0 {
			return c
		}
		return b.i - a.i
	})
	out := make([]allot.Event, len(sel))
	for i, s := range sel {
		out[i] = s.e
	}
	return out
}

func ids(evs []allot.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	db, all := listWorld(t)
	ctx := context.Background()
	mid := benchStart.Add(30 * time.Hour)
	cases := []struct {
		name string
		q    allot.EventQuery
	}{
		{"everything, default page", allot.EventQuery{}},
		{"range", allot.EventQuery{From: benchStart.Add(6 * time.Hour), To: mid, Limit: 1000}},
		{"one user (attr index)", allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimUser: "user0007"}, Limit: 1000}},
		{"one team (time scan)", allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimTeam: "team01"}, Limit: 1000}},
		{"team and model in range", allot.EventQuery{From: benchStart, To: mid, Filter: map[allot.Dimension]string{allot.DimTeam: "team02", allot.DimModel: "model-2"}, Limit: 1000}},
		{"task and app", allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimTask: "task03", allot.DimApp: "app1"}, Limit: 7}},
		{"provider", allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimProvider: "provider1"}, Limit: 5}},
		{"never recorded value", allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimUser: "nobody"}}},
		{"empty range", allot.EventQuery{From: mid, To: mid}},
		{"limit above the maximum", allot.EventQuery{Limit: 5000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.ListEvents(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			want := expectEvents(all, c.q)
			limit := c.q.Limit
			if limit <= 0 {
				limit = 100
			}
			want = want[:min(len(want), min(limit, 1000))]
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("got %d events %v…, want %d %v…", len(got), ids(got)[:min(3, len(got))], len(want), ids(want)[:min(3, len(want))])
			}
			for i := range got {
				if got[i].Cost != want[i].Cost || got[i].Tokens != want[i].Tokens || got[i].User != want[i].User || got[i].Task != want[i].Task {
					t.Fatalf("event %s: got %+v, want %+v", got[i].ID, got[i], want[i])
				}
			}
		})
	}
}

func TestListEventsPagesThroughEverything(t *testing.T) {
	t.Parallel()
	db, all := listWorld(t)
	ctx := context.Background()
	for _, filter := range []map[allot.Dimension]string{nil, {allot.DimUser: "user0003"}, {allot.DimTeam: "team00"}} {
		got := allPages(ctx, t, db, allot.EventQuery{Filter: filter, Limit: 97})
		want := expectEvents(all, allot.EventQuery{Filter: filter})
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("filter %v: paged %d events, want %d", filter, len(got), len(want))
		}
	}
}

func TestListEventsRefusesBadQueries(t *testing.T) {
	t.Parallel()
	db, _ := listWorld(t)
	for _, q := range []allot.EventQuery{
		{Filter: map[allot.Dimension]string{allot.DimDay: "2026-03-01"}},
		{Before: "no-such-event"},
	} {
		if _, err := db.ListEvents(context.Background(), q); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("%+v: got %v, want an invalid-request error", q, err)
		}
	}
}

// TestListEventsPlans checks that both ways of reading a page use their
// index in order, without sorting the whole range.
func TestListEventsPlans(t *testing.T) {
	t.Parallel()
	db, _ := listWorld(t)
	for _, query := range []string{
		`SELECT e.seq FROM events e CROSS JOIN attrs a ON a.id = e.attr WHERE e.t >= 0 AND e.t < 1 ORDER BY e.t DESC, e.seq DESC LIMIT 10`,
		`SELECT e.seq FROM events e INDEXED BY events_t CROSS JOIN attrs a ON a.id = e.attr WHERE e.t >= 0 AND e.t < 1 AND a.team = 3 ORDER BY e.t DESC, e.seq DESC LIMIT 10`,
	} {
		plan := explain(t, db, query)
		if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "events_t") {
			t.Errorf("%s\nplan: %s", query, plan)
		}
	}
	plan := explain(t, db, `SELECT e.seq FROM events e INDEXED BY events_hour_attr_t WHERE e.t / 3600000000 IN (5,6) AND e.attr IN (1,2,3) AND e.t >= 0 AND e.t < 1 ORDER BY e.t DESC, e.seq DESC LIMIT 10`)
	if !strings.Contains(plan, "COVERING INDEX events_hour_attr_t") || !strings.Contains(plan, "attr=?") {
		t.Errorf("attr page plan: %s", plan)
	}
}

func explain(t *testing.T, db *DB, query string) string {
	t.Helper()
	rows, err := db.r.Query("EXPLAIN QUERY PLAN " + query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "; ")
	}
	return b.String()
}

// A person's page is read day by day through (hour, attr, t): it spans
// days without events, bounds inside hours, and pages exactly as a scan
// of every event would.
func TestListEventsOfOnePersonAcrossSparseDays(t *testing.T) {
	t.Parallel()
	db, all := listWorld(t)
	team := ""
	for _, e := range all {
		if e.User == "user0003" {
			team = e.Team
		}
	}
	// user0003 again ten and eleven days later, with nobody else around.
	for i, days := range []int{10, 11} {
		evs := genEvents(uint64(900+i), 40, benchStart.Add(time.Duration(days)*24*time.Hour), 3*time.Hour, smallWorld)
		for j := range evs {
			evs[j].User, evs[j].Team = "user0003", team
		}
		mustAppend(t, db, evs)
		all = append(all, evs...)
	}
	ctx := context.Background()
	person := map[allot.Dimension]string{allot.DimUser: "user0003"}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		limit    int
	}{
		{"everything", time.Time{}, time.Time{}, 7},
		{"bounds inside hours", benchStart.Add(5*time.Hour + 17*time.Minute), benchStart.Add(10*24*time.Hour + 90*time.Minute), 5},
		{"only the late days", benchStart.Add(9 * 24 * time.Hour), time.Time{}, 100},
		{"a gap with nothing", benchStart.Add(3 * 24 * time.Hour), benchStart.Add(9 * 24 * time.Hour), 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := allPages(ctx, t, db, allot.EventQuery{Filter: person, From: tc.from, To: tc.to, Limit: tc.limit})
			want := expectEvents(all, allot.EventQuery{Filter: person, From: tc.from, To: tc.to})
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("paged %d events, want %d", len(got), len(want))
			}
		})
	}
}

// allPages reads q page after page, each from the last event of the one
// before, until a page comes back short.
func allPages(ctx context.Context, t *testing.T, db *DB, q allot.EventQuery) []allot.Event {
	t.Helper()
	var got []allot.Event
	for range 10_000 {
		page, err := db.ListEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < q.Limit {
			return got
		}
		q.Before = page[len(page)-1].ID
	}
	t.Fatal("paging does not end")
	return nil
}
