// Package storetest is the executable contract of allot's stores: one
// suite that the embedded SQLite store and the PostgreSQL store both pass,
// so they stay interchangeable. Every part of allot.Store is required and
// tested; nothing is skipped for a store that lacks it.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// Store is the contract under test: the whole allot.Store.
type Store = allot.Store

// Start is the first instant of the generated events.
var Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Run checks a store against the contract. open returns an empty store for
// one subtest (subtests run in parallel) and registers its cleanup with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"append is idempotent", testAppendIdempotent},
		{"events round trip", testEventsRoundTrip},
		{"over-long labels are capped", testLabelsCapped},
		{"report equals the sum of events", testReportSums},
		{"report refuses bad queries", testReportInvalid},
		{"unpriced models", testUnpriced},
		{"apply org", testApplyOrg},
		{"keys", testKeys},
		{"keys that expire", testKeyExpiry},
		{"people from outside org.yaml", testUpsertUser},
		{"people outside org.yaml", testPeopleOutsideOrg},
		{"provisioning", testProvisioning},
		{"settings", testSettings},
		{"audit log", testAudit},
		{"grants", testGrants},
		{"notices", testNotices},
		{"request log", testListEvents},
		{"sessions one by one", testEachSession},
		{"sums of huge values saturate", testHugeValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// mustAppend appends events and returns how many were new.
func mustAppend(t *testing.T, s Store, events []allot.Event) int {
	t.Helper()
	n, err := s.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("Append %d events: %v", len(events), err)
	}
	return n
}

// assertReport runs q and compares it, row by row, with the sums of events.
func assertReport(t *testing.T, s Store, events []allot.Event, q allot.ReportQuery) {
	t.Helper()
	got, err := s.Report(context.Background(), q)
	if err != nil {
		t.Fatalf("Report by %v filter %v: %v", q.By, q.Filter, err)
	}
	want := ExpectedReport(events, q)
	if !reflect.DeepEqual(got, want) {
		n := min(len(got), len(want), 5)
		t.Errorf("Report by %v filter %v: %d rows, want %d; first rows:\n got %v\nwant %v", q.By, q.Filter, len(got), len(want), got[:n], want[:n])
	}
}

// wantCode fails unless err is an *allot.Error with code.
func wantCode(t *testing.T, what string, err error, code allot.ErrorCode) {
	t.Helper()
	var e *allot.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: error %v, want code %s", what, err, code)
	}
}

func testAppendIdempotent(t *testing.T, open func(t *testing.T) Store) {
	start := Start.Add(9 * time.Hour)
	evs := GenEvents(7, 300, start, 6*time.Hour, SmallWorld)
	dup := append(append([]allot.Event{}, evs[:10]...), evs[:10]...)
	dup[12].Cost = 999 // a repeat carrying other values is still a repeat: the first wins
	big := GenEvents(8, 2500, start, time.Hour, SmallWorld)
	tests := []struct {
		name    string
		batches [][]allot.Event
		counts  []int
		stored  []allot.Event
	}{
		{"same batch twice", [][]allot.Event{evs, evs}, []int{300, 0}, evs},
		{"overlapping batches", [][]allot.Event{evs[:200], evs[100:]}, []int{200, 100}, evs},
		{"one by one after the batch", [][]allot.Event{evs[:50], evs[49:50], evs[10:11], evs[50:51]}, []int{50, 0, 0, 1}, evs[:51]},
		{"duplicate ids inside one batch", [][]allot.Event{dup}, []int{10}, evs[:10]},
		{"a large batch", [][]allot.Event{big, big[1000:1500]}, []int{2500, 0}, big},
		{"empty batch", [][]allot.Event{{}}, []int{0}, []allot.Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			for i, b := range tt.batches {
				if n := mustAppend(t, s, b); n != tt.counts[i] {
					t.Errorf("batch %d: Append counted %d, want %d", i, n, tt.counts[i])
				}
			}
			from, to := start.Add(-time.Hour), start.Add(24*time.Hour)
			assertReport(t, s, tt.stored, allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimHour}, From: from, To: to})
			got, err := s.Events(context.Background(), from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.stored) {
				t.Fatalf("stored %d events, want %d", len(got), len(tt.stored))
			}
		})
	}
	t.Run("an event without id is refused", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		bad := append([]allot.Event{}, evs[:3]...)
		bad[1].ID = ""
		_, err := s.Append(context.Background(), bad)
		wantCode(t, "Append without id", err, allot.EInvalid)
		assertReport(t, s, nil, allot.ReportQuery{From: start, To: start.Add(24 * time.Hour)})
	})
}

func testEventsRoundTrip(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	evs := GenEvents(11, 400, Start, 40*24*time.Hour, SmallWorld) // two months
	mustAppend(t, s, evs)
	got, err := s.Events(context.Background(), Start, Start.Add(40*24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]allot.Event{}, evs...)
	sortByTime(want)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if got, err := s.Events(context.Background(), Start, Start.Add(40*24*time.Hour), 7); err != nil || len(got) != 7 || got[0].ID != want[0].ID {
		t.Errorf("Events with limit 7: %d events, %v", len(got), err)
	}
}

// testLabelsCapped appends events whose labels are megabytes long (as a
// hostile client could send them): the store keeps them capped to
// allot.MaxLabelBytes, one event per distinct id, however long.
func testLabelsCapped(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	long := strings.Repeat("x", 1<<20)
	base := allot.Event{Time: Start, Principal: allot.Principal{Org: "o", Team: "t", User: "u"}, Provider: "openai",
		Route: allot.RouteChat, Source: allot.SourceOTLP, Status: 200, Tokens: allot.Tokens{Input: 10, Output: 2}}
	a, b := base, base
	a.ID, a.ServedModel, a.RequestedModel, a.Session, a.Task, a.App = long+"a", long, long, long+"a", long, long
	b.ID, b.ServedModel, b.RequestedModel, b.Session, b.Task, b.App = long+"b", "gpt-4o", "gpt-4o", long+"b", "t", "app"
	if n := mustAppend(t, s, []allot.Event{a, b}); n != 2 {
		t.Fatalf("appended %d events whose ids differ after the cap, want 2", n)
	}
	if n := mustAppend(t, s, []allot.Event{a}); n != 0 {
		t.Fatalf("appending the over-long id again stored %d more", n)
	}
	got, err := s.Events(context.Background(), Start, Start.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d events, want 2", len(got))
	}
	if got[0].Session == got[1].Session {
		t.Errorf("two long session ids were merged into %q", got[0].Session)
	}
	for _, e := range got {
		if !e.LabelsCapped() {
			t.Errorf("event stored with a label over %d bytes (model %d, session %d, task %d, app %d bytes)",
				allot.MaxLabelBytes, len(e.ServedModel), len(e.Session), len(e.Task), len(e.App))
		}
	}
}

func testReportSums(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	span := 5 * 24 * time.Hour
	events := GenEvents(42, 2000, Start, span, SmallWorld)
	for b := 0; b < len(events); b += 300 { // several batches, so rollups are updated, not just created
		mustAppend(t, s, events[b:min(b+300, len(events))])
	}
	for _, nq := range ReportQueries(Start, span) {
		t.Run(nq.Name, func(t *testing.T) {
			assertReport(t, s, events, nq.Q)
		})
	}
	t.Run("empty store", func(t *testing.T) {
		s := open(t)
		got, err := s.Report(context.Background(), allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: Start, To: Start.Add(span)})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Report on an empty store = %v, %v; want an empty, non-nil list", got, err)
		}
	})
}

func testReportInvalid(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	mustAppend(t, s, GenEvents(1, 20, Start, time.Hour, SmallWorld))
	r := func(by []allot.Dimension, from, to time.Time, f map[allot.Dimension]string) allot.ReportQuery {
		return allot.ReportQuery{By: by, From: from, To: to, Filter: f}
	}
	end := Start.Add(time.Hour)
	tests := []struct {
		name string
		q    allot.ReportQuery
	}{
		{"no range", r(nil, time.Time{}, time.Time{}, nil)},
		{"reversed range", r(nil, end, Start, nil)},
		{"unknown dimension", r([]allot.Dimension{"colour"}, Start, end, nil)},
		{"too many dimensions", r([]allot.Dimension{"user", "user", "user", "user", "user", "user", "user", "user", "user"}, Start, end, nil)},
		{"filter on day", r(nil, Start, end, map[allot.Dimension]string{allot.DimDay: "2026-03-01"})},
		{"unknown filter", r(nil, Start, end, map[allot.Dimension]string{"colour": "red"})},
	}
	for _, tt := range tests {
		_, err := s.Report(context.Background(), tt.q)
		wantCode(t, tt.name, err, allot.EInvalid)
	}
}

func testUnpriced(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	got, err := s.Unpriced(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("Unpriced on an empty store = %v, %v", got, err)
	}
	events := GenEvents(5, 1500, Start, 3*24*time.Hour, SmallWorld)
	for b := 0; b < len(events); b += 400 {
		mustAppend(t, s, events[b:min(b+400, len(events))])
	}
	mustAppend(t, s, events[:700]) // repeats count nothing
	got, err = s.Unpriced(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := ExpectedUnpriced(events)
	if len(want) < 3 {
		t.Fatalf("the generator made only %d unpriced models", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unpriced:\n got %+v\nwant %+v", got, want)
	}
}

// sortByTime orders events oldest first (generated times are distinct).
func sortByTime(evs []allot.Event) {
	slices.SortFunc(evs, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
}
