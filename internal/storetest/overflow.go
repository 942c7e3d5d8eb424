package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// HugeEvents returns events whose sums overflow int64: from evening of
// one day to the morning of the next, several calls an hour of one user
// ("alice") each cost allot.MaxMoney and carry 1e15 tokens of every kind,
// two carry math.MaxInt64 input and output tokens, two of them without a
// known cost; and one ordinary call of another user shares the hours.
// Whatever was stored before the ingest bounds existed (or gets past them)
// looks like this; no report, insight or budget rebuild may fail on it.
func HugeEvents(start time.Time) []allot.Event {
	base := GenEvents(99, 1, start, time.Hour, SmallWorld)[0]
	base.Team, base.User, base.Task, base.Provider = "platform", "alice", "review", "openai"
	base.RequestedModel, base.ServedModel = "gpt-4o", "gpt-4o"
	var out []allot.Event
	for i := range 12 {
		e := base
		e.ID = fmt.Sprintf("huge-%02d", i)
		e.Time = start.Add(time.Duration(i%4)*time.Hour + time.Duration(i)*time.Minute)
		if i >= 8 {
			e.Time = e.Time.Add(22 * time.Hour) // the next day
		}
		e.Tokens = allot.Tokens{Input: 1e15, CacheRead: 1e15, CacheWrite5m: 1e15, CacheWrite1h: 1e15, Output: 1e15, Reasoning: 1e15}
		e.Cost, e.CostKnown, e.Estimated = allot.MaxMoney, true, i%3 == 0
		switch i {
		case 1, 5:
			e.Tokens.Input, e.Tokens.Output = math.MaxInt64, math.MaxInt64
		case 2, 6:
			e.ServedModel, e.RequestedModel, e.Cost, e.CostKnown = "custom-huge", "custom-huge", 0, false
			e.Tokens.Input, e.Tokens.Output = math.MaxInt64, math.MaxInt64
		}
		out = append(out, e)
	}
	other := base
	other.ID, other.User, other.Team, other.Time = "ordinary", "bob", "data", start.Add(90*time.Minute)
	other.Tokens, other.Cost = allot.Tokens{Input: 1200, Output: 300}, allot.Money(4_500_000)
	return append(out, other)
}

// testHugeValues appends HugeEvents, one by one and then in one batch
// (upserts into existing rollups and sums within a batch both overflow),
// and checks that every read over them works and saturates.
func testHugeValues(t *testing.T, open func(t *testing.T) Store) {
	evs := HugeEvents(Start.Add(18 * time.Hour))
	for _, split := range []bool{true, false} {
		t.Run(map[bool]string{true: "appended one by one", false: "appended in one batch"}[split], func(t *testing.T) {
			t.Parallel()
			s := open(t)
			if split {
				for i := range evs {
					mustAppend(t, s, evs[i:i+1])
				}
			} else {
				mustAppend(t, s, evs)
			}
			AssertSaturated(t, s, evs, Start, Start.Add(3*24*time.Hour))
		})
	}
}

// AssertSaturated checks every read of s over [from, to), which holds
// exactly events: reports equal their saturated sums, unpriced models
// theirs, the hourly usage budgets rebuild from and the insight sums read
// without error and never turn negative.
func AssertSaturated(t *testing.T, s Store, events []allot.Event, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	queries := [][]allot.Dimension{nil, {allot.DimUser}, {allot.DimUser, allot.DimHour}, {allot.DimDay, allot.DimModel},
		{allot.DimTeam, allot.DimUser, allot.DimDay}, {allot.DimTask}}
	for round := range 2 { // the second round reads what the first cached
		for _, by := range queries {
			assertReport(t, s, events, allot.ReportQuery{By: by, From: from, To: to})
		}
		assertReport(t, s, events, allot.ReportQuery{By: []allot.Dimension{allot.DimHour}, From: from.Add(17 * time.Hour), To: to,
			Filter: map[allot.Dimension]string{allot.DimUser: "alice"}})
		if round == 0 {
			got, err := s.Unpriced(ctx)
			if err != nil {
				t.Fatalf("Unpriced: %v", err)
			}
			if want := ExpectedUnpriced(events); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Unpriced:\n got %+v\nwant %+v", got, want)
			}
		}
	}
	var total allot.Money
	var tokens int64
	err := s.EachHour(ctx, from, to, func(e allot.Event) error {
		if e.Cost < 0 || e.Tokens.Input < 0 || e.Tokens.Output < 0 {
			return fmt.Errorf("hour %s of %s: negative sums %v %+v", e.Time, e.User, e.Cost, e.Tokens)
		}
		total, tokens = total.Plus(e.Cost), allot.SatAdd(tokens, e.Tokens.Total())
		return nil
	})
	if err != nil {
		t.Errorf("EachHour (what budgets rebuild from): %v", err)
	}
	if total != allot.MaxMoney || tokens != math.MaxInt64 {
		t.Errorf("EachHour sums to %d nano-dollars and %d tokens, want both saturated", total, tokens)
	}
	for _, q := range []allot.InsightQuery{{From: from, To: to}, {From: from, To: to, Totals: true}, {From: from, To: to, User: "alice"}} {
		usage, err := s.InsightUsage(ctx, q)
		if err != nil {
			t.Errorf("InsightUsage %+v: %v", q, err)
		}
		var cost allot.Money
		for _, u := range usage {
			if u.Cost < 0 || u.Tokens.Input < 0 || u.Tokens.Output < 0 || u.Failed.Cost < 0 || u.Duplicates.Cost < 0 || u.NoMaxOutput < 0 {
				t.Errorf("InsightUsage %+v: negative sums in %+v", q, u)
			}
			cost = cost.Plus(u.Cost)
		}
		if cost != allot.MaxMoney {
			t.Errorf("InsightUsage %+v: costs sum to %d, want MaxMoney", q, cost)
		}
		calls, err := s.InsightCalls(ctx, q)
		if err != nil {
			t.Errorf("InsightCalls %+v: %v", q, err)
		}
		for _, p := range calls.Prompts {
			if p.Cost < 0 || p.Tokens.Input < 0 || p.Tokens.Output < 0 {
				t.Errorf("InsightCalls %+v: negative sums in prompt %+v", q, p)
			}
		}
		for _, ss := range calls.Sessions {
			if ss.Cost < 0 || ss.Tokens.Input < 0 || ss.Tokens.Output < 0 {
				t.Errorf("InsightCalls %+v: negative sums in session %+v", q, ss)
			}
		}
		days, err := s.DailySpend(ctx, q)
		if err != nil {
			t.Errorf("DailySpend %+v: %v", q, err)
		}
		want := expectedDaily(events, q)
		if len(days) != len(want) {
			t.Errorf("DailySpend %+v: %d rows, want %d", q, len(days), len(want))
		}
		for _, d := range days {
			if w := want[d.Day.Format(time.DateOnly)+" "+d.User]; d != w {
				t.Errorf("DailySpend %+v:\n got %+v\nwant %+v", q, d, w)
			}
		}
	}
}

// expectedDaily is DailySpend of events for q, by day and user, summed
// saturated.
func expectedDaily(events []allot.Event, q allot.InsightQuery) map[string]allot.DailySpend {
	out := map[string]allot.DailySpend{}
	for _, e := range events {
		if e.Time.Before(q.From) || !e.Time.Before(q.To) || q.User != "" && e.User != q.User || q.Team != "" && e.Team != q.Team {
			continue
		}
		day := e.Time.UTC().Truncate(24 * time.Hour)
		k := day.Format(time.DateOnly) + " " + e.User
		d := out[k]
		d.Day, d.Team, d.User = day, e.Team, e.User
		d.Requests++
		d.Tokens, d.Cost = allot.SatAdd(d.Tokens, e.Tokens.Total()), d.Cost.Plus(e.Cost)
		out[k] = d
	}
	return out
}
