package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// maxChunk is the most rows one multi-row INSERT carries: large enough that
// statement overhead vanishes, small enough to stay under SQLite's bound
// parameter limit (32766) for every table here.
const maxChunk = 1024

// Append stores events in one transaction and returns how many were new.
// An id already stored, or repeated within the batch, is skipped and not
// counted; the hourly rollups and the unpriced totals grow only by the
// events actually inserted, so totals always equal the sum of events.
// Over-long labels are capped (allot.CapEvents) whatever path the events
// took.
func (db *DB) Append(ctx context.Context, events []allot.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	events = allot.CapEvents(events)
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
	// The inserts are prepared once per row count on the writer connection,
	// which the transaction will hold: prepare any this batch lacks now,
	// with the small statements every batch runs.
	queries := append([]string{insightStateSQL}, rollupSQL...)
	for done := 0; done < len(batch); done += chunkSize(len(batch) - done) {
		queries = append(queries, insertEventsSQL(chunkSize(len(batch)-done)))
	}
	if err := db.prepareAll(ctx, db.unprepared(queries)); err != nil {
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
	// The batch's rollups, should every event be new (the usual case), are
	// folded in Go (rollup.ReportFold). A row count met for the first time
	// is prepared within this transaction, and again on the writer
	// connection once it ends.
	hourly := foldHourly(batch, refs, nil)
	toPrepare := db.unprepared(hourlyStatements(hourly))
	if len(toPrepare) > 0 {
		defer func() {
			tx.Rollback()                     // frees the connection if Append failed; else a no-op
			_ = db.prepareAll(ctx, toPrepare) // a failure is retried next time
		}()
	}

	// Rows get seq = max(seq)+1 in order, so the events this batch adds
	// are exactly those above the current maximum: the unpriced totals are
	// summed from those rows in SQL, and the rollups of the stored events
	// alone are folded should some events be repeats, so repeats never count.
	var before int64
	if err := db.txQueryRow(ctx, tx, maxSeqSQL).Scan(&before); err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	inserted := 0
	// The insight state remembers this batch once the transaction has
	// committed, and forgets what the fold recorded if it did not.
	finishInsights, committed := func(bool) {}, false
	defer func() {
		if !committed {
			finishInsights(false)
		}
	}()
	args := make([]any, 0, chunkSize(len(batch))*eventColumnCount)
	for done := 0; done < len(batch); {
		rows := chunkSize(len(batch) - done)
		chunk := batch[done:min(len(batch), done+rows)]
		args = args[:0]
		for i := range chunk {
			args = appendEventArgs(args, &chunk[i], refs[done+i])
		}
		// Pad the statement with copies of the last row: being repeats,
		// they are skipped, and one statement stores the whole chunk.
		last := args[len(args)-eventColumnCount:]
		for range rows - len(chunk) {
			args = append(args, last...)
		}
		done += len(chunk)
		st, err := db.txStmt(ctx, tx, insertEventsSQL(rows))
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
		stored, err := storedEvents(ctx, tx, before, batch, inserted) // nil: all
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		if stored != nil {
			hourly = foldHourly(batch, refs, stored)
		}
		if err := db.addRollups(ctx, tx, hourly); err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		unpriced := false
		for i := range batch {
			unpriced = unpriced || !batch[i].CostKnown
		}
		if unpriced {
			if _, err := db.txExec(ctx, tx, addUnpricedSQL, before); err != nil {
				return 0, fmt.Errorf("append %d events: unpriced totals: %w", len(batch), err)
			}
		}
		// Insight aggregates (insights_write.go).
		finish, err := db.addInsights(ctx, tx, before, batch, refs, stored, inserted)
		if err != nil {
			return 0, fmt.Errorf("append %d events: %w", len(batch), err)
		}
		finishInsights = finish
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("append %d events: %w", len(batch), err)
	}
	committed = true
	commitRefs()
	finishInsights(true)
	return inserted, nil
}

// unprepared returns those of queries not yet prepared on the writer
// connection, once each. Call holding wmu.
func (db *DB) unprepared(queries []string) []string {
	var out []string
	for _, q := range queries {
		if _, ok := db.stmts[q]; !ok && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// prepareAll prepares queries on the writer connection, for txStmt to
// find. Call holding wmu, with no transaction open.
func (db *DB) prepareAll(ctx context.Context, queries []string) error {
	for _, q := range queries {
		s, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts[q] = s
	}
	return nil
}

// maxSeqSQL reads the seq of the newest event.
const maxSeqSQL = `SELECT coalesce(max(seq), 0) FROM events`

// chunkSize is how many rows the next events INSERT has for n remaining:
// maxChunk, or the smallest of the sizes chunkSizes lists that holds them
// all (padded with repeats), so a batch of up to maxChunk events is one
// statement and only a few distinct statements are ever prepared. Powers
// of two up to maxChunk map to themselves.
func chunkSize(n int) int {
	if n >= maxChunk {
		return maxChunk
	}
	// Powers of two and the midpoints between them: padding adds under a
	// third of the rows.
	p := 1
	for p < n {
		if p >= 2 && p+p/2 >= n {
			return p + p/2
		}
		p *= 2
	}
	return p
}

// valuesSQL returns "(?,?,…),(?,…)…" for rows rows of cols columns.
func valuesSQL(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// insertEventsSQL inserts rows events, skipping ids already stored (OR
// IGNORE is ON CONFLICT (id) DO NOTHING here, as no other constraint of
// events can fail, and it spares the statement a journal).
func insertEventsSQL(rows int) string {
	return sizedSQL(&insertSQLs, rows, func(rows int) string {
		return "INSERT OR IGNORE INTO events (" + eventColumns + ") VALUES " + valuesSQL(rows, eventColumnCount)
	})
}

// insertSQLs caches insertEventsSQL by row count.
var insertSQLs sync.Map

// sizedSQL returns build(rows), cached in cache: a multi-row statement's
// text runs to tens of kilobytes, and Append needs it for every batch.
func sizedSQL(cache *sync.Map, rows int, build func(int) string) string {
	if q, ok := cache.Load(rows); ok {
		return q.(string)
	}
	q := build(rows)
	cache.Store(rows, q)
	return q
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
	out, err := db.events(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// addUnpricedSQL adds the events above seq ? that had no known cost to the
// unpriced totals, under their served model (or the requested one if the
// provider named none).
var addUnpricedSQL = `INSERT INTO unpriced (provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen_us)
	SELECT coalesce((SELECT s FROM dict WHERE id = p), ''), coalesce((SELECT s FROM dict WHERE id = m), ''),
		count(*), ` + satSums("input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning") + `, max(t)
	FROM (SELECT e.*, a.provider AS p, iif(a.served_model != 0, a.served_model, a.req_model) AS m
		FROM events e CROSS JOIN attrs a ON a.id = e.attr WHERE e.seq > ? AND e.flags & 2 = 0)
	GROUP BY p, m
	ON CONFLICT (provider, model) DO UPDATE SET
		` + satAddColumns("requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning") + `,
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
