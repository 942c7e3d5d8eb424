package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/pricing"
)

type nopRecorder struct{}

func (nopRecorder) Record(allot.Event) {}

// TestReportedUsageCannotWrapBudgets is issue #14's OTLP failure seen from
// the budgets: usage counted through the budgeted recorder (OTLP,
// /api/v1/usage) with absurd numbers wrapped in-memory budgets to spent
// -$9.2 billion, after which refused calls were admitted. The edges now
// refuse such usage; should any get past them, the counters saturate: the
// budget reads full, not negative, and stays refusing.
func TestReportedUsageCannotWrapBudgets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	r, err := budget.New(allot.Policy{Budgets: []allot.Budget{
		{Name: "usd", Scope: "user:bob", LimitUSD: "10"},
		{Name: "tokens", Scope: "user:bob", LimitTokens: 1_000_000},
	}}, budget.NewMemoryCounters(), pricing.Default(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	live := &liveRationer{}
	live.cur.Store(r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newBudgetedRecorder(ctx, nopRecorder{}, live, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bob := allot.Principal{Org: "acme", Team: "data", User: "bob"}
	for i := range 2 { // two of them wrapped to -2 nano-dollars
		rec.Record(allot.Event{ID: string(rune('a' + i)), Time: now, Principal: bob, Provider: "anthropic", ServedModel: "claude-sonnet-4-5",
			Source: allot.SourceOTLP, Tokens: allot.Tokens{Input: math.MaxInt64, Output: 1_000_000_000_000_000}, Cost: allot.MaxMoney, CostKnown: true})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		all, err := r.Status(ctx, now)
		if err != nil {
			t.Fatalf("budgets status: %v", err)
		}
		full := 0
		for _, s := range all {
			if s.Spent < 0 || s.Reserved < 0 {
				t.Fatalf("budget %s wrapped: spent %d reserved %d", s.Name, s.Spent, s.Reserved)
			}
			if s.Spent == math.MaxInt64 {
				full++
			}
		}
		if full == len(all) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("budgets never counted the usage: %+v", all)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := r.Admit(ctx, budget.Call{Principal: bob, Provider: "anthropic", Model: "claude-sonnet-4-5", Time: now, WorstCase: allot.Tokens{Input: 10, Output: 10}}); err == nil {
		t.Error("a full budget admitted a call")
	}
}
