package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/budget/counterstest"
)

// newTestCounters returns counters on db, closed when the test ends.
func newTestCounters(t testing.TB, db *DB) *Counters {
	t.Helper()
	c, err := NewCounters(context.Background(), db, CountersOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCountersContract(t *testing.T) {
	t.Parallel()
	testDSN(t)
	counterstest.Run(t, func(t *testing.T) budget.Counters { return newTestCounters(t, openTest(t)) })
}

// TestTwoReplicasShareOneBudget runs two separate Counters (as two gateway
// replicas would, each with its own pool) on one database: 500
// reservations race for a limit that fits exactly 137, and exactly 137
// get in.
func TestTwoReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	a := newTestCounters(t, openSchema(t, dsn, schema))
	b := newTestCounters(t, openSchema(t, dsn, schema))
	counterstest.ConcurrentReserves(t, []budget.Counters{a, b}, 500, 137)
}

// TestReserveLocksInAStableOrder reserves the same keys in opposite orders
// from many goroutines: with locks taken in key order none deadlocks, and
// every reservation fits.
func TestReserveLocksInAStableOrder(t *testing.T) {
	t.Parallel()
	c := newTestCounters(t, openTest(t))
	ctx := context.Background()
	keys := []string{"org", "team:data", "user:bob", "key:laptop"}
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			ch := make([]budget.Charge, len(keys))
			for j := range keys {
				k := keys[j]
				if i%2 == 1 {
					k = keys[len(keys)-1-j]
				}
				ch[j] = budget.Charge{Key: k, Bucket: 1, Amount: 1, Limit: budget.NoLimit}
			}
			failed, err := c.Reserve(ctx, ch)
			if err == nil && failed >= 0 {
				err = errors.New("a reservation without limit failed")
			}
			if err == nil {
				for j := range ch {
					ch[j].Actual = 1
				}
				err = c.Settle(ctx, ch)
			}
			errs <- err
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		if spent, reserved, err := c.Read(ctx, k, 1, 1); err != nil || spent != 64 || reserved != 0 {
			t.Errorf("%s: spent %d reserved %d (%v), want 64 0", k, spent, reserved, err)
		}
	}
}

// TestUnreachableIsMarked: a database that cannot be reached gives errors
// marked budget.ErrUnreachable, so Failover can apply its policy.
func TestUnreachableIsMarked(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	c := newTestCounters(t, db)
	c.pool.Close() // as if the database went away
	_, err := c.Reserve(context.Background(), []budget.Charge{{Key: "k", Amount: 1, Limit: 10}})
	if !errors.Is(err, budget.ErrUnreachable) {
		t.Errorf("Reserve on a closed pool: %v, want ErrUnreachable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c2 := newTestCounters(t, db)
	_, _, err = c2.Read(ctx, "k", 0, 1)
	if err == nil || errors.Is(err, budget.ErrUnreachable) {
		t.Errorf("Read with a cancelled context: %v, want an error not marked unreachable", err)
	}
}

// BenchmarkCountersReserve measures reserve-and-settle cycles of calls
// that all count against one budget (the worst case: every call of the
// org), and against a budget each (one per person), from 16 goroutines.
func BenchmarkCountersReserve(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "one-budget"
		if !shared {
			name = "budget-each"
		}
		b.Run(name, func(b *testing.B) {
			c := newTestCounters(b, openTest(b))
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				key := "org"
				if !shared {
					key = fmt.Sprintf("user:%d", n.Add(1))
				}
				for pb.Next() {
					ch := []budget.Charge{{Key: key, Bucket: 1, Amount: 10, Limit: budget.NoLimit, Lease: "l" + key, LeaseTTL: time.Minute}}
					if _, err := c.Reserve(ctx, ch); err != nil {
						b.Error(err)
						return
					}
					ch[0].Actual = 3
					if err := c.Settle(ctx, ch); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "calls/s")
		})
	}
}
