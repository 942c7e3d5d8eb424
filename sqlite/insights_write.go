package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/allot-dev/allot"
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

// insightEvent is what the insight aggregates need of one stored event.
type insightEvent struct {
	id        string
	user      string
	t         int64 // unix microseconds
	attr      int64
	session   int64 // dict id, 0 for none
	status    int64
	maxTokens int64
	systemFP  int64
	requestFP int64
	tokens    allot.Tokens
	cost      int64
}

// callKey is an insight_calls row key.
type callKey struct{ hour, attr, session, fp int64 }

// callAgg is an insight_calls row's values, in column order after the key.
type callAgg [callValues]int64

// Positions in callAgg.
const (
	cRequests = iota
	cInput
	cCacheRead
	cCacheWrite5m
	cCacheWrite1h
	cOutput
	cCost
	cMinInput
	cMisses
	cFirstUS
	cLastUS
	cFirstInput
	cLastInput
	cGrowing
	callValues
)

// extrasKey is an insight_extras row key.
type extrasKey struct{ hour, attr int64 }

// extrasAgg is an insight_extras row's values, in column order after the key.
type extrasAgg [extrasValues]int64

// Positions in extrasAgg.
const (
	xFailedRequests = iota
	xFailedInput
	xFailedOutput
	xFailedCost
	xDupRequests
	xDupInput
	xDupOutput
	xDupCost
	xNoMaxRequests
	xNoMaxOutput
	xLong        // LongOutputBuckets pairs of (requests, output)
	extrasValues = xLong + 2*allot.LongOutputBuckets
)

const (
	callColumns   = `hour, attr, session, system_fp, requests, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano, min_input, cache_misses, first_us, last_us, first_input, last_input, growing`
	extrasColumns = `hour, attr, failed_requests, failed_input, failed_output, failed_cost_nano, dup_requests, dup_input, dup_output, dup_cost_nano, nomax_requests, nomax_output, long0_requests, long0_output, long1_requests, long1_output, long2_requests, long2_output, long3_requests, long3_output`
)

// insightBatch groups events into insight rows.
type insightBatch struct {
	calls      map[callKey]int // index in callKeys and callVals
	callKeys   []callKey
	callVals   []callAgg
	extras     map[extrasKey]int
	extrasKeys []extrasKey
	extrasVals []extrasAgg
	days       []int64
}

// newInsightBatch sizes a batch for about n events.
func newInsightBatch(n int) *insightBatch {
	return &insightBatch{calls: make(map[callKey]int, n/2), callKeys: make([]callKey, 0, n/2), callVals: make([]callAgg, 0, n/2),
		extras: map[extrasKey]int{}}
}

// add counts e, which must come no earlier than the events added before it
// with the same key (callers sort by time); dup says it repeats a recent call.
func (b *insightBatch) add(e *insightEvent, dup bool) {
	hour, day := e.t/usPerHour, e.t/usPerDay
	if n := len(b.days); n == 0 || b.days[n-1] != day {
		if !slices.Contains(b.days, day) {
			b.days = append(b.days, day)
		}
	}
	t := &e.tokens
	if e.session != 0 || e.systemFP != 0 {
		k := callKey{hour, e.attr, e.session, e.systemFP}
		i, ok := b.calls[k]
		if !ok {
			i = len(b.callVals)
			b.calls[k] = i
			b.callKeys = append(b.callKeys, k)
			b.callVals = append(b.callVals, callAgg{})
		}
		c := &b.callVals[i]
		if !ok {
			c[cMinInput], c[cMisses] = t.Input, 1
			c[cFirstUS], c[cFirstInput] = e.t, t.Input
		} else {
			if e.t-c[cLastUS] > int64(allot.PromptCacheTTL/1000) {
				c[cMisses]++
			}
			if t.Input > c[cLastInput] {
				c[cGrowing]++
			}
			c[cMinInput] = min(c[cMinInput], t.Input)
		}
		c[cRequests]++
		c[cInput] = allot.SatAdd(c[cInput], t.Input)
		c[cCacheRead] = allot.SatAdd(c[cCacheRead], t.CacheRead)
		c[cCacheWrite5m] = allot.SatAdd(c[cCacheWrite5m], t.CacheWrite5m)
		c[cCacheWrite1h] = allot.SatAdd(c[cCacheWrite1h], t.CacheWrite1h)
		c[cOutput] = allot.SatAdd(c[cOutput], t.Output)
		c[cCost] = allot.SatAdd(c[cCost], e.cost)
		c[cLastUS], c[cLastInput] = e.t, t.Input
	}
	failed := allot.FailedStatus(int(e.status))
	if !failed && !dup && e.maxTokens != 0 {
		return
	}
	k := extrasKey{hour, e.attr}
	i, ok := b.extras[k]
	if !ok {
		i = len(b.extrasVals)
		b.extras[k] = i
		b.extrasKeys = append(b.extrasKeys, k)
		b.extrasVals = append(b.extrasVals, extrasAgg{})
	}
	x := &b.extrasVals[i]
	if failed {
		x[xFailedRequests]++
		x[xFailedInput] = allot.SatAdd(x[xFailedInput], t.Input)
		x[xFailedOutput] = allot.SatAdd(x[xFailedOutput], t.Output)
		x[xFailedCost] = allot.SatAdd(x[xFailedCost], e.cost)
	}
	if dup {
		x[xDupRequests]++
		x[xDupInput] = allot.SatAdd(x[xDupInput], t.Input)
		x[xDupOutput] = allot.SatAdd(x[xDupOutput], t.Output)
		x[xDupCost] = allot.SatAdd(x[xDupCost], e.cost)
	}
	if e.maxTokens == 0 {
		x[xNoMaxRequests]++
		x[xNoMaxOutput] = allot.SatAdd(x[xNoMaxOutput], t.Output)
		if c := allot.LongOutputBucket(t.Output); c >= 0 {
			x[xLong+2*c]++
			x[xLong+2*c+1] = allot.SatAdd(x[xLong+2*c+1], t.Output)
		}
	}
}

// dupKey identifies a request for duplicate detection: the same body from
// the same user.
type dupKey struct {
	user string
	fp   int64
}

// dupSeen is the latest call seen with a dupKey.
type dupSeen struct {
	t  int64
	id string
}

// dupWindow remembers the request fingerprints of the last
// allot.DuplicateWindow of calls folded by this process, so that a repeat
// is recognised without an index on events. (Repeats that straddle a
// restart are not recognised.)
type dupWindow struct {
	seen    map[dupKey]dupSeen
	maxT    int64
	pruneAt int
}

// insightState is what one open DB keeps in memory for the insight
// aggregates; it is used only under DB.wmu.
type insightState struct {
	backlog, catchUp int64 // insightBacklog and insightCatchUp, lowered by tests
	window           dupWindow
	prompts          promptWindow
	// pending holds the events with seqs in (from, to], in seq order, when
	// valid: then they need not be read back to be folded.
	pending  []insightEvent
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
		st = &insightState{backlog: insightBacklog, catchUp: insightCatchUp, window: dupWindow{seen: map[dupKey]dupSeen{}, pruneAt: 4096},
			prompts: promptWindow{seen: map[int64]int64{}, pruneAt: 4096}}
		insightStates[k] = st
		runtime.AddCleanup(db, func(k weak.Pointer[DB]) {
			insightStatesMu.Lock()
			delete(insightStates, k)
			insightStatesMu.Unlock()
		}, k)
	}
	return st
}

// promptWindow remembers when each system prompt was last folded by this
// process, over the last promptSeenWindow. A call's system prompt is kept
// apart (its own insight_calls row) only when the prompt was seen before
// within that window: a prompt sent once has nothing to cache, and
// requests that carry a new system prompt every time (retrieved context
// in the system prompt) would otherwise add a row per call. Keeping the
// first call of each prompt with the session's other calls costs the
// prompt caching estimate one call, which the cache would have had to
// write anyway.
type promptWindow struct {
	seen    map[int64]int64 // fingerprint -> unix microseconds
	maxT    int64
	pruneAt int
}

// promptSeenWindow is how long a system prompt is remembered.
const promptSeenWindow = int64(24 * time.Hour / time.Microsecond)

// dupCheck finds repeats among events (sorted by time) against windows of
// earlier calls (nil for none: only the events themselves, recorded in
// pending and prompts). It records the events in the windows as it goes,
// with an undo log: finish keeps them once their transaction committed,
// or takes them back. (Recording them apart and merging them on commit
// cost an append a twentieth of its time.)
type dupCheck struct {
	w       *dupWindow
	pending map[dupKey]dupSeen
	pw      *promptWindow
	prompts map[int64]int64
	undo    []dupUndo
	pundo   []promptUndo
	maxT    int64 // the latest call recorded in w
	pmaxT   int64 // in pw
}

// dupUndo is what a dupWindow held under a key before dupCheck wrote it.
type dupUndo struct {
	k    dupKey
	prev dupSeen
	had  bool
}

// promptUndo is what a promptWindow held under a fingerprint before.
type promptUndo struct {
	fp, prev int64
	had      bool
}

// knownPrompt reports whether e's system prompt was seen within
// promptSeenWindow before e, and records it.
func (d *dupCheck) knownPrompt(e *insightEvent) bool {
	if e.systemFP == 0 {
		return false
	}
	seen := d.prompts
	if d.pw != nil {
		seen = d.pw.seen
	} else if seen == nil {
		seen = map[int64]int64{}
		d.prompts = seen
	}
	prev, ok := seen[e.systemFP]
	known := ok && e.t >= prev && e.t-prev <= promptSeenWindow
	if !ok || e.t >= prev {
		if d.pw != nil {
			d.pundo = append(d.pundo, promptUndo{e.systemFP, prev, ok})
			d.pmaxT = max(d.pmaxT, e.t)
		}
		seen[e.systemFP] = e.t
	}
	return known
}

// repeat reports whether e repeats a call within allot.DuplicateWindow
// and records e.
func (d *dupCheck) repeat(e *insightEvent) bool {
	if e.requestFP == 0 {
		return false
	}
	k := dupKey{e.user, e.requestFP}
	seen := d.pending
	if d.w != nil {
		seen = d.w.seen
	}
	prev, ok := seen[k]
	const window = int64(allot.DuplicateWindow / 1000)
	dup := ok && prev.id != e.id && e.t-prev.t <= window && prev.t-e.t <= window
	if !ok || e.t >= prev.t {
		if d.w != nil {
			d.undo = append(d.undo, dupUndo{k, prev, ok})
			d.maxT = max(d.maxT, e.t)
		}
		seen[k] = dupSeen{e.t, e.id}
	}
	return dup
}

// finish keeps the calls recorded in the windows if ok (their transaction
// committed), forgetting calls that fell out of the windows, or takes them
// back.
func (d *dupCheck) finish(ok bool) {
	if !ok {
		for i := len(d.undo) - 1; i >= 0; i-- {
			if u := &d.undo[i]; u.had {
				d.w.seen[u.k] = u.prev
			} else {
				delete(d.w.seen, u.k)
			}
		}
		for i := len(d.pundo) - 1; i >= 0; i-- {
			if u := &d.pundo[i]; u.had {
				d.pw.seen[u.fp] = u.prev
			} else {
				delete(d.pw.seen, u.fp)
			}
		}
		d.undo, d.pundo = nil, nil
		return
	}
	d.undo, d.pundo = nil, nil
	if pw := d.pw; pw != nil {
		pw.maxT = max(pw.maxT, d.pmaxT)
		if len(pw.seen) >= pw.pruneAt {
			for fp, t := range pw.seen {
				if t < pw.maxT-promptSeenWindow {
					delete(pw.seen, fp)
				}
			}
			if len(pw.seen) > 4_000_000 { // bound the memory come what may
				clear(pw.seen)
			}
			pw.pruneAt = max(4096, 2*len(pw.seen))
		}
	}
	if w := d.w; w != nil {
		w.maxT = max(w.maxT, d.maxT)
		if len(w.seen) >= w.pruneAt {
			cutoff := w.maxT - int64(allot.DuplicateWindow/1000)
			for k, s := range w.seen {
				if s.t < cutoff {
					delete(w.seen, k)
				}
			}
			w.pruneAt = max(4096, 2*len(w.seen))
		}
	}
}

// insightChunk is the most rows one insight upsert carries (18 or 20
// parameters a row, well under SQLite's limit).
const insightChunk = 256

// upsertCallsSQL folds rows rows into insight_calls. Unqualified columns
// in DO UPDATE are the stored row's values before the update, so a batch
// that continues a row links to its last call: a first call within the
// cache TTL of the stored last one is no miss, one larger than it grows.
func upsertCallsSQL(rows int) string {
	return `INSERT INTO insight_calls (` + callColumns + `) VALUES ` + valuesSQL(rows, 4+callValues) + `
	ON CONFLICT (hour, attr, session, system_fp) DO UPDATE SET
		` + satAddColumns("requests, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano") + `,
		min_input = min(min_input, excluded.min_input),
		cache_misses = cache_misses + excluded.cache_misses - (excluded.first_us >= last_us AND excluded.first_us - last_us <= ` + fmt.Sprint(int64(allot.PromptCacheTTL/1000)) + `),
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
	return `INSERT INTO insight_extras (` + extrasColumns + `) VALUES ` + valuesSQL(rows, 2+extrasValues) + `
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
	var buf []insightEvent
	if usable {
		buf = st.pending
		if cap(buf)-len(buf) < inserted {
			nb := make([]insightEvent, len(buf), max(len(buf)+inserted, 2*len(buf), int(st.backlog)+inserted))
			copy(nb, buf)
			buf = nb
		}
		buf = appendInsightEvents(buf, batch, refs, stored)
	}
	to, fold := done, func(bool) {}
	if last-done >= st.backlog {
		to = min(last, done+st.catchUp)
		var evs []insightEvent
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
func appendInsightEvents(out []insightEvent, batch []allot.Event, refs []eventRef, stored []bool) []insightEvent {
	for i := range batch {
		e := &batch[i]
		if stored != nil && !stored[i] {
			continue
		}
		out = append(out, insightEvent{
			id: e.ID, user: e.User, t: e.Time.UnixMicro(), attr: refs[i].attr, session: refs[i].session,
			status: int64(e.Status), maxTokens: e.MaxTokens, systemFP: int64(e.SystemFP), requestFP: int64(e.RequestFP),
			tokens: e.Tokens, cost: int64(e.Cost),
		})
	}
	return out
}

// foldInsights folds the events with from < seq <= to into the insight
// aggregates and records to as folded, in tx. evs are those events when
// the caller has them, else nil: they are read back.
func (db *DB) foldInsights(ctx context.Context, tx *sql.Tx, from, to int64, evs []insightEvent) (finish func(ok bool), err error) {
	if evs == nil {
		if evs, err = db.readInsightEvents(ctx, tx, `e.seq > ? AND e.seq <= ?`, from, to); err != nil {
			return nil, err
		}
	}
	st := db.insights()
	check := &dupCheck{w: &st.window, pw: &st.prompts}
	if err := db.writeInsights(ctx, tx, groupInsights(evs, check)); err != nil {
		check.finish(false)
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE insight_state SET seq = ?`, to); err != nil {
		check.finish(false)
		return nil, fmt.Errorf("insight aggregates: %w", err)
	}
	return check.finish, nil
}

// readInsightEvents reads back the events matching where (over events e
// and attrs a) with args, in seq order.
func (db *DB) readInsightEvents(ctx context.Context, q querier, where string, args ...any) ([]insightEvent, error) {
	var evs []insightEvent
	var users []int64
	err := eachRow(ctx, q, `SELECT e.id, a.usr, e.t, e.attr, e.session, e.status, e.max_tokens, e.system_fp, e.request_fp,
		e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.cost_nano
		FROM events e CROSS JOIN attrs a ON a.id = e.attr WHERE `+where+` ORDER BY e.seq`, args, func(rows *sql.Rows) error {
		var e insightEvent
		var id any
		var usr int64
		t := &e.tokens
		if err := rows.Scan(&id, &usr, &e.t, &e.attr, &e.session, &e.status, &e.maxTokens, &e.systemFP, &e.requestFP,
			&t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &e.cost); err != nil {
			return err
		}
		e.id = decodeID(id)
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
		evs[i].user = name
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
	var evs []insightEvent
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
		st.pending, st.from = append([]insightEvent(nil), st.pending[to-done:]...), to
	} else {
		st.pending, st.from, st.to, st.valid = nil, to, to, to == last
	}
	return nil
}

// groupInsights sorts evs by time and groups them, finding duplicates with check.
func groupInsights(evs []insightEvent, check *dupCheck) *insightBatch {
	// Sort positions, not the events: they are large and mostly in order.
	order := make([]int32, len(evs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch ta, tb := evs[a].t, evs[b].t; {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	b := newInsightBatch(len(evs))
	for _, i := range order {
		e := evs[i]
		if !check.knownPrompt(&e) {
			e.systemFP = 0 // a first sight: kept with the session's calls
		}
		b.add(&e, check.repeat(&e))
	}
	return b
}

// writeInsights upserts b's rows and drops the cached days they touch.
func (db *DB) writeInsights(ctx context.Context, tx *sql.Tx, b *insightBatch) error {
	args := make([]any, 0, insightChunk*(4+callValues))
	for done := 0; done < len(b.callKeys); {
		n := insightChunkSize(len(b.callKeys) - done)
		args = args[:0]
		for i := done; i < done+n; i++ {
			k := &b.callKeys[i]
			args = append(args, k.hour, k.attr, k.session, k.fp)
			for _, v := range b.callVals[i] {
				args = append(args, v)
			}
		}
		done += n
		if _, err := db.txExec(ctx, tx, insightSQL[n][0], args...); err != nil {
			return fmt.Errorf("insight calls: %w", err)
		}
	}
	for done := 0; done < len(b.extrasKeys); {
		n := insightChunkSize(len(b.extrasKeys) - done)
		args = args[:0]
		for i := done; i < done+n; i++ {
			k := &b.extrasKeys[i]
			args = append(args, k.hour, k.attr)
			for _, v := range b.extrasVals[i] {
				args = append(args, v)
			}
		}
		done += n
		if _, err := db.txExec(ctx, tx, insightSQL[n][1], args...); err != nil {
			return fmt.Errorf("insight extras: %w", err)
		}
	}
	if len(b.days) > 0 {
		args = args[:0]
		for _, d := range b.days {
			args = append(args, d)
		}
		q := "DELETE FROM insight_days WHERE day IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("invalidate insight days: %w", err)
		}
	}
	return nil
}
