package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot-dev/allot/budget"
)

// CountersOptions tune Counters.
type CountersOptions struct {
	// Timeout bounds each call; default 2s. A database slower than that
	// counts as unreachable (see budget.Failover).
	Timeout time.Duration
	// MaxConns caps the counters' own connection pool; default 8.
	MaxConns int32
}

// Counters is budget.Counters in PostgreSQL, for deployments with a
// PostgreSQL database and no Redis: every call is one statement running
// one server-side function (migrations/0002_counters.sql), so Reserve is
// atomic across all its charges and across replicas. Each key is guarded
// by a transaction-level advisory lock, taken in ascending order so
// concurrent calls never deadlock. Lease deadlines use the database's
// clock, shared by every replica.
//
// Counters use their own small pool with synchronous_commit off: a
// PostgreSQL crash may forget the last fraction of a second of counter
// changes (as Redis without fsync would), and calls do not wait for the
// disk. Every call on one key runs one at a time, so one budget takes a
// few thousand reservations a second; Redis goes further.
type Counters struct {
	pool    *pgxpool.Pool
	schema  string
	target  string
	timeout time.Duration

	pruneMu   sync.Mutex
	nextPrune time.Time
}

var _ budget.Counters = (*Counters)(nil)

// NewCounters returns counters in db's database and schema, on a pool of
// their own. Close them before db.
func NewCounters(ctx context.Context, db *DB, opts CountersOptions) (*Counters, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	cfg := db.pool.Config()
	cfg.MaxConns = opts.MaxConns
	cfg.MinConns = 0
	cfg.AfterConnect = nil
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres counters %s: %w", db.target, err)
	}
	return &Counters{pool: pool, schema: db.schema, target: db.target, timeout: opts.Timeout}, nil
}

// Close closes the counters' connections.
func (c *Counters) Close() error {
	c.pool.Close()
	return nil
}

// columns are a batch of charges as the functions' array arguments.
type columns struct {
	locks   []int64
	keys    []string
	buckets []int64
	spans   []int32
	amounts []int64
	limits  []int64
	actuals []int64
	leases  []string
	ttls    []int64
	keeps   []*time.Time
}

// columnsOf spreads charges into arrays, with the advisory locks of their
// keys sorted and without repeats.
func (c *Counters) columnsOf(charges []budget.Charge) columns {
	var a columns
	for i := range charges {
		ch := &charges[i]
		lease, ttl := "", int64(0)
		if ch.Lease != "" && ch.LeaseTTL > 0 {
			lease, ttl = ch.Lease, max(ch.LeaseTTL.Milliseconds(), 1)
		}
		a.locks = append(a.locks, lockID(c.schema, "counter\x00"+ch.Key))
		a.keys = append(a.keys, ch.Key)
		a.buckets = append(a.buckets, ch.Bucket)
		a.spans = append(a.spans, int32(max(ch.Span, 1)))
		a.amounts = append(a.amounts, ch.Amount)
		a.limits = append(a.limits, ch.Limit)
		a.actuals = append(a.actuals, max(ch.Actual, 0)) // spend only grows
		a.leases = append(a.leases, lease)
		a.ttls = append(a.ttls, ttl)
		a.keeps = append(a.keeps, nullTime(ch.Keep))
	}
	slices.Sort(a.locks)
	a.locks = slices.Compact(a.locks)
	return a
}

// Reserve implements budget.Counters.
func (c *Counters) Reserve(ctx context.Context, charges []budget.Charge) (int, error) {
	if len(charges) == 0 {
		return -1, nil
	}
	for i := range charges {
		if charges[i].Amount < 0 {
			return i, fmt.Errorf("reserve %s: negative amount %d", charges[i].Key, charges[i].Amount)
		}
	}
	c.maybePrune(ctx)
	a := c.columnsOf(charges)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var res []int64
	err := c.pool.QueryRow(ctx, `SELECT counter_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.locks, a.keys, a.buckets, a.spans, a.amounts, a.limits, a.leases, a.ttls, a.keeps).Scan(&res)
	if err != nil {
		return -1, c.fail(ctx, "reserve", err)
	}
	if len(res) != 1+2*len(charges) {
		return -1, fmt.Errorf("postgres reserve %s: reply of %d values, want %d", c.target, len(res), 1+2*len(charges))
	}
	failed := int(res[0])
	for i := range charges {
		if failed < 0 || i <= failed {
			charges[i].Spent, charges[i].Reserved = res[1+2*i], res[2+2*i]
		}
	}
	return failed, nil
}

// Settle implements budget.Counters.
func (c *Counters) Settle(ctx context.Context, charges []budget.Charge) error {
	res, err := c.settle(ctx, "settle", charges, true)
	if err != nil {
		return err
	}
	if len(res) != 2*len(charges) {
		return fmt.Errorf("postgres settle %s: reply of %d values, want %d", c.target, len(res), 2*len(charges))
	}
	for i := range charges {
		charges[i].Spent, charges[i].Reserved = res[2*i], res[2*i+1]
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

// settle runs counter_settle, returning the window sums if asked.
func (c *Counters) settle(ctx context.Context, op string, charges []budget.Charge, sums bool) ([]int64, error) {
	if len(charges) == 0 {
		return nil, nil
	}
	a := c.columnsOf(charges)
	for i := range a.amounts {
		a.amounts[i] = max(a.amounts[i], 0)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var res []int64
	err := c.pool.QueryRow(ctx, `SELECT counter_settle($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.locks, a.keys, a.buckets, a.spans, a.amounts, a.actuals, a.leases, a.keeps, sums).Scan(&res)
	if err != nil {
		return nil, c.fail(ctx, op, err)
	}
	return res, nil
}

// readSQL sums a window, not counting leases that lapsed (the next call
// that locks the key takes them back for good). Sums saturate
// (counter_sum, migrations/0006_counters_saturate.sql).
const readSQL = `SELECT coalesce(counter_sum(c.spent), 0), coalesce(counter_sum(greatest(c.reserved - coalesce((
		SELECT counter_sum(l.amount) FROM counter_leases l WHERE l.key = c.key AND l.bucket = c.bucket AND l.deadline <= clock_timestamp()), 0), 0)), 0)
	FROM counter_cells c WHERE c.key = $1 AND c.bucket > $2::int8 - $3::int8 AND c.bucket <= $2::int8`

// Read implements budget.Counters.
func (c *Counters) Read(ctx context.Context, key string, bucket int64, span int) (int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var spent, reserved int64
	if err := c.pool.QueryRow(ctx, readSQL, key, bucket, int64(max(span, 1))).Scan(&spent, &reserved); err != nil {
		return 0, 0, c.fail(ctx, "read", err)
	}
	return spent, reserved, nil
}

// addSpentSQL adds the Actual of each charge to its cell, summing repeats
// of one cell first and writing cells in key order; sums saturate and a
// negative Actual adds nothing.
const addSpentSQL = `INSERT INTO counter_cells AS c (key, bucket, spent, reserved, keep)
	SELECT key, bucket, counter_sum(actual), 0, CASE WHEN bool_or(keep IS NULL) THEN NULL ELSE max(keep) END
	FROM unnest($1::text[], $2::int8[], $3::int8[], $4::timestamptz[]) AS u(key, bucket, actual, keep)
	WHERE actual > 0 GROUP BY key, bucket ORDER BY key, bucket
	ON CONFLICT (key, bucket) DO UPDATE SET spent = counter_add(c.spent, excluded.spent), keep = counter_keep(c.keep, excluded.keep)`

// AddSpent implements budget.Counters.
func (c *Counters) AddSpent(ctx context.Context, charges []budget.Charge) error {
	if len(charges) == 0 {
		return nil
	}
	a := c.columnsOf(charges)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Under the keys' locks, like every other write, so that cells are
	// never row-locked in two orders at once.
	err := pgxBeginExec(ctx, c.pool, a.locks, addSpentSQL, a.keys, a.buckets, a.actuals, a.keeps)
	if err != nil {
		return c.fail(ctx, "add spent", err)
	}
	return nil
}

// pgxBeginExec runs query in a transaction after taking the advisory locks.
func pgxBeginExec(ctx context.Context, pool *pgxpool.Pool, locks []int64, query string, args ...any) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT counter_lock($1)`, locks); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, query, args...); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pruneEvery is how often a process deletes cells past their keep time.
const pruneEvery = 10 * time.Minute

// maybePrune deletes, at most every pruneEvery, the cells whose keep time
// passed more than an hour ago, with their leases, in the background.
func (c *Counters) maybePrune(ctx context.Context) {
	c.pruneMu.Lock()
	now := time.Now()
	due := now.After(c.nextPrune)
	if due {
		c.nextPrune = now.Add(pruneEvery)
	}
	c.pruneMu.Unlock()
	if !due {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = c.pool.Exec(ctx, `WITH gone AS (
			DELETE FROM counter_cells WHERE keep < clock_timestamp() - interval '1 hour' RETURNING key, bucket
		) DELETE FROM counter_leases l USING gone WHERE l.key = gone.key AND l.bucket = gone.bucket`)
	}()
}

// fail wraps a database error with the operation, marking it
// budget.ErrUnreachable when the database could not be reached or could
// not serve in time (as opposed to a bug, or the caller giving up).
func (c *Counters) fail(ctx context.Context, op string, err error) error {
	if unreachable(ctx, err) {
		return fmt.Errorf("postgres counters %s at %s: %w: %w", op, c.target, budget.ErrUnreachable, err)
	}
	return fmt.Errorf("postgres counters %s at %s: %w", op, c.target, err)
}

// unreachable reports whether err means the database is out of reach: a
// network error, a timeout, a closed pool, or a server shutting down,
// starting up or refusing connections.
func unreachable(ctx context.Context, err error) bool {
	if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
		return false // the caller left; the database may be fine
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300", pe.Code == "57014":
			// admin or crash shutdown, cannot connect now, too many
			// connections, statement cancelled (by our timeout)
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &ce) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) || err.Error() == "closed pool"
}
