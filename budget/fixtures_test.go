package budget

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// testPrices are nano-dollars per token (input and output alike) for the
// models the tests use; any other model has no price.
var testPrices = map[string]allot.Money{
	"gpt-4o":           10_000, // $10 per million tokens
	"gpt-4o-mini":      600,
	"claude-opus-4":    75_000,
	"claude-haiku-4-5": 5_000,
}

// flatPricer prices every token of a model at its testPrices rate.
type flatPricer struct{}

func (flatPricer) Cost(_, model string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	p, ok := testPrices[model]
	return p * allot.Money(t.Total()), ok
}

// clock is a simulated clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(s string) *clock { return &clock{now: mustTime(s)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = mustTime(s)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// worst1k is a worst case of 1,000 input and 1,000 output tokens: $0.02 on gpt-4o.
var worst1k = allot.Tokens{Input: 1000, Output: 1000}

var (
	alice  = allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: "k1", KeyLabel: "laptop"}
	bob    = allot.Principal{Org: "acme", Team: "platform", User: "bob", KeyID: "k2", KeyLabel: "ci"}
	intern = allot.Principal{Org: "acme", Team: "interns", User: "ivy", KeyID: "k3", KeyLabel: "laptop"}
)

// newRationer builds a Rationer over fresh memory counters or fails the test.
func newRationer(t testing.TB, p allot.Policy, clk *clock) (*Rationer, *MemoryCounters) {
	t.Helper()
	c := NewMemoryCounters()
	r, err := New(p, c, flatPricer{}, clk.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, c
}

// call is a gpt-4o call by p with the 1k worst case.
func call(p allot.Principal, model string) Call {
	return Call{Principal: p, Provider: "openai", Model: model, WorstCase: worst1k}
}

// codeOf returns the allot error code and the error itself.
func codeOf(err error) (allot.ErrorCode, *allot.Error) {
	var e *allot.Error
	if errors.As(err, &e) {
		return e.Code, e
	}
	return allot.CodeOf(err), nil
}

// statusOf returns the named budget's status.
func statusOf(t testing.TB, r *Rationer, name string, now time.Time) BudgetStatus {
	t.Helper()
	all, err := r.Status(context.Background(), now)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for budget %q in %+v", name, all)
	return BudgetStatus{}
}

// usd is a budget limit of n worst-case gpt-4o calls ($0.02 each).
func usd(n int64) string { return (allot.Money(n) * 20 * allot.MicroUSD * 1000).String() }
