package budget_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

// accountingModels are the models the accounting fuzz prices: the
// dearest in the catalog, tiered ones, and one without a price (whose
// reported cost is kept).
var accountingModels = []struct{ provider, model string }{
	{"openai", "gpt-4o"}, {"openai", "o1-pro"}, {"anthropic", "claude-opus-4-1"},
	{"anthropic", "claude-sonnet-4-5"}, {"google", "gemini-2.5-pro"}, {"acme", "acme-llm-70b"},
}

// FuzzAccounting drives random usage down the whole accounting path: the
// edge's validation (refused past one call's bounds) or the gateway's
// clamp of a provider's own report, pricing with pricing.Default(), a
// reservation and settlement on in-memory budget counters, the ledger's
// rollups and a report from SQLite. Nothing may panic, no spend may be
// negative or pass a block budget's limit, nothing may overflow, and the
// report's totals must equal the sum of the events stored. The store is
// opened once; each input gets an hour of its own.
func FuzzAccounting(f *testing.F) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "allot.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	catalog := pricing.Default()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var hour atomic.Int64

	f.Add(int64(1000), int64(200), int64(0), int64(0), int64(500), int64(0), int64(0), int64(4096), uint8(0), uint8(1), false)
	f.Add(int64(1e15), int64(0), int64(0), int64(0), int64(1e15), int64(0), int64(0), int64(math.MaxInt64), uint8(2), uint8(0), false) // issue #14
	f.Add(int64(1e15), int64(1e15), int64(7), int64(-3), int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(1<<31), uint8(1), uint8(2), true)
	f.Add(int64(100_000_000), int64(50_000_000), int64(25_000_000), int64(25_000_000), int64(100_000_000), int64(100_000_000), int64(0), int64(1844674407370955), uint8(4), uint8(2), true)
	f.Add(int64(10), int64(0), int64(0), int64(0), int64(10), int64(0), int64(math.MaxInt64), int64(0), uint8(5), uint8(0), false)
	f.Add(int64(-1), int64(math.MinInt64), int64(0), int64(0), int64(1), int64(0), int64(-5), int64(-1), uint8(3), uint8(1), true)

	f.Fuzz(func(t *testing.T, in, cacheRead, write5m, write1h, out, reasoning, reportedNano, maxTokens int64, model, copies uint8, gateway bool) {
		m := accountingModels[int(model)%len(accountingModels)]
		at := base.Add(time.Duration(hour.Add(1)) * time.Hour)
		reported := allot.Tokens{Input: in, CacheRead: cacheRead, CacheWrite5m: write5m, CacheWrite1h: write1h, Output: out, Reasoning: reasoning}

		// The edge. The gateway clamps a provider's own report (the call
		// happened) and prices it; it has no reported cost. Imports (OTLP,
		// /api/v1/usage, importers) refuse anything outside one call's
		// bounds and keep a reported cost for models without a price.
		tokens, cost, costKnown := reported, allot.Money(reportedNano), true
		if gateway {
			tokens, _ = reported.ClampCall()
			cost, costKnown = 0, false
		} else if reported.CheckCall() != nil || allot.CheckCallCost("cost_usd", cost) != nil {
			return
		}
		if err := tokens.CheckCall(); err != nil {
			t.Fatalf("usage past the edge is out of bounds: %+v: %v", tokens, err)
		}

		// Pricing.
		e := allot.Event{Time: at, Principal: allot.Principal{Org: "acme", Team: "t", User: "u"}, Provider: m.provider,
			RequestedModel: m.model, ServedModel: m.model, Source: allot.SourceImport, Status: 200, Tokens: tokens, Cost: cost, CostKnown: costKnown}
		ingest.Price(catalog, &e)
		if gateway {
			e.Source = allot.SourceGateway
			e.Cost, _ = allot.ClampCallCost(e.Cost)
		}
		if e.Cost < 0 || e.Cost > allot.MaxCallCost {
			t.Fatalf("%s priced %+v at %d nano-USD, outside 0..MaxCallCost", m.model, tokens, e.Cost)
		}

		// Budgets. The gateway reserves the worst case (the usage with the
		// output limit asked for; the actual output never passes it) and
		// settles the actual; imports are counted without a reservation
		// (Replay, as the budgeted recorder does).
		r, err := budget.New(allot.Policy{Budgets: []allot.Budget{
			{Name: "usd", Scope: "org", LimitUSD: "1000"},
			{Name: "tokens", Scope: "org", LimitTokens: 300_000_000},
			{Name: "watch", Scope: "org", LimitUSD: "0.01", OnExceed: allot.OnExceedNotify},
		}}, budget.NewMemoryCounters(), catalog, func() time.Time { return at })
		if err != nil {
			t.Fatal(err)
		}
		worst := tokens
		if maxTokens > worst.Output {
			worst.Output = maxTokens
		}
		n := 1 + int(copies%3)
		var stored []allot.Event
		var usd allot.Money
		var used int64
		for i := range n {
			ev := e
			ev.ID = ingest.ID("u", fmt.Sprintf("fuzz:%d:%d", at.Unix(), i))
			stored = append(stored, ev)
			if !gateway {
				usd, used = usd.Plus(ev.Cost), allot.SatAdd(used, ev.Tokens.Total())
				if err := r.Replay(ctx, []allot.Event{ev}); err != nil {
					t.Fatalf("replay: %v", err)
				}
				continue
			}
			adm, err := r.Admit(ctx, budget.Call{Principal: ev.Principal, Provider: m.provider, Model: m.model, Time: at, WorstCase: worst})
			if err != nil {
				if code := allot.CodeOf(err); code != allot.EBudget && code != allot.EInvalid {
					t.Fatalf("admit: %v", err)
				}
				if worst.CheckCall() == nil && allot.CodeOf(err) == allot.EInvalid {
					if c, _ := catalog.Cost(m.provider, m.model, at, worst); c <= allot.MaxCallCost {
						t.Fatalf("a worst case within the bounds (%+v, %d nano-USD) was refused: %v", worst, c, err)
					}
				}
				continue
			}
			if _, err := adm.Settle(ev.Cost, ev.Tokens); err != nil {
				t.Fatalf("settle: %v", err)
			}
			usd, used = usd.Plus(ev.Cost), allot.SatAdd(used, ev.Tokens.Total())
		}
		all, err := r.Status(ctx, at)
		if err != nil {
			t.Fatalf("budgets status: %v", err)
		}
		for _, s := range all {
			if s.Spent < 0 || s.Reserved != 0 || s.Limit <= 0 {
				t.Fatalf("budget %s: spent %d reserved %d of %d", s.Name, s.Spent, s.Reserved, s.Limit)
			}
			want := used
			if s.USD {
				want = int64(usd)
			}
			if s.Spent != want {
				t.Fatalf("budget %s spent %d, want the %d its calls used", s.Name, s.Spent, want)
			}
			if gateway && s.OnExceed != string(allot.OnExceedNotify) && s.Spent > s.Limit {
				t.Fatalf("budget %s passed its limit: spent %d of %d", s.Name, s.Spent, s.Limit)
			}
		}

		// The ledger: rollups and a report over this input's hour.
		if _, err := db.Append(ctx, stored); err != nil {
			t.Fatalf("append: %v", err)
		}
		rows, err := db.Report(ctx, allot.ReportQuery{From: at, To: at.Add(time.Hour)})
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		var want allot.ReportRow
		for _, ev := range stored {
			want.Requests++
			want.Tokens = want.Tokens.Add(ev.Tokens)
			want.Cost = want.Cost.Plus(ev.Cost)
		}
		if len(rows) != 1 || rows[0].Requests != want.Requests || rows[0].Tokens != want.Tokens || rows[0].Cost != want.Cost {
			t.Fatalf("report %v, want the sum of the %d events: %v", rows, len(stored), want)
		}
	})
}
