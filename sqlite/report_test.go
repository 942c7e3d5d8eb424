package sqlite

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/storetest"
)

// assertReportMatches runs q and compares it, row by row, with the sums of events.
func assertReportMatches(t *testing.T, db *DB, events []allot.Event, q allot.ReportQuery) {
	t.Helper()
	got, err := db.Report(context.Background(), q)
	if err != nil {
		t.Fatalf("Report %v: %v", q.By, err)
	}
	want := storetest.ExpectedReport(events, q)
	if !reflect.DeepEqual(got, want) {
		n := min(len(got), len(want), 5)
		t.Errorf("Report by %v filter %v: %d rows, want %d; first rows:\n got %v\nwant %v", q.By, q.Filter, len(got), len(want), got[:n], want[:n])
	}
}

func TestReportTotalsEqualEventSums(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := genEvents(42, 2000, start, 5*24*time.Hour, smallWorld)
	for b := 0; b < len(events); b += 300 { // several batches, so rollups are updated, not just created
		mustAppend(t, db, events[b:min(b+300, len(events))])
	}
	all := func(by ...allot.Dimension) allot.ReportQuery {
		return allot.ReportQuery{By: by, From: start, To: start.Add(5 * 24 * time.Hour)}
	}
	tests := []struct {
		name string
		q    allot.ReportQuery
	}{
		{"grand total", all()},
		{"user and model", all(allot.DimUser, allot.DimModel)},
		{"team, task, app", all(allot.DimTeam, allot.DimTask, allot.DimApp)},
		{"day then provider", all(allot.DimDay, allot.DimProvider)},
		{"hour then team", all(allot.DimHour, allot.DimTeam)},
		{"model then day", all(allot.DimModel, allot.DimDay)},
		{"every dimension", all(allot.Dimensions...)},
		{"within one day", allot.ReportQuery{By: []allot.Dimension{allot.DimDay}, From: start.Add(30 * time.Hour), To: start.Add(47 * time.Hour)}},
		{"across a day boundary", allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start.Add(30 * time.Hour), To: start.Add(50 * time.Hour)}},
		{"whole days and partial ends", allot.ReportQuery{By: []allot.Dimension{allot.DimDay, allot.DimTeam}, From: start.Add(10 * time.Hour), To: start.Add(110*time.Hour + 30*time.Minute)}},
		{"whole days and partial ends by hour", allot.ReportQuery{By: []allot.Dimension{allot.DimHour}, From: start.Add(10 * time.Hour), To: start.Add(110 * time.Hour)}},
	}
	for _, d := range allot.Dimensions {
		tests = append(tests, struct {
			name string
			q    allot.ReportQuery
		}{"by " + string(d), all(d)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertReportMatches(t, db, events, tt.q)
		})
	}
}

func TestReportRangeIsWidenedToWholeHours(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	h10 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(id string, t time.Time) allot.Event {
		return allot.Event{ID: id, Time: t, Principal: allot.Principal{User: "u"}, Cost: 1, CostKnown: true}
	}
	mustAppend(t, db, []allot.Event{
		at("before", h10.Add(-time.Microsecond)),
		at("start", h10),
		at("end of hour", h10.Add(time.Hour-time.Microsecond)),
		at("next hour", h10.Add(time.Hour)),
	})
	tests := []struct {
		name     string
		from, to time.Time
		requests int64
	}{
		{"whole hour is exact", h10, h10.Add(time.Hour), 2},
		{"two whole hours", h10, h10.Add(2 * time.Hour), 3},
		{"a minute inside the hour counts the hour", h10.Add(20 * time.Minute), h10.Add(21 * time.Minute), 2},
		{"to just past an hour boundary takes the next hour", h10, h10.Add(time.Hour + time.Nanosecond), 3},
		{"from just before an hour takes the earlier hour", h10.Add(-time.Nanosecond), h10.Add(time.Hour), 3},
		{"nothing recorded", h10.Add(5 * time.Hour), h10.Add(6 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := db.Report(context.Background(), allot.ReportQuery{From: tt.from, To: tt.to})
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			for _, r := range rows {
				got += r.Requests
			}
			if got != tt.requests {
				t.Errorf("requests %d, want %d (rows %v)", got, tt.requests, rows)
			}
		})
	}
}

func TestReportFilters(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := genEvents(9, 1000, start, 48*time.Hour, smallWorld)
	mustAppend(t, db, events)
	q := func(filter map[allot.Dimension]string, by ...allot.Dimension) allot.ReportQuery {
		return allot.ReportQuery{By: by, From: start, To: start.Add(48 * time.Hour), Filter: filter}
	}
	tests := []struct {
		name string
		q    allot.ReportQuery
	}{
		{"one team by user", q(map[allot.Dimension]string{allot.DimTeam: "team01"}, allot.DimUser)},
		{"one user by task", q(map[allot.Dimension]string{allot.DimUser: "user0003"}, allot.DimTask)},
		{"team and model by day", q(map[allot.Dimension]string{allot.DimTeam: "team02", allot.DimModel: "model-2"}, allot.DimDay)},
		{"provider and app, total", q(map[allot.Dimension]string{allot.DimProvider: "provider1", allot.DimApp: "app1"})},
		{"a value never recorded", q(map[allot.Dimension]string{allot.DimUser: "nobody"}, allot.DimUser)},
		{"values of another dimension do not match", q(map[allot.Dimension]string{allot.DimTeam: "user0003"}, allot.DimUser)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertReportMatches(t, db, events, tt.q)
		})
	}
}

func TestReportRejectsInvalidQueries(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    allot.ReportQuery
	}{
		{"no range", allot.ReportQuery{}},
		{"from after to", allot.ReportQuery{From: now, To: now.Add(-time.Hour)}},
		{"filter on day", allot.ReportQuery{From: now, To: now.Add(time.Hour), Filter: map[allot.Dimension]string{allot.DimDay: "2026-03-01"}}},
		{"unknown dimension", allot.ReportQuery{From: now, To: now.Add(time.Hour), By: []allot.Dimension{"color"}}},
		{"unknown filter", allot.ReportQuery{From: now, To: now.Add(time.Hour), Filter: map[allot.Dimension]string{"color": "red"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := db.Report(context.Background(), tt.q); allot.CodeOf(err) != allot.EInvalid {
				t.Errorf("err %v, want EInvalid", err)
			}
		})
	}
}

func TestReportCountsEventsAddedAfterTheirDayWasSummed(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := genEvents(11, 1200, start, 4*24*time.Hour, smallWorld)
	q := allot.ReportQuery{By: []allot.Dimension{allot.DimDay, allot.DimUser}, From: start, To: start.Add(4 * 24 * time.Hour)}
	mustAppend(t, db, events[:800])
	assertReportMatches(t, db, events[:800], q) // sums the four days
	mustAppend(t, db, events[600:])             // late events for the same days, some repeated
	assertReportMatches(t, db, events, q)
	assertReportMatches(t, db, events, allot.ReportQuery{By: []allot.Dimension{allot.DimTeam}, From: start.Add(5 * time.Hour), To: start.Add(80 * time.Hour)})
}

func TestReportCoversToday(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	now := time.Now().UTC()
	events := genEvents(12, 500, now.Add(-50*time.Hour), 50*time.Hour, smallWorld)
	mustAppend(t, db, events)
	for _, by := range [][]allot.Dimension{{allot.DimDay}, {allot.DimUser}, {allot.DimHour, allot.DimApp}} {
		assertReportMatches(t, db, events, allot.ReportQuery{By: by, From: now.Add(-72 * time.Hour), To: now.Add(time.Hour)})
	}
}

func FuzzDailyTotals(f *testing.F) {
	f.Add([]byte{}, int64(1), int64(5), int64(-7))
	f.Add([]byte{1, 2, 3}, int64(1<<40), int64(0), int64(1<<62))
	f.Fuzz(func(t *testing.T, blob []byte, a, b, c int64) {
		_ = decodeDaily(blob, func(int64, *sums) {}) // never panics on stored bytes
		in := []dailyEntry{{attr: 1, sums: sums{a, b, c}}, {attr: 9, sums: sums{c, b, a, 1, 2, 3, 4, 5, 6, 7}}}
		var out []dailyEntry
		if err := decodeDaily(encodeDaily(in), func(attr int64, s *sums) { out = append(out, dailyEntry{attr, *s}) }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip: %v != %v", out, in)
		}
	})
}
