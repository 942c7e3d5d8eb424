package budget

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

type nopRecorder struct{}

func (nopRecorder) Record(allot.Event) {}

// TestReportedUsageCannotWrapBudgets is issue #14's OTLP failure seen from
// the budgets: usage counted through Reported (OTLP,
// /api/v1/usage) with absurd numbers wrapped in-memory budgets to spent
// -$9.2 billion, after which refused calls were admitted. The edges now
// refuse such usage; should any get past them, the counters saturate: the
// budget reads full, not negative, and stays refusing.
func TestReportedUsageCannotWrapBudgets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	r, err := New(allot.Policy{Budgets: []allot.Budget{
		{Name: "usd", Scope: "user:bob", LimitUSD: "10"},
		{Name: "tokens", Scope: "user:bob", LimitTokens: 1_000_000},
	}}, NewMemoryCounters(), flatPricer{}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	live := &Live{}
	live.cur.Store(r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := NewReported(ctx, nopRecorder{}, live, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bob := allot.Principal{Org: "acme", Team: "data", User: "bob"}
	for i := range 2 { // two of them wrapped to -2 nano-dollars
		rec.Record(allot.Event{ID: string(rune('a' + i)), Time: now, Principal: bob, Provider: "anthropic", ServedModel: "claude-haiku-4-5",
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
	if _, err := r.Admit(ctx, Call{Principal: bob, Provider: "anthropic", Model: "claude-haiku-4-5", Time: now, WorstCase: allot.Tokens{Input: 10, Output: 10}}); err == nil {
		t.Error("a full budget admitted a call")
	}
}
