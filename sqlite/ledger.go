package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// maxChunk is the most rows one multi-row INSERT carries: large enough that
// statement overhead vanishes, small enough to stay under SQLite's bound
// parameter limit (32766) for every table here.
const maxChunk = 512

// Append stores events in one transaction and returns how many were new.
// An id already stored, or repeated within the batch, is skipped and not
// counted; the hourly rollups and the unpriced totals grow only by the
// events actually inserted, so totals always equal the sum of events.
func (db *DB) Append(ctx context.Context, events []allot.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	// Drop repeats within the batch: the first occurrence wins, as it would
	// had the events come one by one.
	batch := events
	seen := make(map[string]struct{}, len(events))
	for i := range events {
		if _, dup := seen[events[i].ID]; dup {
			batch = nil
			break
		}
		seen[events[i].ID] = struct{}{}
	}
	if batch == nil {
		clear(seen)
		batch = make([]allot.Event, 0, len(events))
		for _, e := range events {
			if _, dup := seen[e.ID]; !dup {
				seen[e.ID] = struct{}{}
				batch = append(batch, e)
			}
		}
	}
	for i := range batch {
		if batch[i].ID == "" {
			return 0, allot.Errorf(allot.EInvalid, "event at %s for user %q has no id; every event needs a stable idempotency id", batch[i].Time.Format(time.RFC3339), batch[i].User)
		}
	}

	db.wmu.Lock()
	defer db.wmu.Unlock()
	if err := db.prepareInsights(ctx); err != nil { // insights_write.go
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	defer tx.Rollback()

	refs, commitRefs, err := db.resolveRefs(ctx, tx, batch)
	if err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}

	// Rows get seq = max(seq)+1 in order, so the events this batch adds
	// are exactly those above the current maximum: the rollups and the
	// unpriced totals are summed from them, in SQL, and repeats never count.
	var before int64
	if err := db.txQueryRow(ctx, tx, maxSeqSQL).Scan(&before); err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	inserted := 0
	commitInsights := func() {}
	args := make([]any, 0, min(len(batch), maxChunk)*eventColumnCount)
	for done := 0; done < len(batch); {
		chunk := batch[done : done+chunkSize(len(batch)-done)]
		args = args[:0]
		for i := range chunk {
			args = appendEventArgs(args, &chunk[i], refs[done+i])
		}
		done += len(chunk)
		st, err := db.txStmt(ctx, tx, insertEventsSQL(len(chunk)))
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		inserted += int(n)
	}
	if inserted > 0 {
		if err := db.addRollups(ctx, tx, before, batch); err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		if _, err := db.txExec(ctx, tx, addUnpricedSQL, before); err != nil {
			return 0, fmt.Errorf("append %d events: unpriced totals: %w", len(batch), err)
		}
		// Insight aggregates (insights_write.go).
		if commitInsights, err = db.addInsights(ctx, tx, before, batch, refs, inserted); err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	commitRefs()
	commitInsights()
	return inserted, nil
}

// maxSeqSQL reads the seq of the newest event.
const maxSeqSQL = `SELECT coalesce(max(seq), 0) FROM events`

// chunkSize is how many of n remaining rows the next statement takes: the
// full chunk, or the largest power of two, so only a handful of distinct
// statements are ever prepared.
func chunkSize(n int) int {
	if n >= maxChunk {
		return maxChunk
	}
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// valuesSQL returns "(?,?,…),(?,…)…" for rows rows of cols columns.
func valuesSQL(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// insertEventsSQL inserts rows events, skipping ids already stored.
func insertEventsSQL(rows int) string {
	return "INSERT INTO events (" + eventColumns + ") VALUES " + valuesSQL(rows, eventColumnCount) + " ON CONFLICT (id) DO NOTHING"
}

// Events returns the stored events with from <= Time < to, oldest first,
// at most limit of them (all if limit <= 0). Times come back in UTC with
// microsecond precision; durations are exact to the microsecond.
func (db *DB) Events(ctx context.Context, from, to time.Time, limit int) ([]allot.Event, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+eventSelect+` FROM events e CROSS JOIN attrs a ON a.id = e.attr
		WHERE e.t >= ? AND e.t < ? ORDER BY e.t, e.seq LIMIT ?`,
		from.UnixMicro(), to.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var raw []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		raw = append(raw, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out := make([]allot.Event, len(raw))
	for i := range raw {
		s, err := db.dict.names(ctx, db.r, raw[i].strs[:]...)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		out[i] = raw[i].event(s)
	}
	return out, nil
}

// addUnpricedSQL adds the events above seq ? that had no known cost to the
// unpriced totals, under their served model (or the requested one if the
// provider named none).
const addUnpricedSQL = `INSERT INTO unpriced (provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen_us)
	SELECT coalesce((SELECT s FROM dict WHERE id = p), ''), coalesce((SELECT s FROM dict WHERE id = m), ''),
		count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output), sum(reasoning), max(t)
	FROM (SELECT e.*, a.provider AS p, iif(a.served_model != 0, a.served_model, a.req_model) AS m
		FROM events e CROSS JOIN attrs a ON a.id = e.attr WHERE e.seq > ? AND e.flags & 2 = 0)
	GROUP BY p, m
	ON CONFLICT (provider, model) DO UPDATE SET
		requests = requests + excluded.requests,
		input = input + excluded.input,
		cache_read = cache_read + excluded.cache_read,
		cache_write_5m = cache_write_5m + excluded.cache_write_5m,
		cache_write_1h = cache_write_1h + excluded.cache_write_1h,
		output = output + excluded.output,
		reasoning = reasoning + excluded.reasoning,
		last_seen_us = max(last_seen_us, excluded.last_seen_us)`

// Unpriced lists the models recorded without a known cost, with what they
// used and when they were last seen, most requests first.
func (db *DB) Unpriced(ctx context.Context) ([]allot.UnpricedModel, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen_us
		FROM unpriced ORDER BY requests DESC, provider, model`)
	if err != nil {
		return nil, fmt.Errorf("read unpriced models: %w", err)
	}
	defer rows.Close()
	var out []allot.UnpricedModel
	for rows.Next() {
		var u allot.UnpricedModel
		var last int64
		t := &u.Tokens
		if err := rows.Scan(&u.Provider, &u.Model, &u.Requests, &t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &t.Reasoning, &last); err != nil {
			return nil, fmt.Errorf("read unpriced models: %w", err)
		}
		u.LastSeen = time.UnixMicro(last).UTC()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unpriced models: %w", err)
	}
	return out, nil
}
