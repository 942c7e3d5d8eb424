package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openaisdk "github.com/openai/openai-go/v3"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/redis"
)

// TestReplicasShareOneBudget is design invariant 2 across replicas: two
// gateways sharing budget counters in Redis take 500 concurrent calls
// between them against one budget that fits exactly k; exactly k reach
// the provider and spend stays within the limit.
func TestReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	addr := os.Getenv("ALLOT_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("ALLOT_TEST_REDIS_ADDR is not set: skipping the Redis replica test")
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("allot-test-%d:", time.Now().UnixNano())
	open := func() *redis.Counters {
		c, err := redis.New(ctx, "redis://"+addr+"/0", redis.Options{Prefix: prefix, Timeout: 15 * time.Second, PoolSize: 128}) // -race and 500 calls at once on 2 cores
		if err != nil {
			t.Fatalf("redis at %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const n, k = 500, 37
	worst := worstCaseOf(t, "gpt-4o")
	limit := (allot.Money(k)*worst + worst/2).String()
	policy := &allot.Policy{Budgets: []allot.Budget{{Name: "platform-monthly", Scope: "team:platform", LimitUSD: limit}}}
	g := newGate()
	replicas := []*harness{
		newHarness(t, harnessOptions{policy: policy, wrapSim: g.wrap, counters: open()}),
		newHarness(t, harnessOptions{policy: policy, wrapSim: g.wrap, counters: open()}),
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		h := replicas[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o"))
			var apiErr *openaisdk.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
				refused.Add(1)
			default:
				t.Errorf("call failed: %v", err)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for refused.Load() < n-k && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := g.arrived.Load(); got != k {
		t.Errorf("%d calls reached the provider while all were reserved, want exactly %d", got, k)
	}
	close(g.open)
	wg.Wait()
	if ok.Load() != k {
		t.Fatalf("ok=%d refused=%d, want exactly %d ok", ok.Load(), refused.Load(), k)
	}
	var spent allot.Money
	for _, h := range replicas {
		for _, e := range h.events() {
			spent += e.Cost
		}
	}
	if max, _ := allot.ParseUSD(limit); spent > max {
		t.Fatalf("replicas spent %s of a %s budget", spent, max)
	}
}
