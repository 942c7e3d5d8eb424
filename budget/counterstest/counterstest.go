// Package counterstest is the executable contract of budget.Counters: one
// table-driven suite that every implementation (in memory, Redis, ...)
// must pass, so they stay interchangeable behind the Rationer.
package counterstest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot/budget"
)

// Step operations.
const (
	opReserve  = "reserve"
	opSettle   = "settle"
	opRelease  = "release"
	opAddSpent = "addspent"
	opRead     = "read"
	opWait     = "wait"
)

// step is one call in a scenario.
type step struct {
	op      string
	charges []budget.Charge
	failed  int          // reserve: the index expected back
	sums    map[int]sums // reserve, settle: the window sums each listed charge reports afterwards
	read    read         // read: what and what to expect
	wait    time.Duration
	wantErr bool // the call must fail (and change nothing)
}

// sums is a window's spent and reserved.
type sums struct{ spent, reserved int64 }

// read is one Read and its expected result.
type read struct {
	key    string
	bucket int64
	span   int
	want   sums
}

// Short names keep the tables readable.
func reserve(failed int, s map[int]sums, ch ...budget.Charge) step {
	return step{op: opReserve, failed: failed, sums: s, charges: ch}
}
func settle(s map[int]sums, ch ...budget.Charge) step {
	return step{op: opSettle, sums: s, charges: ch}
}
func release(ch ...budget.Charge) step  { return step{op: opRelease, charges: ch} }
func addSpent(ch ...budget.Charge) step { return step{op: opAddSpent, charges: ch} }
func readAt(key string, bucket int64, span int, spent, reserved int64) step {
	return step{op: opRead, read: read{key, bucket, span, sums{spent, reserved}}}
}
func wait(d time.Duration) step { return step{op: opWait, wait: d} }

// lapse is the lease life used by the lease scenarios: short enough for a
// fast test, long enough for a shared store's round trips.
const lapse = 300 * time.Millisecond

// leased returns ch under lease id for ttl.
func leased(id string, ttl time.Duration, ch budget.Charge) budget.Charge {
	ch.Lease, ch.LeaseTTL = id, ttl
	return ch
}

// scenarios is the contract, one scenario per rule.
var scenarios = []struct {
	name  string
	steps []step
}{
	{"reserve is all or nothing across charges", []step{
		reserve(-1, map[int]sums{0: {0, 6}, 1: {0, 6}},
			budget.Charge{Key: "a", Amount: 6, Limit: 10}, budget.Charge{Key: "b", Amount: 6, Limit: 10}),
		reserve(1, map[int]sums{1: {0, 6}}, // the charge that did not fit reports its sums as found
			budget.Charge{Key: "a", Amount: 4, Limit: 10}, budget.Charge{Key: "b", Amount: 5, Limit: 10}),
		readAt("a", 0, 1, 0, 6), // a's 4 was not added
		reserve(-1, map[int]sums{0: {0, 10}, 1: {0, 10}}, // exactly the limit fits
			budget.Charge{Key: "a", Amount: 4, Limit: 10}, budget.Charge{Key: "b", Amount: 4, Limit: 10}),
		reserve(0, nil, budget.Charge{Key: "a", Amount: 1, Limit: 10}),
		reserve(-1, nil, budget.Charge{Key: "a", Amount: 0, Limit: 10}), // nothing more still fits
		reserve(2, nil, budget.Charge{Key: "c", Amount: 1, Limit: 5}, budget.Charge{Key: "d", Amount: 1, Limit: 5}, budget.Charge{Key: "a", Amount: 1, Limit: 10}),
		readAt("c", 0, 1, 0, 0),
		readAt("d", 0, 1, 0, 0),
	}},
	{"a negative amount is an error", []step{
		{op: opReserve, wantErr: true, charges: []budget.Charge{{Key: "a", Amount: 1, Limit: 10}, {Key: "n", Amount: -1, Limit: 10}}},
		readAt("a", 0, 1, 0, 0),
	}},
	{"no limit never refuses", []step{
		reserve(-1, map[int]sums{0: {0, 100}}, budget.Charge{Key: "n", Amount: 100, Limit: budget.NoLimit}),
		reserve(-1, map[int]sums{0: {0, 105}}, budget.Charge{Key: "n", Amount: 5, Limit: budget.NoLimit}),
		reserve(-1, nil, budget.Charge{Key: "one", Amount: 1, Limit: 1}, budget.Charge{Key: "n", Amount: 1 << 40, Limit: budget.NoLimit}),
		reserve(0, nil, budget.Charge{Key: "one", Amount: 1, Limit: 1}, budget.Charge{Key: "n", Amount: 1, Limit: budget.NoLimit}),
		readAt("n", 0, 1, 0, 105+1<<40),
	}},
	{"settle below and above the amount", []step{
		reserve(-1, nil, budget.Charge{Key: "k", Bucket: 7, Amount: 10, Limit: 20}),
		settle(map[int]sums{0: {4, 0}}, budget.Charge{Key: "k", Bucket: 7, Amount: 10, Actual: 4}),
		readAt("k", 7, 1, 4, 0),
		reserve(-1, map[int]sums{0: {4, 10}}, budget.Charge{Key: "k", Bucket: 7, Amount: 10, Limit: 20}),
		settle(map[int]sums{0: {29, 0}}, budget.Charge{Key: "k", Bucket: 7, Amount: 10, Actual: 25}),   // spend is truth
		reserve(0, map[int]sums{0: {29, 0}}, budget.Charge{Key: "k", Bucket: 7, Amount: 0, Limit: 20}), // over the limit: even zero is refused
		readAt("k", 8, 1, 0, 0), // the next period starts empty
	}},
	{"release gives the room back", []step{
		reserve(-1, nil, budget.Charge{Key: "r", Amount: 5, Limit: 5}),
		reserve(0, nil, budget.Charge{Key: "r", Amount: 1, Limit: 5}),
		release(budget.Charge{Key: "r", Amount: 5}),
		readAt("r", 0, 1, 0, 0),
		reserve(-1, map[int]sums{0: {0, 5}}, budget.Charge{Key: "r", Amount: 5, Limit: 5}),
	}},
	{"limits apply over rolling spans", []step{
		reserve(-1, nil, budget.Charge{Key: "w", Bucket: 100, Span: 3, Amount: 1, Limit: 3}),
		reserve(-1, nil, budget.Charge{Key: "w", Bucket: 101, Span: 3, Amount: 1, Limit: 3}),
		reserve(-1, map[int]sums{0: {0, 3}}, budget.Charge{Key: "w", Bucket: 102, Span: 3, Amount: 1, Limit: 3}),
		reserve(0, map[int]sums{0: {0, 3}}, budget.Charge{Key: "w", Bucket: 102, Span: 3, Amount: 1, Limit: 3}),
		reserve(-1, map[int]sums{0: {0, 3}}, budget.Charge{Key: "w", Bucket: 103, Span: 3, Amount: 1, Limit: 3}), // bucket 100 left the window
		readAt("w", 103, 3, 0, 3),
		readAt("w", 103, 2, 0, 2),
		readAt("w", 103, 1, 0, 1),
		readAt("w", 104, 3, 0, 2),
		settle(map[int]sums{0: {2, 1}}, budget.Charge{Key: "w", Bucket: 101, Span: 3, Amount: 1, Actual: 2}),
		readAt("w", 103, 3, 2, 2),
		reserve(1, nil, budget.Charge{Key: "w", Bucket: 104, Span: 1, Amount: 1, Limit: 1}, budget.Charge{Key: "w2", Bucket: 104, Span: 3, Amount: 4, Limit: 3}),
		reserve(-1, map[int]sums{0: {2, 3}}, budget.Charge{Key: "w", Bucket: 104, Span: 4, Amount: 1, Limit: 5}), // a wider span reaches further back
	}},
	{"read and add spent", []step{
		readAt("nobody", 5, 1, 0, 0),
		readAt("nobody", 5, 60, 0, 0),
		addSpent(budget.Charge{Key: "s", Bucket: 1, Span: 2, Actual: 5}, budget.Charge{Key: "s", Bucket: 2, Span: 2, Actual: 6}),
		readAt("s", 2, 2, 11, 0),
		readAt("s", 2, 1, 6, 0),
		readAt("s", 3, 2, 6, 0),
		addSpent(budget.Charge{Key: "s", Bucket: 2, Amount: 100, Limit: 1, Actual: 1}), // Amount and Limit are ignored
		readAt("s", 2, 1, 7, 0),
		reserve(-1, map[int]sums{0: {7, 1}}, budget.Charge{Key: "s", Bucket: 2, Amount: 1, Limit: 8}),
		reserve(0, nil, budget.Charge{Key: "s", Bucket: 2, Amount: 1, Limit: 8}),
		addSpent(budget.Charge{Key: "s", Bucket: 2, Actual: 0}),
		readAt("s", 2, 1, 7, 1),
	}},
	{"leased reservations lapse unless settled or released", []step{
		reserve(-1, nil,
			leased("l1", lapse, budget.Charge{Key: "a", Amount: 5, Limit: 10}),
			leased("l1", lapse, budget.Charge{Key: "b", Bucket: 9, Span: 2, Amount: 5, Limit: 10})),
		reserve(-1, nil, budget.Charge{Key: "a", Amount: 3, Limit: 10}), // no lease: held until released
		reserve(0, nil, leased("l2", time.Hour, budget.Charge{Key: "a", Amount: 5, Limit: 10})),
		wait(2 * lapse),
		readAt("a", 0, 1, 0, 3),
		readAt("b", 9, 2, 0, 0),
		reserve(-1, map[int]sums{0: {0, 10}}, leased("l3", time.Hour, budget.Charge{Key: "a", Amount: 7, Limit: 10})),
		// A late settle of the lapsed lease counts the spend but takes
		// back nothing: l3's reservation stays whole.
		settle(map[int]sums{0: {2, 10}}, leased("l1", lapse, budget.Charge{Key: "a", Amount: 5, Actual: 2})),
		release(leased("l1", lapse, budget.Charge{Key: "b", Bucket: 9, Span: 2, Amount: 5})),
		readAt("b", 9, 2, 0, 0),
		release(leased("l3", time.Hour, budget.Charge{Key: "a", Amount: 7})),
		readAt("a", 0, 1, 2, 3),
		release(leased("l3", time.Hour, budget.Charge{Key: "a", Amount: 7})), // ended: nothing more to take back
		readAt("a", 0, 1, 2, 3),
		reserve(-1, nil, leased("l4", time.Hour, budget.Charge{Key: "c", Amount: 4, Limit: 10})),
		reserve(-1, nil, leased("l5", time.Hour, budget.Charge{Key: "c", Amount: 2, Limit: 10})),
		settle(map[int]sums{0: {4, 2}}, leased("l4", time.Hour, budget.Charge{Key: "c", Amount: 4, Actual: 4})),
		settle(map[int]sums{0: {4, 2}}, leased("l4", time.Hour, budget.Charge{Key: "c", Amount: 4, Actual: 0})),
		release(leased("l5", time.Hour, budget.Charge{Key: "c", Amount: 2})),
		readAt("c", 0, 1, 4, 0),
	}},
	// Issue #14: one absurd amount must not make a counter fail or wrap
	// around to negative spend, after which full budgets looked empty.
	{"sums saturate at the largest int64 instead of failing or wrapping", []step{
		addSpent(budget.Charge{Key: "o", Actual: big}, budget.Charge{Key: "o", Actual: big}),
		readAt("o", 0, 1, math.MaxInt64, 0),
		settle(map[int]sums{0: {math.MaxInt64, 0}}, budget.Charge{Key: "o", Actual: big}),
		reserve(0, map[int]sums{0: {math.MaxInt64, 0}}, budget.Charge{Key: "o", Amount: 0, Limit: 10}), // full stays full
		reserve(0, nil, budget.Charge{Key: "o", Amount: math.MaxInt64, Limit: big}),
		addSpent(budget.Charge{Key: "w", Bucket: 1, Span: 2, Actual: big}, budget.Charge{Key: "w", Bucket: 2, Span: 2, Actual: big}),
		readAt("w", 2, 2, math.MaxInt64, 0), // a window's sum saturates too
		readAt("w", 2, 1, big, 0),
		reserve(0, map[int]sums{0: {math.MaxInt64, 0}}, budget.Charge{Key: "w", Bucket: 2, Span: 2, Amount: 1, Limit: big}),
		reserve(0, map[int]sums{0: {0, 0}}, budget.Charge{Key: "r", Amount: math.MaxInt64, Limit: 10}),
		reserve(-1, map[int]sums{0: {0, math.MaxInt64}}, budget.Charge{Key: "r", Amount: math.MaxInt64, Limit: budget.NoLimit}),
		reserve(-1, map[int]sums{0: {0, math.MaxInt64}}, budget.Charge{Key: "r", Amount: big, Limit: budget.NoLimit}),
		readAt("r", 0, 1, 0, math.MaxInt64),
		reserve(0, nil, budget.Charge{Key: "r", Amount: 0, Limit: big}),
	}},
	{"a negative actual spends nothing", []step{
		addSpent(budget.Charge{Key: "n", Actual: 3}),
		settle(map[int]sums{0: {3, 0}}, budget.Charge{Key: "n", Actual: -5}),
		addSpent(budget.Charge{Key: "n", Actual: math.MinInt64}),
		readAt("n", 0, 1, 3, 0),
	}},
}

// big is 2^62: two of them pass the largest int64 (and it is exact in a
// double, as Redis's Lua sees numbers).
const big int64 = 1 << 62

// Run checks the Counters contract. newCounters returns empty counters for
// one subtest (subtests run in parallel, so each needs its own instance or
// key space) and registers any cleanup with t.Cleanup.
func Run(t *testing.T, newCounters func(t *testing.T) budget.Counters) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			play(t, newCounters(t), sc.steps)
		})
	}
	t.Run("500 concurrent reservations, exactly k fit", func(t *testing.T) {
		t.Parallel()
		ConcurrentReserves(t, []budget.Counters{newCounters(t)}, 500, 137)
	})
}

// play runs steps in order, failing the test at the first surprise.
func play(t *testing.T, c budget.Counters, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		where := fmt.Sprintf("step %d (%s)", i+1, s.op)
		var err error
		failed := -1
		charges := append([]budget.Charge(nil), s.charges...)
		switch s.op {
		case opReserve:
			failed, err = c.Reserve(ctx, charges)
		case opSettle:
			err = c.Settle(ctx, charges)
		case opRelease:
			err = c.Release(ctx, charges)
		case opAddSpent:
			err = c.AddSpent(ctx, charges)
		case opWait:
			time.Sleep(s.wait)
			continue
		case opRead:
			var got sums
			got.spent, got.reserved, err = c.Read(ctx, s.read.key, s.read.bucket, s.read.span)
			if err != nil {
				t.Fatalf("%s: Read: %v", where, err)
			}
			if got != s.read.want {
				t.Fatalf("%s: Read(%q, bucket %d, span %d) = spent %d reserved %d, want %d %d", where,
					s.read.key, s.read.bucket, s.read.span, got.spent, got.reserved, s.read.want.spent, s.read.want.reserved)
			}
			continue
		default:
			t.Fatalf("%s: unknown op", where)
		}
		if s.wantErr {
			if err == nil {
				t.Fatalf("%s: succeeded, want an error", where)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if s.op == opReserve && failed != s.failed {
			t.Fatalf("%s: Reserve = %d, want %d", where, failed, s.failed)
		}
		for j, want := range s.sums {
			if got := (sums{charges[j].Spent, charges[j].Reserved}); got != want {
				t.Fatalf("%s: charge %d (%s) reports spent %d reserved %d, want %d %d", where, j, charges[j].Key, got.spent, got.reserved, want.spent, want.reserved)
			}
		}
	}
}

// ConcurrentReserves races n goroutines, spread over the given counters
// (one per replica sharing a store, or just one), to reserve one unit each
// of a limit that fits exactly k, together with a second charge that has
// no limit. Exactly k must succeed, on both charges alike (all or
// nothing); settling them all leaves exactly k spent and nothing reserved.
func ConcurrentReserves(t *testing.T, replicas []budget.Counters, n, k int) {
	t.Helper()
	ctx := context.Background()
	const unit = 3
	limited := budget.Charge{Key: "race", Bucket: 42, Amount: unit, Limit: int64(k) * unit, LeaseTTL: time.Minute}
	free := budget.Charge{Key: "race-free", Bucket: 42, Span: 2, Amount: 1, Limit: budget.NoLimit, LeaseTTL: time.Minute}
	var admitted atomic.Int64
	var mu sync.Mutex
	var won [][]budget.Charge
	var wins []budget.Counters
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c := replicas[i%len(replicas)]
		wg.Go(func() {
			<-start
			ch := []budget.Charge{limited, free}
			ch[0].Lease = fmt.Sprintf("race-%d", i)
			ch[1].Lease = ch[0].Lease
			failed, err := c.Reserve(ctx, ch)
			if err != nil {
				t.Errorf("Reserve: %v", err)
				return
			}
			if failed >= 0 {
				if failed != 0 {
					t.Errorf("Reserve failed on charge %d, want 0 (the other has no limit)", failed)
				}
				return
			}
			admitted.Add(1)
			mu.Lock()
			won, wins = append(won, ch), append(wins, c)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if got := admitted.Load(); got != int64(k) {
		t.Fatalf("%d of %d concurrent reservations fit a limit of exactly %d", got, n, k)
	}
	check := func(when string, key string, span int, want sums) {
		t.Helper()
		for _, c := range replicas {
			spent, reserved, err := c.Read(ctx, key, 42, span)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := (sums{spent, reserved}); got != want {
				t.Fatalf("%s: %s spent %d reserved %d, want %d %d", when, key, got.spent, got.reserved, want.spent, want.reserved)
			}
		}
	}
	check("after reserving", "race", 1, sums{0, int64(k) * unit})
	check("after reserving", "race-free", 2, sums{0, int64(k)})
	for i, ch := range won {
		ch[0].Actual, ch[1].Actual = unit, 1
		if err := wins[i].Settle(ctx, ch); err != nil {
			t.Fatalf("Settle: %v", err)
		}
	}
	check("after settling", "race", 1, sums{int64(k) * unit, 0})
	check("after settling", "race-free", 2, sums{int64(k), 0})
}
