package redis_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/internal/tcpproxy"
	"github.com/allot-dev/allot/redis"
)

// perToken prices every token at one micro-dollar.
type perToken struct{}

func (perToken) Cost(_, _ string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	return allot.Money(t.Total()) * allot.MicroUSD, true
}

var (
	alice  = allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: "k1", KeyLabel: "laptop"}
	worst  = allot.Tokens{Input: 1000, Output: 1000} // $0.002 at perToken
	tenMax = allot.Policy{Budgets: []allot.Budget{{Name: "platform", Scope: "team:platform", LimitUSD: "0.02"}}}
)

// failoverSetup is a Rationer over Failover over Redis reached through a
// proxy, and a second Counters straight to Redis to look at the truth.
func failoverSetup(t *testing.T, policy budget.FailurePolicy) (*budget.Rationer, *budget.Failover, *tcpproxy.Proxy, *redis.Counters) {
	t.Helper()
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	p := tcpproxy.New(t, addr)
	viaProxy, err := redis.New(context.Background(), "redis://"+p.Addr+"/0", redis.Options{Prefix: prefix, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viaProxy.Close() })
	f, err := budget.NewFailover(viaProxy, budget.FailoverOptions{Policy: policy, Retry: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := budget.New(tenMax, f, perToken{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, f, p, newCounters(t, addr, prefix)
}

// admit is one call by alice with the $0.002 worst case.
func admit(r *budget.Rationer) (*budget.Admission, error) {
	return r.Admit(context.Background(), budget.Call{Principal: alice, Provider: "openai", Model: "gpt-4o", WorstCase: worst})
}

// waitReachable waits until f is back on Redis.
func waitReachable(t *testing.T, f *budget.Failover) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f.Reachable(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Redis is reachable again but Failover does not use it")
		}
	}
}

// truth is the team budget's spent and reserved in Redis this month.
func truth(t *testing.T, direct *redis.Counters) (spent, reserved int64) {
	t.Helper()
	// Status reads through the Failover; read the same counter directly.
	direct2, err := budget.New(tenMax, direct, perToken{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := direct2.Status(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return all[0].Spent, all[0].Reserved
}

func TestFailClosedWithRedisGone(t *testing.T) {
	t.Parallel()
	r, f, p, direct := failoverSetup(t, budget.FailClosed)
	a, err := admit(r)
	if err != nil {
		t.Fatalf("Admit with Redis up: %v", err)
	}
	a.Settle(allot.MustUSD("0.001"), worst)
	p.Cut()
	for i := range 3 {
		_, err := admit(r)
		e := allot.ErrorOf(err)
		if err == nil || e.Code != allot.EUnavailable || !strings.Contains(e.Message, "budget store is unreachable") {
			t.Fatalf("Admit %d with Redis gone = %v, want EUnavailable saying the budget store is unreachable", i, err)
		}
	}
	p.Restore()
	waitReachable(t, f)
	b, err := admit(r)
	if err != nil {
		t.Fatalf("Admit after Redis is back: %v", err)
	}
	b.Settle(allot.MustUSD("0.001"), worst)
	if spent, reserved := truth(t, direct); spent != int64(allot.MustUSD("0.002")) || reserved != 0 {
		t.Errorf("Redis holds spent %d reserved %d, want 0.002 spent and nothing reserved", spent, reserved)
	}
}

func TestFailOpenWithRedisGoneReconciles(t *testing.T) {
	t.Parallel()
	r, f, p, direct := failoverSetup(t, budget.FailOpen)
	for range 3 { // $0.006 spent in Redis
		a, err := admit(r)
		if err != nil {
			t.Fatal(err)
		}
		a.Settle(a.WorstCase, worst)
	}
	inFlight, err := admit(r)
	if err != nil {
		t.Fatal(err)
	}
	p.Cut()
	served := 0
	for range 10 {
		a, err := admit(r)
		if err != nil {
			if allot.CodeOf(err) != allot.EBudget {
				t.Fatalf("Admit with Redis gone under fail_open = %v, want it served locally", err)
			}
			continue
		}
		served++
		a.Settle(allot.MustUSD("0.001"), worst)
	}
	if served == 0 || f.Reachable() {
		t.Fatalf("served %d calls locally (reachable %v); want some, and Redis seen as down", served, f.Reachable())
	}
	inFlight.Settle(inFlight.WorstCase, worst) // ends while Redis is away
	p.Restore()
	waitReachable(t, f)
	want := 4*int64(allot.MustUSD("0.002")) + int64(served)*int64(allot.MustUSD("0.001"))
	if spent, reserved := truth(t, direct); spent != want || reserved != 0 {
		t.Errorf("Redis holds spent %d reserved %d after recovery, want %d (4 calls before, %d served locally) and 0", spent, reserved, want, served)
	}
}
