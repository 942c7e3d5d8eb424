package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// The audit log, grants, notices, request log and sessions: records a
// store keeps besides the ledger's sums.

func testAudit(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	var entries []allot.AuditEntry
	for i := range 5 {
		e := allot.AuditEntry{Time: Start.Add(time.Duration(i) * time.Minute), Actor: "cli:root", Action: "key.create",
			Target: "k" + string(rune('a'+i)), Detail: "created a key for bob"}
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	got, err := s.AuditEntries(ctx, Start.Add(time.Minute), Start.Add(4*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []allot.AuditEntry{entries[3], entries[2], entries[1]}; !reflect.DeepEqual(got, want) {
		t.Errorf("AuditEntries = %+v\nwant %+v (newest first, to exclusive)", got, want)
	}
	got, err = s.AuditEntries(ctx, Start, Start.Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []allot.AuditEntry{entries[4], entries[3]}; !reflect.DeepEqual(got, want) {
		t.Errorf("AuditEntries with limit 2 = %+v\nwant %+v", got, want)
	}
}

func testGrants(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	now := Start.Add(10 * 24 * time.Hour)
	grants := []allot.Grant{
		{Budget: "data-monthly", Amount: allot.MustUSD("20"), Until: now.Add(48 * time.Hour), Reason: "launch week"},
		{Budget: "tokens", Tokens: 5000, Until: now.Add(-time.Hour), Reason: "expired"},
		{Budget: "user-default:bob", Amount: allot.MustUSD("0.5"), Until: now.Add(time.Hour)},
	}
	for _, g := range grants {
		if err := s.AddGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Grants(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []allot.Grant{grants[0], grants[2]}; !reflect.DeepEqual(got, want) {
		t.Errorf("Grants = %+v\nwant %+v", got, want)
	}
	if got, err := s.Grants(ctx, now.Add(2*time.Hour)); err != nil || len(got) != 1 {
		t.Errorf("Grants two hours later = %+v, %v; want the one left", got, err)
	}
}

func testNotices(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	n1 := allot.Notice{ID: "threshold|data-monthly|80|2026-03-01T00:00:00Z", Time: Start.Add(time.Hour), Kind: allot.NoticeThreshold,
		Budget: "data-monthly", Scope: "team:data", User: "bob", Message: "data-monthly is at 80%",
		Detail: map[string]any{"percent": float64(80), "spent_usd": "40.000000000"}}
	n2 := allot.Notice{ID: "refusal|data-monthly|2026-03-01T00:00:00Z", Time: Start.Add(2 * time.Hour), Kind: allot.NoticeRefusal,
		Budget: "data-monthly", Scope: "team:data", Message: "data-monthly refuses calls"}
	for i, c := range []struct {
		n     allot.Notice
		added bool
	}{{n1, true}, {n1, false}, {n2, true}, {n2, false}} {
		added, err := s.AddNotice(ctx, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if added != c.added {
			t.Errorf("AddNotice #%d (%s) added = %v, want %v", i+1, c.n.ID, added, c.added)
		}
	}
	got, err := s.Notices(ctx, Start, Start.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []allot.Notice{n2, n1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Notices = %+v\nwant %+v", got, want)
	}
	if got, err := s.Notices(ctx, Start, Start.Add(24*time.Hour), 1); err != nil || len(got) != 1 || got[0].ID != n2.ID {
		t.Errorf("Notices with limit 1 = %+v, %v", got, err)
	}
	if got, err := s.Notices(ctx, Start.Add(90*time.Minute), Start.Add(24*time.Hour), 0); err != nil || len(got) != 1 || got[0].ID != n2.ID {
		t.Errorf("Notices from 01:30 = %+v, %v", got, err)
	}
}

// threeDays is the span threeDaysOf generates events over.
const threeDays = 3 * 24 * time.Hour

// threeDaysOf opens a store holding n generated events over threeDays.
func threeDaysOf(t *testing.T, open func(t *testing.T) Store, seed uint64, n int) (Store, []allot.Event) {
	s := open(t)
	events := GenEvents(seed, n, Start, threeDays, SmallWorld)
	mustAppend(t, s, events)
	return s, events
}

func testListEvents(t *testing.T, open func(t *testing.T) Store) {
	s, events := threeDaysOf(t, open, 99, 1200)
	ctx := context.Background()
	newest := append([]allot.Event{}, events...)
	slices.SortFunc(newest, func(a, b allot.Event) int { return b.Time.Compare(a.Time) })
	ids := func(evs []allot.Event) []string { return names(evs, func(e allot.Event) string { return e.ID }) }
	where := func(keep func(allot.Event) bool) []allot.Event {
		var out []allot.Event
		for _, e := range newest {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	list := func(q allot.EventQuery) []allot.Event {
		t.Helper()
		got, err := s.ListEvents(ctx, q)
		if err != nil {
			t.Fatalf("ListEvents %+v: %v", q, err)
		}
		return got
	}

	if got := list(allot.EventQuery{}); !reflect.DeepEqual(got, newest[:100]) {
		t.Errorf("ListEvents with defaults: %d events, want the newest 100 in full", len(got))
	}
	if got := list(allot.EventQuery{Limit: 5000}); len(got) != 1000 {
		t.Errorf("ListEvents with limit 5000 returned %d, want at most 1000", len(got))
	}

	// Pages joined equal the whole range, newest first.
	from, to := Start.Add(20*time.Hour), Start.Add(50*time.Hour)
	want := where(func(e allot.Event) bool { return !e.Time.Before(from) && e.Time.Before(to) })
	var pages []allot.Event
	before := ""
	for {
		page := list(allot.EventQuery{From: from, To: to, Limit: 70, Before: before})
		pages = append(pages, page...)
		if len(page) < 70 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(ids(pages), ids(want)) {
		t.Errorf("pages of 70 list %d events, want %d in order", len(pages), len(want))
	}

	filters := []struct {
		name   string
		filter map[allot.Dimension]string
		keep   func(allot.Event) bool
	}{
		{"user", map[allot.Dimension]string{allot.DimUser: "bob"}, func(e allot.Event) bool { return e.User == "bob" }},
		{"team and model", map[allot.Dimension]string{allot.DimTeam: "data", allot.DimModel: "gpt-4o"}, func(e allot.Event) bool { return e.Team == "data" && e.ServedModel == "gpt-4o" }},
		{"task and app", map[allot.Dimension]string{allot.DimTask: "review", allot.DimApp: "codex"}, func(e allot.Event) bool { return e.Task == "review" && e.App == "codex" }},
		{"provider", map[allot.Dimension]string{allot.DimProvider: "anthropic"}, func(e allot.Event) bool { return e.Provider == "anthropic" }},
	}
	for _, f := range filters {
		want := where(f.keep)
		got := list(allot.EventQuery{Filter: f.filter, Limit: 1000})
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("filter %s: %d events, want %d", f.name, len(got), len(want))
		}
		if len(want) > 10 {
			page2 := list(allot.EventQuery{Filter: f.filter, Limit: 5, Before: want[4].ID})
			if !slices.Equal(ids(page2), ids(want[5:10])) {
				t.Errorf("filter %s, second page of 5: %v, want %v", f.name, ids(page2), ids(want[5:10]))
			}
		}
	}
	if got := list(allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimUser: "nobody"}}); got == nil || len(got) != 0 {
		t.Errorf("a filter on a value never recorded lists %d events (or nil), want none", len(got))
	}
	if got := list(allot.EventQuery{From: to, To: from}); got == nil || len(got) != 0 {
		t.Errorf("an empty range lists %v", ids(got))
	}
	_, err := s.ListEvents(ctx, allot.EventQuery{Filter: map[allot.Dimension]string{allot.DimDay: "2026-03-01"}})
	wantCode(t, "ListEvents filtered on day", err, allot.EInvalid)
	_, err = s.ListEvents(ctx, allot.EventQuery{Before: "no-such-event"})
	wantCode(t, "ListEvents before an unknown event", err, allot.EInvalid)
}

// testEachSession: InsightCalls hands a query's sessions to EachSession
// one by one, the same sessions in the same order as InsightCalls.Sessions
// without it (their names aside: a store may leave them out), and then
// leaves Sessions empty.
func testEachSession(t *testing.T, open func(t *testing.T) Store) {
	s, events := threeDaysOf(t, open, 7, 1500)
	ctx := context.Background()
	for _, user := range []string{"", events[0].User} {
		q := allot.InsightQuery{From: Start, To: Start.Add(threeDays), User: user}
		whole, err := s.InsightCalls(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole.Sessions) == 0 {
			t.Fatalf("user %q: no sessions in %d events", user, len(events))
		}
		var got []allot.SessionUsage
		ids, keys := map[allot.InsightKey]int{}, map[int]allot.InsightKey{}
		q.EachSession = func(id int, s *allot.SessionUsage) error {
			if id < 0 || id > 1<<24 {
				t.Errorf("user %q: key id %d is not a small index", user, id)
			}
			if k, ok := ids[s.InsightKey]; ok && k != id {
				t.Errorf("user %q: key %+v came as ids %d and %d", user, s.InsightKey, k, id)
			}
			if k, ok := keys[id]; ok && k != s.InsightKey {
				t.Errorf("user %q: id %d named keys %+v and %+v", user, id, k, s.InsightKey)
			}
			ids[s.InsightKey], keys[id] = id, s.InsightKey
			got = append(got, *s)
			got[len(got)-1].Session = ""
			return nil
		}
		each, err := s.InsightCalls(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(each.Sessions) != 0 {
			t.Errorf("user %q: %d sessions returned beside EachSession", user, len(each.Sessions))
		}
		unnamed := slices.Clone(whole.Sessions)
		for i := range unnamed {
			unnamed[i].Session = ""
		}
		if !reflect.DeepEqual(got, unnamed) {
			t.Errorf("user %q: EachSession got %d sessions, InsightCalls.Sessions has %d, or they differ", user, len(got), len(whole.Sessions))
		}
		if !reflect.DeepEqual(each.Prompts, whole.Prompts) {
			t.Errorf("user %q: prompts differ with EachSession", user)
		}
		stop := errors.New("stop")
		q.EachSession = func(int, *allot.SessionUsage) error { return stop }
		if _, err := s.InsightCalls(ctx, q); !errors.Is(err, stop) {
			t.Errorf("user %q: EachSession's error came back as %v", user, err)
		}
	}
}
