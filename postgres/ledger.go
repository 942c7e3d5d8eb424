package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot-dev/allot"
)

// sumColumns are the rollup sums, in the order the rollup tables hold them.
const sumColumns = `requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
	estimated_requests, cost_nano, unknown_cost_requests`

// appendSQL moves the staged batch into events, skipping ids already
// stored, in key order, so concurrent appends lock in one order and never
// deadlock. The events_rollup trigger (migrations/0003) folds the rows it
// inserts into the rollups.
const appendSQL = `INSERT INTO events (` + eventColumns + `)
	SELECT ` + eventColumns + ` FROM allot_staging ORDER BY id, time
	ON CONFLICT (id, time) DO NOTHING`

// rollupsByTrigger has the events_rollup trigger make the rollups of the
// rows the transaction inserts (an allot from before it sums them itself).
const rollupsByTrigger = `SET LOCAL allot.rollups = 'trigger'`

// Append stores events in one transaction and returns how many were new.
// An id already stored (at the same time), or repeated within the batch,
// is skipped and not counted; the rollups and unpriced totals grow only by
// the events actually inserted, so totals always equal the sum of events,
// also when replicas append overlapping batches at once.
//
// A batch is first appended the fast way: copied into events (binary
// COPY). If an event is stored already, the unique index refuses the copy
// and the batch is appended again the exact way: copied into a temporary
// table and inserted with ON CONFLICT DO NOTHING. Either way, the
// events_rollup trigger folds the rows inserted, and only those, into the
// rollups in the same statement. Strings and attributions new to the
// database are added before, in statements of their own (see resolveRefs).
func (db *DB) Append(ctx context.Context, events []allot.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	events = allot.CapEvents(events) // over-long labels, whatever path they took
	k := sortBatch(events)
	batch := k.batch
	for i := range batch {
		if batch[i].ID == "" {
			return 0, allot.Errorf(allot.EInvalid, "event at %s for user %q has no id; every event needs a stable idempotency id", batch[i].Time.Format(time.RFC3339), batch[i].User)
		}
	}
	// Next month's partition is made ahead of time, so that the first
	// events after midnight do not wait for it.
	months := []int{monthOf(time.Now()) + 1}
	for i := range batch {
		if m := monthOf(batch[i].Time); !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	exact, refreshed := false, false
	for {
		if err := db.ensurePartitions(ctx, months); err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		n, err := db.insert(ctx, k, exact)
		if err != nil && !exact && retryExact(err) {
			exact = true // some events are stored already
			continue
		}
		if err != nil && !refreshed && noPartition(err) {
			refreshed = true
			db.forgetPartitions() // another replica dropped a month we cached
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		return n, nil
	}
}

// sortedBatch is a batch of events with distinct ids, their encoded ids
// (ids[i] is batch[i]'s) and the batch's order by encoded id.
type sortedBatch struct {
	batch []allot.Event
	ids   [][]byte
	order []int
}

// sortBatch encodes the ids of events, drops repeats (the first occurrence
// wins, as it would had the events come one by one) and sorts them by id.
func sortBatch(events []allot.Event) sortedBatch {
	k := sortedBatch{batch: events, ids: make([][]byte, len(events)), order: make([]int, len(events))}
	for i := range events {
		k.ids[i], k.order[i] = encodeID(events[i].ID), i
	}
	slices.SortFunc(k.order, func(a, b int) int { return cmp.Or(bytes.Compare(k.ids[a], k.ids[b]), cmp.Compare(a, b)) })
	var repeats []bool
	for j := 1; j < len(k.order); j++ {
		if bytes.Equal(k.ids[k.order[j]], k.ids[k.order[j-1]]) {
			if repeats == nil {
				repeats = make([]bool, len(events))
			}
			repeats[k.order[j]] = true
		}
	}
	if repeats == nil {
		return k
	}
	var out []allot.Event
	for i := range events {
		if !repeats[i] {
			out = append(out, events[i])
		}
	}
	return sortBatch(out)
}

// insert appends batch in one transaction, the fast way or (exact) the
// exact way (see Append), and returns how many events it inserted. The
// transaction first takes shared locks on the days of the batch, so a day
// being closed meanwhile either sees these events in its hourly rows or is
// seen closed by the rollup trigger (see closeDay). Rows are copied in id
// order, as appendSQL inserts them, so concurrent appends of the same
// events wait for one another in one order and never deadlock.
//
// The fast way is one round trip (after the strings and attributions new
// to the database are added): a simple query that begins the transaction,
// takes the locks, copies the rows and commits.
func (db *DB) insert(ctx context.Context, k sortedBatch, exact bool) (int, error) {
	batch := k.batch
	var days []int64
	for i := range batch {
		if d := dayOf(batch[i].Time); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	locks := make([]int64, len(days))
	for i, d := range days {
		locks[i] = db.dayLock(d)
	}
	slices.Sort(locks)

	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release() // the pool drops a connection left in a transaction
	c := conn.Conn()
	committed := false
	defer func() {
		if !committed && c.PgConn().TxStatus() != 'I' {
			c.Exec(ctx, `ROLLBACK`)
		}
	}()
	refs, err := db.resolveRefs(ctx, c, batch)
	if err != nil {
		return 0, err
	}
	// The locks' ids are numbers: written into the query as they are.
	var q strings.Builder
	q.WriteString(`BEGIN; ` + rollupsByTrigger + `; SELECT pg_advisory_xact_lock_shared(l) FROM unnest('{`)
	for i, id := range locks {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(strconv.FormatInt(id, 10))
	}
	q.WriteString(`}'::int8[]) AS l; COPY `)
	rows := eventRows(batch, refs, k.ids, k.order)
	n := len(batch)
	if !exact {
		q.WriteString(pgx.Identifier{db.schema, "events"}.Sanitize() + ` (` + eventColumns + `) FROM STDIN (FORMAT binary); COMMIT`)
		if _, err := c.PgConn().CopyFrom(ctx, rows, q.String()); err != nil {
			return 0, fmt.Errorf("copy: %w", err)
		}
	} else {
		q.WriteString(`allot_staging (` + eventColumns + `) FROM STDIN (FORMAT binary)`)
		if _, err := c.PgConn().CopyFrom(ctx, rows, q.String()); err != nil {
			return 0, fmt.Errorf("copy: %w", err)
		}
		tag, err := c.Exec(ctx, appendSQL)
		if err != nil {
			return 0, fmt.Errorf("insert: %w", err)
		}
		n = int(tag.RowsAffected())
		if _, err := c.Exec(ctx, `COMMIT`); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
	}
	if c.PgConn().TxStatus() != 'I' {
		return 0, errors.New("commit: the transaction is still open")
	}
	committed = true
	return n, nil
}

// retryExact reports whether err, from appending a batch the fast way,
// calls for appending it again the exact way: an event of the batch is
// stored already (a unique violation), or a deadlock.
func retryExact(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01")
}

// noPartition reports whether err is PostgreSQL's "no partition of
// relation found for row".
func noPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Message, "no partition")
}

// Events returns the stored events with from <= Time < to, oldest first
// (ties by id), at most limit of them (all if limit <= 0). Times come back
// in UTC with microsecond precision; durations are exact to the microsecond.
func (db *DB) Events(ctx context.Context, from, to time.Time, limit int) ([]allot.Event, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	out, err := db.readEvents(ctx, `SELECT `+eventSelect+` FROM events e JOIN attrs a ON a.id = e.attr
		WHERE e.time >= $1 AND e.time < $2 ORDER BY e.time, e.id LIMIT $3`, from, to, lim)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Unpriced lists the models recorded without a known cost, with what they
// used and when they were last seen, most requests first (then by
// provider and model, byte order).
func (db *DB) Unpriced(ctx context.Context) ([]allot.UnpricedModel, error) {
	rows, err := db.pool.Query(ctx, `SELECT provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen FROM unpriced`)
	if err != nil {
		return nil, fmt.Errorf("read unpriced models: %w", err)
	}
	type row struct {
		provider, model int32
		u               allot.UnpricedModel
	}
	var raw []row
	var r row
	t := &r.u.Tokens
	var ids []int32
	if _, err := pgx.ForEachRow(rows, []any{&r.provider, &r.model, &r.u.Requests, &t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &t.Reasoning, &r.u.LastSeen}, func() error {
		raw = append(raw, r)
		ids = append(ids, r.provider, r.model)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read unpriced models: %w", err)
	}
	names, err := db.dict.names(ctx, db.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("read unpriced models: %w", err)
	}
	var out []allot.UnpricedModel
	for _, r := range raw {
		u := r.u
		u.Provider, u.Model, u.LastSeen = names[r.provider], names[r.model], u.LastSeen.UTC()
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b allot.UnpricedModel) int {
		if a.Requests != b.Requests {
			if a.Requests > b.Requests {
				return -1
			}
			return 1
		}
		if a.Provider != b.Provider {
			if a.Provider < b.Provider {
				return -1
			}
			return 1
		}
		if a.Model < b.Model {
			return -1
		}
		if a.Model > b.Model {
			return 1
		}
		return 0
	})
	return out, nil
}
