package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot-dev/allot"
)

// sumColumns are the rollup sums, in the order appendSQL writes them.
const sumColumns = `requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
	estimated_requests, cost_nano, unknown_cost_requests`

// addSums is the ON CONFLICT clause adding excluded's sums to r's.
const addSums = `requests = r.requests + excluded.requests,
		input = r.input + excluded.input,
		cache_read = r.cache_read + excluded.cache_read,
		cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
		cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
		output = r.output + excluded.output,
		reasoning = r.reasoning + excluded.reasoning,
		estimated_requests = r.estimated_requests + excluded.estimated_requests,
		cost_nano = r.cost_nano + excluded.cost_nano,
		unknown_cost_requests = r.unknown_cost_requests + excluded.unknown_cost_requests`

// appendSQL moves the staged batch into events, skipping ids already
// stored, and folds exactly the rows it inserted (RETURNING) into the
// hourly rollups and the unpriced totals, and, for late events of a day
// already closed (daily.go), into its daily rollups, in one statement. Its
// arguments map the batch's attributions to their team and user ($1 ids,
// $2 teams, $3 users), which spares a join with attrs. Rows
// are inserted and upserted in key order, so concurrent appends lock in
// the same order and never deadlock. It returns how many were inserted.
const appendSQL = `WITH ins AS (
	INSERT INTO events (time, latency_us, ttft_us, request_bytes, max_tokens, system_fp, request_fp,
		input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano, attr, session, messages, status, flags, id)
	SELECT time, latency_us, ttft_us, request_bytes, max_tokens, system_fp, request_fp,
		input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano, attr, session, messages, status, flags, id
	FROM allot_staging ORDER BY id, time
	ON CONFLICT (id, time) DO NOTHING
	RETURNING time, attr, flags, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano
), h AS (
	SELECT floor(extract(epoch FROM time) / 3600)::int4 AS hour, floor(extract(epoch FROM time) / 86400)::int4 AS day,
		attr, count(*) AS requests, sum8(input) AS input,
		sum8(cache_read) AS cache_read, sum8(cache_write_5m) AS cache_write_5m, sum8(cache_write_1h) AS cache_write_1h,
		sum8(output) AS output, sum8(reasoning) AS reasoning, count(*) FILTER (WHERE flags & 4 <> 0) AS estimated_requests,
		sum8(cost_nano) AS cost_nano, count(*) FILTER (WHERE flags & 2 = 0) AS unknown_cost_requests
	FROM ins GROUP BY 1, 2, 3
), hourly AS (
	INSERT INTO rollups_hourly AS r (hour, attr, ` + sumColumns + `)
	SELECT hour, attr, ` + sumColumns + ` FROM h ORDER BY hour, attr
	ON CONFLICT (hour, attr) DO UPDATE SET ` + addSums + `
), daily AS (
	INSERT INTO rollups_daily AS r (day, attr, ` + sumColumns + `)
	SELECT day, attr, sum8(requests), sum8(input), sum8(cache_read), sum8(cache_write_5m), sum8(cache_write_1h),
		sum8(output), sum8(reasoning), sum8(estimated_requests), sum8(cost_nano), sum8(unknown_cost_requests)
	FROM h WHERE day IN (SELECT day FROM rollups_days) GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (day, attr) DO UPDATE SET ` + addSums + `
), udaily AS (
	INSERT INTO rollups_user_daily AS r (day, team, usr, ` + sumColumns + `)
	SELECT h.day, a.team, a.usr, sum8(h.requests), sum8(h.input), sum8(h.cache_read), sum8(h.cache_write_5m),
		sum8(h.cache_write_1h), sum8(h.output), sum8(h.reasoning), sum8(h.estimated_requests), sum8(h.cost_nano), sum8(h.unknown_cost_requests)
	FROM h JOIN unnest($1::int4[], $2::int4[], $3::int4[]) AS a(id, team, usr) ON a.id = h.attr
	WHERE h.day IN (SELECT day FROM rollups_days) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (day, team, usr) DO UPDATE SET ` + addSums + `
), unp AS (
	INSERT INTO unpriced AS r (provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen)
	SELECT a.provider, CASE WHEN a.served_model <> 0 THEN a.served_model ELSE a.req_model END, count(*), sum8(i.input),
		sum8(i.cache_read), sum8(i.cache_write_5m), sum8(i.cache_write_1h), sum8(i.output), sum8(i.reasoning), max(i.time)
	FROM ins i JOIN attrs a ON a.id = i.attr WHERE i.flags & 2 = 0 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (provider, model) DO UPDATE SET
		requests = r.requests + excluded.requests,
		input = r.input + excluded.input,
		cache_read = r.cache_read + excluded.cache_read,
		cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
		cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
		output = r.output + excluded.output,
		reasoning = r.reasoning + excluded.reasoning,
		last_seen = greatest(r.last_seen, excluded.last_seen)
)
SELECT count(*) FROM ins`

// Append stores events in one transaction and returns how many were new.
// An id already stored (at the same time), or repeated within the batch,
// is skipped and not counted; the rollups and unpriced totals grow only by
// the events actually inserted, so totals always equal the sum of events,
// also when replicas append overlapping batches at once.
func (db *DB) Append(ctx context.Context, events []allot.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	batch := dedupe(events)
	for i := range batch {
		if batch[i].ID == "" {
			return 0, allot.Errorf(allot.EInvalid, "event at %s for user %q has no id; every event needs a stable idempotency id", batch[i].Time.Format(time.RFC3339), batch[i].User)
		}
	}
	refs, err := db.resolveRefs(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	// Next month's partition is made ahead of time, so that the first
	// events after midnight do not wait for it.
	months := []int{monthOf(time.Now()) + 1}
	for i := range batch {
		if m := monthOf(batch[i].Time); !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := db.ensurePartitions(ctx, months); err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		n, err := db.insert(ctx, batch, refs)
		if err != nil && attempt == 0 && noPartition(err) {
			db.forgetPartitions() // another replica dropped a month we cached
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		return n, nil
	}
}

// dedupe drops repeats within a batch: the first occurrence wins, as it
// would had the events come one by one.
func dedupe(events []allot.Event) []allot.Event {
	seen := make(map[string]struct{}, len(events))
	for i := range events {
		if _, dup := seen[events[i].ID]; dup {
			clear(seen)
			out := make([]allot.Event, 0, len(events))
			for _, e := range events {
				if _, dup := seen[e.ID]; !dup {
					seen[e.ID] = struct{}{}
					out = append(out, e)
				}
			}
			return out
		}
		seen[events[i].ID] = struct{}{}
	}
	return events
}

// insert copies batch into the staging table and runs appendSQL, in one
// transaction. It first takes shared locks on the days of the batch, so a
// day being closed meanwhile either sees these events in its hourly rows
// or is seen closed by appendSQL (see closeDay).
func (db *DB) insert(ctx context.Context, batch []allot.Event, refs []eventRef) (int, error) {
	var days []int64
	for i := range batch {
		if l := db.dayLock(dayOf(batch[i].Time)); !slices.Contains(days, l) {
			days = append(days, l)
		}
	}
	slices.Sort(days)
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(l) FROM unnest($1::int8[]) AS l`, days); err != nil {
			return fmt.Errorf("lock days: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"allot_staging"}, stagingColumns, pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
			return stagingRow(&batch[i], refs[i]), nil
		})); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		var ids, teams, users []int32
		seen := map[int32]bool{}
		for _, r := range refs {
			if !seen[r.attr] {
				seen[r.attr] = true
				ids, teams, users = append(ids, r.attr), append(teams, r.team), append(users, r.usr)
			}
		}
		return tx.QueryRow(ctx, appendSQL, ids, teams, users).Scan(&n)
	})
	return n, err
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
