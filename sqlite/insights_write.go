package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// The insight aggregates (migrations/0003_insights.sql) are folded from
// events behind the ledger rather than event by event: each Append keeps
// the events it stored in memory (insightState.pending) and, once
// insightBacklog events are waiting, folds them in its own transaction:
// grouped in Go per hour, attribution, session and system prompt, then
// upserted, so each session's row is written once per thousands of events
// rather than once per batch. Readers fold whatever waits before they read
// (flushInsights). insight_state holds the seq up to which events are
// folded, updated in the transaction that folds them, so the aggregates
// always equal the folded events exactly; events another process appended,
// or that a restart forgot, are read back from the events table instead.

const (
	callColumns   = `hour, attr, session, system_fp, requests, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano, min_input, cache_misses, first_us, last_us, first_input, last_input, growing`
	extrasColumns = `hour, attr, failed_requests, failed_input, failed_output, failed_cost_nano, dup_requests, dup_input, dup_output, dup_cost_nano, nomax_requests, nomax_output, long0_requests, long0_output, long1_requests, long1_output, long2_requests, long2_output, long3_requests, long3_output`
)

// insightState is what one open DB keeps in memory for the insight
// aggregates; it is used only under DB.wmu.
type insightState struct {
	backlog, catchUp int64 // insightBacklog and insightCatchUp, lowered by tests
	windows          *rollup.Windows
	// pending holds the events with seqs in (from, to], in seq order, when
	// valid: then they need not be read back to be folded.
	pending  []rollup.Event
	from, to int64
	valid    bool
}

var (
	insightStatesMu sync.Mutex
	insightStates   = map[weak.Pointer[DB]]*insightState{}
)

// insights returns db's in-memory insight state, dropped with db.
func (db *DB) insights() *insightState {
	k := weak.Make(db)
	insightStatesMu.Lock()
	defer insightStatesMu.Unlock()
	st := insightStates[k]
	if st == nil {
		st = &insightState{backlog: insightBacklog, catchUp: insightCatchUp, windows: rollup.NewWindows()}
		insightStates[k] = st
		runtime.AddCleanup(db, func(k weak.Pointer[DB]) {
			insightStatesMu.Lock()
			delete(insightStates, k)
			insightStatesMu.Unlock()
		}, k)
	}
	return st
}

// insightChunk is the most rows one insight upsert carries (18 or 20
// parameters a row, well under SQLite's limit).
const insightChunk = 256

// upsertCallsSQL folds rows rows into insight_calls. Unqualified columns
// in DO UPDATE are the stored row's values before the update, so a batch
// that continues a row links to its last call as rollup.Follow does (its
// rules, rollup.CacheMiss and rollup.GrowingTurn, in SQL): a first call
// within the cache TTL of the stored last one is no miss, one larger
// than it grows. TestInsightAggregatesMatchEvents ("folded by append")
// checks the two agree.
func upsertCallsSQL(rows int) string {
	return `INSERT INTO insight_calls (` + callColumns + `) VALUES ` + valuesSQL(rows, 4+rollup.CallValues) + `
	ON CONFLICT (hour, attr, session, system_fp) DO UPDATE SET
		` + satAddColumns("requests, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano") + `,
		min_input = min(min_input, excluded.min_input),
		cache_misses = cache_misses + excluded.cache_misses - (excluded.first_us >= last_us AND excluded.first_us - last_us <= ` + fmt.Sprint(rollup.CacheTTLUS) + `),
		growing = growing + excluded.growing + (excluded.first_us >= last_us AND excluded.first_input > last_input),
		first_input = iif(excluded.first_us < first_us, excluded.first_input, first_input),
		first_us = min(first_us, excluded.first_us),
		last_input = iif(excluded.last_us >= last_us, excluded.last_input, last_input),
		last_us = max(last_us, excluded.last_us)`
}

// upsertExtrasSQL folds rows rows into insight_extras.
func upsertExtrasSQL(rows int) string {
	var set []string
	for _, c := range strings.Split(extrasColumns, ",")[2:] {
		c = strings.TrimSpace(c)
		set = append(set, satAddColumn(c))
	}
	return `INSERT INTO insight_extras (` + extrasColumns + `) VALUES ` + valuesSQL(rows, 2+rollup.ExtrasValues) + `
	ON CONFLICT (hour, attr) DO UPDATE SET ` + strings.Join(set, ", ")
}

// insightSQL holds, by row count (the chunk sizes insightChunkSize
// returns), the two upserts: insight_calls and insight_extras.
var insightSQL = func() map[int][2]string {
	out := map[int][2]string{}
	for n := insightChunk; n >= 1; n /= 2 {
		out[n] = [2]string{upsertCallsSQL(n), upsertExtrasSQL(n)}
	}
	return out
}()

// insightChunkSize is how many of n remaining rows the next upsert takes:
// the full chunk or the largest power of two, so few statements exist.
func insightChunkSize(n int) int {
	if n >= insightChunk {
		return insightChunk
	}
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// prepareInsights prepares the insight upserts on the writer connection
// once. Append calls it holding wmu and before it begins its transaction,
// while the one writer connection is free.
func (db *DB) prepareInsights(ctx context.Context) error {
	if _, ok := db.stmts[insightSQL[insightChunk][0]]; ok {
		return nil
	}
	for _, qs := range insightSQL {
		for _, q := range qs {
			s, err := db.w.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare insight aggregates: %w", err)
			}
			db.stmts[q] = s
		}
	}
	return nil
}

// Folding thresholds: Append folds once insightBacklog events wait, at most
// insightCatchUp of them per transaction (a database upgraded from before
// insights catches up over many Appends, or on its first read). The larger
// the fold, the more calls of a session share its hour's row: folding
// 60,000 events rather than 20,000 took a tenth off an append's CPU when
// every call carries a new system prompt. Waiting events cost memory
// (about 200 bytes each) and the next read's time; a server's warming
// folds them every few minutes.
const (
	insightBacklog = 60_000
	insightCatchUp = 120_000
)

// addInsights runs in Append's transaction once batch is stored, above
// seq before, inserted of its events being new (stored[i] says which when
// some were not: see storedEvents). It remembers the new events and folds
// the waiting ones when insightBacklog have gathered. finish must be
// called once tx has ended: ok if it committed.
func (db *DB) addInsights(ctx context.Context, tx *sql.Tx, before int64, batch []allot.Event, refs []eventRef, stored []bool, inserted int) (finish func(ok bool), err error) {
	st := db.insights()
	last := before + int64(inserted)
	var done int64
	if err := db.txQueryRow(ctx, tx, insightStateSQL).Scan(&done); err != nil {
		return nil, fmt.Errorf("insight aggregates: %w", err)
	}
	if !st.valid && done == before { // nothing waits: remember from here on
		st.pending, st.from, st.to, st.valid = nil, done, done, true
	}
	// Memory is usable when it holds every waiting event but this batch's.
	usable := st.valid && st.from == done && st.to == before
	// buf is pending followed by this batch's new events, written past
	// pending's length (in its spare capacity, which nothing else refers
	// to, or in a larger copy): pending itself is not changed until commit,
	// and the buffer is reused from one backlog to the next.
	var buf []rollup.Event
	if usable {
		buf = st.pending
		if cap(buf)-len(buf) < inserted {
			nb := make([]rollup.Event, len(buf), max(len(buf)+inserted, 2*len(buf), int(st.backlog)+inserted))
			copy(nb, buf)
			buf = nb
		}
		buf = appendInsightEvents(buf, batch, refs, stored)
	}
	to, fold := done, func(bool) {}
	if last-done >= st.backlog {
		to = min(last, done+st.catchUp)
		var evs []rollup.Event
		if usable {
			evs = buf[:to-done] // folded events come first
		}
		if fold, err = db.foldInsights(ctx, tx, done, to, evs); err != nil {
			return nil, err
		}
	}
	return func(ok bool) {
		fold(ok)
		if !ok {
			return // pending is as it was
		}
		switch {
		case usable:
			if to > done {
				n := copy(buf, buf[to-done:])
				clear(buf[n:]) // let the folded events' strings go
				buf = buf[:n]
			}
			st.pending, st.from, st.to = buf, to, last
		case to == last:
			st.pending, st.from, st.to, st.valid = nil, last, last, true
		default:
			st.pending, st.valid = nil, false
		}
	}, nil
}

// insightStateSQL reads the seq of the newest event folded.
const insightStateSQL = `SELECT seq FROM insight_state`

// storedEvents reports which events of batch Append stored, above seq
// before, when only inserted of them were new; nil when all were.
func storedEvents(ctx context.Context, tx *sql.Tx, before int64, batch []allot.Event, inserted int) ([]bool, error) {
	if inserted == len(batch) {
		return nil, nil
	}
	isNew := make(map[string]bool, inserted)
	err := eachRow(ctx, tx, `SELECT id FROM events WHERE seq > ?`, []any{before}, func(rows *sql.Rows) error {
		var id any
		if err := rows.Scan(&id); err != nil {
			return err
		}
		isNew[decodeID(id)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find stored events: %w", err)
	}
	stored := make([]bool, len(batch))
	for i := range batch {
		stored[i] = isNew[batch[i].ID]
	}
	return stored, nil
}

// appendInsightEvents appends the events of batch that Append stored (all
// when stored is nil), in seq order.
func appendInsightEvents(out []rollup.Event, batch []allot.Event, refs []eventRef, stored []bool) []rollup.Event {
	for i := range batch {
		e := &batch[i]
		if stored != nil && !stored[i] {
			continue
		}
		out = append(out, rollup.Event{
			ID: e.ID, User: e.User, T: e.Time.UnixMicro(), Attr: refs[i].attr, Session: refs[i].session,
			Status: int64(e.Status), MaxTokens: e.MaxTokens, SystemFP: int64(e.SystemFP), RequestFP: int64(e.RequestFP),
			Tokens: e.Tokens, Cost: int64(e.Cost),
		})
	}
	return out
}

// foldInsights folds the events with from < seq <= to into the insight
// aggregates and records to as folded, in tx. evs are those events when
// the caller has them, else nil: they are read back.
func (db *DB) foldInsights(ctx context.Context, tx *sql.Tx, from, to int64, evs []rollup.Event) (finish func(ok bool), err error) {
	if evs == nil {
		if evs, err = db.readInsightEvents(ctx, tx, `e.seq > ? AND e.seq <= ?`, from, to); err != nil {
			return nil, err
		}
	}
	st := db.insights()
	check := rollup.NewCheck(st.windows)
	if err := db.writeInsights(ctx, tx, rollup.Fold(evs, check)); err != nil {
		check.Finish(false)
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE insight_state SET seq = ?`, to); err != nil {
		check.Finish(false)
		return nil, fmt.Errorf("insight aggregates: %w", err)
	}
	return check.Finish, nil
}

// readInsightEvents reads back the events matching where (over events e
// and attrs a) with args, in seq order.
func (db *DB) readInsightEvents(ctx context.Context, q querier, where string, args ...any) ([]rollup.Event, error) {
	var evs []rollup.Event
	var users []int64
	err := eachRow(ctx, q, `SELECT e.id, a.usr, e.t, e.attr, e.session, e.status, e.max_tokens, e.system_fp, e.request_fp,
		e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.cost_nano
		FROM events e CROSS JOIN attrs a ON a.id = e.attr WHERE `+where+` ORDER BY e.seq`, args, func(rows *sql.Rows) error {
		var e rollup.Event
		var id any
		var usr int64
		t := &e.Tokens
		if err := rows.Scan(&id, &usr, &e.T, &e.Attr, &e.Session, &e.Status, &e.MaxTokens, &e.SystemFP, &e.RequestFP,
			&t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &e.Cost); err != nil {
			return err
		}
		e.ID = decodeID(id)
		evs = append(evs, e)
		users = append(users, usr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insight aggregates: read events: %w", err)
	}
	names := map[int64]string{}
	for i, u := range users {
		name, ok := names[u]
		if !ok {
			s, err := db.dict.names(ctx, q, u)
			if err != nil {
				return nil, fmt.Errorf("insight aggregates: %w", err)
			}
			name = s[0]
			names[u] = name
		}
		evs[i].User = name
	}
	return evs, nil
}

// flushInsights folds every waiting event into the insight aggregates,
// insightCatchUp at a time, so that a read sees the whole ledger.
func (db *DB) flushInsights(ctx context.Context) error {
	for {
		var done, last int64
		if err := db.r.QueryRowContext(ctx, `SELECT (SELECT seq FROM insight_state), (SELECT coalesce(max(seq), 0) FROM events)`).Scan(&done, &last); err != nil {
			return fmt.Errorf("insight aggregates: %w", err)
		}
		if done >= last {
			return nil
		}
		if err := db.flushInsightsOnce(ctx); err != nil {
			return err
		}
	}
}

// flushInsightsOnce folds up to insightCatchUp waiting events in one write
// transaction.
func (db *DB) flushInsightsOnce(ctx context.Context) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insight aggregates: %w", err)
	}
	defer tx.Rollback()
	var done, last int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT seq FROM insight_state), (SELECT coalesce(max(seq), 0) FROM events)`).Scan(&done, &last); err != nil {
		return fmt.Errorf("insight aggregates: %w", err)
	}
	if done >= last {
		return nil
	}
	st := db.insights()
	to := min(last, done+st.catchUp)
	usable := st.valid && st.from == done && st.to == last
	var evs []rollup.Event
	if usable {
		evs = st.pending[:to-done]
	}
	fold, err := db.foldInsights(ctx, tx, done, to, evs)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		fold(false)
		return fmt.Errorf("insight aggregates: %w", err)
	}
	fold(true)
	if usable {
		st.pending, st.from = append([]rollup.Event(nil), st.pending[to-done:]...), to
	} else {
		st.pending, st.from, st.to, st.valid = nil, to, to, to == last
	}
	return nil
}

// writeInsights upserts b's rows and drops the cached days they touch.
func (db *DB) writeInsights(ctx context.Context, tx *sql.Tx, b *rollup.Batch) error {
	args := make([]any, 0, insightChunk*(4+rollup.CallValues))
	for done := 0; done < len(b.CallKeys); {
		n := insightChunkSize(len(b.CallKeys) - done)
		args = args[:0]
		for i := done; i < done+n; i++ {
			k := &b.CallKeys[i]
			args = append(args, k.Hour, k.Attr, k.Session, k.FP)
			for _, v := range b.CallVals[i] {
				args = append(args, v)
			}
		}
		done += n
		if _, err := db.txExec(ctx, tx, insightSQL[n][0], args...); err != nil {
			return fmt.Errorf("insight calls: %w", err)
		}
	}
	for done := 0; done < len(b.ExtrasKeys); {
		n := insightChunkSize(len(b.ExtrasKeys) - done)
		args = args[:0]
		for i := done; i < done+n; i++ {
			k := &b.ExtrasKeys[i]
			args = append(args, k.Hour, k.Attr)
			for _, v := range b.ExtrasVals[i] {
				args = append(args, v)
			}
		}
		done += n
		if _, err := db.txExec(ctx, tx, insightSQL[n][1], args...); err != nil {
			return fmt.Errorf("insight extras: %w", err)
		}
	}
	if len(b.Days) > 0 {
		args = args[:0]
		for _, d := range b.Days {
			args = append(args, d)
		}
		q := "DELETE FROM insight_days WHERE day IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("invalidate insight days: %w", err)
		}
	}
	return nil
}
