package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/budget/counterstest"
	"github.com/allot-dev/allot/redis"
)

// redisAddr returns ALLOT_TEST_REDIS_ADDR or skips the test.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("ALLOT_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("ALLOT_TEST_REDIS_ADDR is not set (e.g. 127.0.0.1:6379); skipping the Redis tests")
	}
	return addr
}

// testPrefix returns a key prefix of its own for one test and deletes
// every key under it when the test ends.
func testPrefix(t testing.TB, addr string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "allot-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up keys %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

// newCounters connects to the test Redis under prefix, or fails.
func newCounters(t testing.TB, addr, prefix string) *redis.Counters {
	t.Helper()
	c, err := redis.New(context.Background(), "redis://"+addr+"/0", redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("ALLOT_TEST_REDIS_ADDR=%s is set but Redis is unreachable: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCountersContract(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	counterstest.Run(t, func(t *testing.T) budget.Counters {
		return newCounters(t, addr, testPrefix(t, addr))
	})
}

// TestTwoReplicasShareOneBudget runs two separate Counters (as two gateway
// replicas would) on one Redis: 500 reservations race for a limit that
// fits exactly 137, and exactly 137 get in.
func TestTwoReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	a, b := newCounters(t, addr, prefix), newCounters(t, addr, prefix)
	counterstest.ConcurrentReserves(t, []budget.Counters{a, b}, 500, 137)
}

// TestDeadReplicaLeaseLapses has one replica reserve the whole budget and
// die without settling; the other gets the room back once the lease's
// TTL has passed, and not before.
func TestDeadReplicaLeaseLapses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	ctx := context.Background()
	const ttl = 500 * time.Millisecond
	charge := func(lease string) []budget.Charge {
		return []budget.Charge{
			{Key: "b|team#1", Bucket: 1764547200, Amount: 100, Limit: 100, Lease: lease, LeaseTTL: ttl, Keep: time.Now().Add(time.Hour)},
			{Key: "conc|team", Amount: 1, Limit: 1, Lease: lease, LeaseTTL: ttl, Keep: time.Now().Add(time.Hour)},
		}
	}
	dead := newCounters(t, addr, prefix)
	start := time.Now()
	if failed, err := dead.Reserve(ctx, charge("dead-1")); err != nil || failed != -1 {
		t.Fatalf("first replica Reserve = %d, %v", failed, err)
	}
	dead.Close() // kill -9: the reservation is never settled

	live := newCounters(t, addr, prefix)
	if failed, err := live.Reserve(ctx, charge("live-1")); err != nil || failed != 0 {
		t.Fatalf("second replica Reserve while the lease lives = %d, %v; want 0 (full)", failed, err)
	}
	deadline := start.Add(ttl + 200*time.Millisecond)
	for {
		failed, err := live.Reserve(ctx, charge("live-1"))
		if err != nil {
			t.Fatal(err)
		}
		if failed == -1 {
			if since := time.Since(start); since < ttl {
				t.Fatalf("the dead replica's reservation lapsed after %v, before its TTL of %v", since, ttl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead replica's reservation still holds %v after Reserve (TTL %v)", time.Since(start), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if spent, reserved, err := live.Read(ctx, "b|team#1", 1764547200, 1); err != nil || spent != 0 || reserved != 100 {
		t.Fatalf("Read = %d %d %v; want only the live replica's 100 reserved", spent, reserved, err)
	}
}

// TestKeysExpire checks that cells and lease sets carry TTLs past Keep and
// that charges without Keep (marks) do not.
func TestKeysExpire(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	ctx := context.Background()
	c := newCounters(t, addr, prefix)
	keep := time.Now().Add(24 * time.Hour)
	if _, err := c.Reserve(ctx, []budget.Charge{
		{Key: "kept", Bucket: 5, Amount: 1, Limit: 10, Lease: "l", LeaseTTL: time.Minute, Keep: keep},
		{Key: "mark", Bucket: 5, Amount: 1, Limit: 1},
	}); err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(&goredis.Options{Addr: addr})
	defer raw.Close()
	tests := []struct {
		key      string
		min, max time.Duration // -1: no TTL
	}{
		{prefix + "c:kept@5", 24 * time.Hour, 26 * time.Hour},
		{prefix + "l:kept", 24 * time.Hour, 26 * time.Hour},
		{prefix + "c:mark@5", -1, -1},
	}
	for _, tt := range tests {
		ttl, err := raw.PTTL(ctx, tt.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if tt.min < 0 {
			if ttl != -1 {
				t.Errorf("%s has TTL %v, want none", tt.key, ttl)
			}
			continue
		}
		if ttl < tt.min || ttl > tt.max {
			t.Errorf("%s has TTL %v, want between %v and %v", tt.key, ttl, tt.min, tt.max)
		}
	}
}

// BenchmarkReserveSettle is one admission's round trips: a Reserve of
// three charges and their Settle, over a real Redis.
func BenchmarkReserveSettle(b *testing.B) {
	addr := redisAddr(b)
	prefix := testPrefix(b, addr)
	c := newCounters(b, addr, prefix)
	ctx := context.Background()
	keep := time.Now().Add(time.Hour)
	ch := []budget.Charge{
		{Key: "b|org#1", Bucket: 1764547200, Amount: 20_000_000, Limit: 1 << 50, LeaseTTL: time.Minute, Keep: keep},
		{Key: "b|team#1", Bucket: 1764547200, Amount: 20_000_000, Limit: 1 << 50, LeaseTTL: time.Minute, Keep: keep},
		{Key: "b|user#1|alice", Bucket: 1764547200, Amount: 2000, Limit: 1 << 50, LeaseTTL: time.Minute, Keep: keep},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		lease := "bench." + string(rune('a'+i%26)) + time.Now().String()
		for j := range ch {
			ch[j].Lease = lease
		}
		if failed, err := c.Reserve(ctx, ch); err != nil || failed != -1 {
			b.Fatalf("Reserve = %d, %v", failed, err)
		}
		for j := range ch {
			ch[j].Actual = ch[j].Amount / 2
		}
		if err := c.Settle(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}
