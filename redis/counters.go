// Package redis keeps budget and rate-limit counters in Redis, so several
// gateway replicas share them: every Reserve is one Lua script (EVALSHA),
// atomic across all its charges, and reservations carry leases that lapse
// inside the scripts when a replica dies holding them.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/allot-dev/allot/budget"
)

// Options tune Counters.
type Options struct {
	// Prefix starts every key allot writes, so several deployments (or
	// tests) can share one Redis database; default "allot:".
	Prefix string
	// Timeout bounds dialing and each round trip; default 1s. A store
	// slower than that counts as unreachable (see budget.Failover).
	Timeout time.Duration
	// PoolSize is the most connections kept open; default go-redis's (10
	// per CPU).
	PoolSize int
	// SkipPing makes New return without contacting Redis, so a gateway
	// running with fail_open can start while Redis is down.
	SkipPing bool
}

// Counters is budget.Counters in Redis. Amounts are exact while sums stay
// below 2^53 (about 9 million dollars in nano-dollars, or 9e15 tokens);
// Lua compares larger sums in floating point. It needs Redis 7 or later,
// standalone or behind Sentinel (not Cluster: the scripts touch keys they
// compute).
type Counters struct {
	client *goredis.Client
	prefix string
	addr   string // for error messages, without credentials
}

var _ budget.Counters = (*Counters)(nil)

// New connects to the Redis at url (redis://[user:password@]host:port/db
// or rediss:// for TLS; go-redis URL options such as ?pool_size=50 are
// accepted) and, unless opts.SkipPing, checks it answers.
func New(ctx context.Context, url string, opts Options) (*Counters, error) {
	ro, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis counters: url %q is not redis://host:port/db: %w", redactURL(url), err)
	}
	if opts.Prefix == "" {
		opts.Prefix = "allot:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
	if opts.PoolSize > 0 {
		ro.PoolSize = opts.PoolSize
	}
	// Never resend a script: a reply lost after Redis ran it would
	// reserve twice. A failed call is reported and the caller decides.
	ro.MaxRetries = -1
	c := &Counters{client: goredis.NewClient(ro), prefix: opts.Prefix, addr: ro.Addr}
	if !opts.SkipPing {
		if err := c.Ping(ctx); err != nil {
			c.client.Close()
			return nil, err
		}
	}
	return c, nil
}

// Ping checks that Redis answers.
func (c *Counters) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return c.fail(ctx, "ping", err)
	}
	return nil
}

// Close closes the connections.
func (c *Counters) Close() error { return c.client.Close() }

// Reserve implements budget.Counters.
func (c *Counters) Reserve(ctx context.Context, charges []budget.Charge) (int, error) {
	if len(charges) == 0 {
		return -1, nil
	}
	args := make([]any, 0, 2+8*len(charges))
	args = append(args, c.prefix, len(charges))
	for i := range charges {
		ch := &charges[i]
		if ch.Amount < 0 {
			return i, fmt.Errorf("reserve %s: negative amount %d", ch.Key, ch.Amount)
		}
		ttl := int64(0)
		if ch.Lease != "" && ch.LeaseTTL > 0 {
			ttl = max(ch.LeaseTTL.Milliseconds(), 1)
		}
		args = append(args, ch.Key, ch.Bucket, max(ch.Span, 1), ch.Amount, ch.Limit, ch.Lease, ttl, keepMillis(ch.Keep))
	}
	res, err := reserveScript.Run(ctx, c.client, nil, args...).Int64Slice()
	if err != nil {
		return -1, c.fail(ctx, "reserve", err)
	}
	if len(res) < 1 {
		return -1, fmt.Errorf("redis reserve %s: empty reply", c.addr)
	}
	for i := range charges {
		if 2+2*i < len(res) {
			charges[i].Spent, charges[i].Reserved = res[1+2*i], res[2+2*i]
		}
	}
	return int(res[0]), nil
}

// Settle implements budget.Counters.
func (c *Counters) Settle(ctx context.Context, charges []budget.Charge) error {
	res, err := c.settle(ctx, "settle", charges, true)
	if err != nil {
		return err
	}
	for i := range charges {
		if 1+2*i < len(res) {
			charges[i].Spent, charges[i].Reserved = res[2*i], res[1+2*i]
		}
	}
	return nil
}

// Release implements budget.Counters.
func (c *Counters) Release(ctx context.Context, charges []budget.Charge) error {
	rel := make([]budget.Charge, len(charges))
	for i, ch := range charges {
		ch.Actual = 0
		rel[i] = ch
	}
	_, err := c.settle(ctx, "release", rel, false)
	return err
}

// settle runs the settle script, returning the window sums if asked.
func (c *Counters) settle(ctx context.Context, op string, charges []budget.Charge, sums bool) ([]int64, error) {
	if len(charges) == 0 {
		return nil, nil
	}
	want := 0
	if sums {
		want = 1
	}
	args := make([]any, 0, 3+7*len(charges))
	args = append(args, c.prefix, len(charges), want)
	for i := range charges {
		ch := &charges[i]
		lease := ""
		if ch.Lease != "" && ch.LeaseTTL > 0 {
			lease = ch.Lease
		}
		args = append(args, ch.Key, ch.Bucket, max(ch.Span, 1), max(ch.Amount, 0), max(ch.Actual, 0), lease, keepMillis(ch.Keep))
	}
	res, err := settleScript.Run(ctx, c.client, nil, args...).Int64Slice()
	if err != nil {
		return nil, c.fail(ctx, op, err)
	}
	return res, nil
}

// Read implements budget.Counters.
func (c *Counters) Read(ctx context.Context, key string, bucket int64, span int) (int64, int64, error) {
	res, err := readScript.Run(ctx, c.client, nil, c.prefix, key, bucket, max(span, 1)).Int64Slice()
	if err != nil {
		return 0, 0, c.fail(ctx, "read", err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("redis read %s: reply of %d values, want 2", c.addr, len(res))
	}
	return res[0], res[1], nil
}

// AddSpent implements budget.Counters.
func (c *Counters) AddSpent(ctx context.Context, charges []budget.Charge) error {
	if len(charges) == 0 {
		return nil
	}
	args := make([]any, 0, 2+4*len(charges))
	args = append(args, c.prefix, len(charges))
	for i := range charges {
		args = append(args, charges[i].Key, charges[i].Bucket, max(charges[i].Actual, 0), keepMillis(charges[i].Keep))
	}
	if err := addSpentScript.Run(ctx, c.client, nil, args...).Err(); err != nil {
		return c.fail(ctx, "add spent", err)
	}
	return nil
}

// keepMillis is t in Unix milliseconds, 0 for the zero time.
func keepMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixMilli(), 1)
}

// fail wraps a Redis error with the operation and address, marking it
// budget.ErrUnreachable when Redis could not be reached or could not
// serve (as opposed to a script error or the caller giving up).
func (c *Counters) fail(ctx context.Context, op string, err error) error {
	if unreachable(ctx, err) {
		return fmt.Errorf("redis %s at %s: %w: %w", op, c.addr, budget.ErrUnreachable, err)
	}
	return fmt.Errorf("redis %s at %s: %w", op, c.addr, err)
}

// unreachable reports whether err means Redis is out of reach: a network
// error, a timeout, a closed client or pool, or a server that is loading,
// read-only or failing over.
func unreachable(ctx context.Context, err error) bool {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return false // the caller left; Redis may be fine
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) && !errors.Is(err, goredis.ErrClosed) {
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY"} {
			if strings.HasPrefix(rerr.Error(), p) {
				return true
			}
		}
		return false
	}
	return true
}

// redactURL hides a password in a Redis URL for error messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://" + "xxxxx" + rest[at:]
	}
	return u
}
