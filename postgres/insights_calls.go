package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// insightRow is what insights read of one event.
type insightRow struct {
	t                   int64 // unix microseconds
	attr, session       int32
	systemFP, requestFP int64
	status              int16
	maxTokens           int64
	tokens              allot.Tokens // without reasoning, which no insight needs
	cost                int64
	id                  []byte // only when asked for; valid during the callback
}

// insightColumns are the columns eachInsightRow reads, and their sizes in
// the binary format (all NOT NULL).
const insightColumns = `time, attr, session, system_fp, request_fp, status, max_tokens, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano`

var insightColumnSizes = [...]int{8, 4, 4, 8, 8, 2, 8, 8, 8, 8, 8, 8, 8}

// postgresEpoch is PostgreSQL's epoch (2000-01-01 UTC) in unix microseconds.
const postgresEpoch = 946_684_800_000_000

// eachInsightRow calls fn with the events matching where (with args),
// in time order and then by id, read through q, decoding the binary
// values directly: an org's month is a million rows. With withID the
// rows carry their ids.
func eachInsightRow(ctx context.Context, q querier, where string, args []any, withID bool, fn func(r *insightRow) error) error {
	cols := insightColumns
	if withID {
		cols += ", id"
	}
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM events WHERE `+where+` ORDER BY time, id`, args...)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	be := binary.BigEndian
	var r insightRow
	checked := false
	for rows.Next() {
		v := rows.RawValues()
		if !checked {
			fds := rows.FieldDescriptions()
			for i := range fds {
				if fds[i].Format != pgx.BinaryFormatCode {
					return fmt.Errorf("read events: column %s is not in binary format", fds[i].Name)
				}
			}
			checked = true
		}
		if len(v) != len(insightColumnSizes)+btoi(withID) {
			return fmt.Errorf("read events: %d columns", len(v))
		}
		for i, n := range insightColumnSizes {
			if len(v[i]) != n {
				return fmt.Errorf("read events: column %d has %d bytes, want %d", i+1, len(v[i]), n)
			}
		}
		r.t = int64(be.Uint64(v[0])) + postgresEpoch
		r.attr, r.session = int32(be.Uint32(v[1])), int32(be.Uint32(v[2]))
		r.systemFP, r.requestFP = int64(be.Uint64(v[3])), int64(be.Uint64(v[4]))
		r.status, r.maxTokens = int16(be.Uint16(v[5])), int64(be.Uint64(v[6]))
		r.tokens = allot.Tokens{Input: int64(be.Uint64(v[7])), CacheRead: int64(be.Uint64(v[8])), CacheWrite5m: int64(be.Uint64(v[9])),
			CacheWrite1h: int64(be.Uint64(v[10])), Output: int64(be.Uint64(v[11]))}
		r.cost = int64(be.Uint64(v[12]))
		if withID {
			r.id = v[13]
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readOnly runs fn in a read-only transaction on one snapshot, so that
// the attributions read first cover the events read after. Its
// statements are planned for their arguments every time: a generic plan
// of the cached statements (which PostgreSQL switches to after five runs)
// reads a person's events ten times slower.
func (db *DB) readOnly(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// attrExtras is what one attribution's calls add to InsightUsage beyond
// the rollups.
type attrExtras struct {
	attr int32
	v    rollup.Extras
}

// dupKey identifies a request for duplicate detection: the same request
// fingerprint from the same user (dict id).
type dupKey struct {
	user int32
	fp   int64
}

// insightExtras sums, per attribution of s, the failed, duplicate and
// unlimited calls in [from, to), in attribution order, and returns the
// attributions' keys. Duplicates are found over every call of the
// scope's users, from allot.DuplicateWindow before from. The org's sums
// over closed days come from memory when kept (insights_kept.go).
func (db *DB) insightExtras(ctx context.Context, from, to time.Time, s insightScope) ([]attrExtras, attrKeys, error) {
	var out []attrExtras
	var keys attrKeys
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		var err error
		if keys, err = db.readAttrKeys(ctx, tx, s.users); err != nil {
			return err
		}
		var kept []attrExtras
		if s.attrs == nil {
			d0 := floorDiv(from.UnixMicro(), usPerDay)
			end, vs, err := closedRun(ctx, tx, d0, floorDiv(to.UnixMicro(), usPerDay))
			if err != nil {
				return err
			}
			if k, ok := db.kextras.Get(d0, end, vs); ok && end > d0 {
				kept, from = k, time.UnixMicro(end*usPerDay).UTC()
			}
		}
		if out, err = scanExtras(ctx, tx, from, to, s, keys); err != nil || kept == nil {
			return err
		}
		out = addExtras(kept, out)
		return nil
	})
	if err != nil {
		return nil, keys, fmt.Errorf("read failed and repeated calls: %w", err)
	}
	return out, keys, nil
}

// addExtras returns the per-attribution sums of a and b (each in
// attribution order), in attribution order.
func addExtras(a, b []attrExtras) []attrExtras {
	out := make([]attrExtras, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].attr < b[j].attr:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].attr < a[i].attr:
			out = append(out, b[j])
			j++
		default:
			x := a[i]
			rollup.AddExtras(&x.v, &b[j].v)
			out = append(out, x)
			i, j = i+1, j+1
		}
	}
	return out
}

// scanExtras is insightExtras over the events, read through tx.
func scanExtras(ctx context.Context, tx pgx.Tx, from, to time.Time, s insightScope, keys attrKeys) ([]attrExtras, error) {
	var keep map[int32]bool
	where, args := `time >= $1 AND time < $2`, []any{from.Add(-allot.DuplicateWindow), to}
	if s.attrs != nil {
		keep = make(map[int32]bool, len(s.attrs))
		for _, a := range s.attrs {
			keep[a] = true
		}
		where, args = `attr = ANY ($3::int4[]) AND `+where, append(args, s.users)
	}
	start, window := from.UnixMicro(), allot.DuplicateWindow.Microseconds()
	seen := map[dupKey]int64{}
	pruned := int64(0)
	sums := map[int32]*rollup.Extras{}
	err := eachInsightRow(ctx, tx, where, args, false, func(r *insightRow) error {
		dup := false
		if r.requestFP != 0 {
			u, ok := keys.users[r.attr]
			if !ok {
				return fmt.Errorf("events refer to unknown attribution %d", r.attr)
			}
			k := dupKey{u, r.requestFP}
			if prev, ok := seen[k]; ok && rollup.Duplicate(prev, r.t) {
				dup = true
			}
			seen[k] = r.t
			if r.t-pruned > 64*window { // forget calls no repeat can follow
				for k, t := range seen {
					if r.t-t > window {
						delete(seen, k)
					}
				}
				pruned = r.t
			}
		}
		if r.t < start || keep != nil && !keep[r.attr] || !rollup.Counts(int64(r.status), r.maxTokens, dup) {
			return nil
		}
		x := sums[r.attr]
		if x == nil {
			x = &rollup.Extras{}
			sums[r.attr] = x
		}
		x.AddCall(int64(r.status), r.maxTokens, &r.tokens, r.cost, dup)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]attrExtras, 0, len(sums))
	for a, v := range sums {
		out = append(out, attrExtras{a, *v})
	}
	slices.SortFunc(out, func(a, b attrExtras) int { return cmp.Compare(a.attr, b.attr) })
	return out, nil
}

// chainKey is a chain within a day.
type chainKey struct {
	attr, session int32
	fp            int64
}

// keyed is a prompt (fp) or session (session) of one InsightKey (its index).
type keyed struct {
	key     int32
	session int32
	fp      int64
}

// chainSums sums chains per key, in first-seen order.
type chainSums[K comparable] struct {
	index map[K]int32
	keys  []K
	vals  []rollup.Calls
}

func newChainSums[K comparable]() *chainSums[K] { return &chainSums[K]{index: map[K]int32{}} }

// at returns the sum of k, and whether it existed; a new one is zero.
func (s *chainSums[K]) at(k K) (*rollup.Calls, bool) {
	if i, ok := s.index[k]; ok {
		return &s.vals[i], true
	}
	s.index[k] = int32(len(s.vals))
	s.keys = append(s.keys, k)
	s.vals = append(s.vals, rollup.Calls{})
	return &s.vals[len(s.vals)-1], false
}

func (s *chainSums[K]) reset() {
	clear(s.index)
	s.keys, s.vals = s.keys[:0], s.vals[:0]
}

// callFolder folds calls, in time order, into chains per day, and each
// finished day into the prompts and sessions of the range.
type callFolder struct {
	keys     attrKeys
	canon    map[int32]int32 // attribution -> index in keyList
	keyIndex map[allot.InsightKey]int32
	keyList  []allot.InsightKey

	day    int64 // the day being folded
	chains *chainSums[chainKey]

	prompts  *chainSums[keyed]
	sessions *chainSums[keyed]
	today    *chainSums[keyed] // the day's sessions
}

func newCallFolder(keys attrKeys) *callFolder {
	return &callFolder{keys: keys, canon: map[int32]int32{}, keyIndex: map[allot.InsightKey]int32{}, day: -1 << 62,
		chains: newChainSums[chainKey](), prompts: newChainSums[keyed](), sessions: newChainSums[keyed](), today: newChainSums[keyed]()}
}

// add folds call r under counted prompt fp (0 for none).
func (f *callFolder) add(r *insightRow, fp int64) error {
	if day := floorDiv(r.t, usPerDay); day != f.day {
		if err := f.endDay(); err != nil {
			return err
		}
		f.day = day
	}
	c, _ := f.chains.at(chainKey{r.attr, r.session, fp})
	c.Add(r.t, &r.tokens, r.cost)
	return nil
}

// canonOf returns the index of attribution a's InsightKey.
func (f *callFolder) canonOf(a int32) (int32, error) {
	if c, ok := f.canon[a]; ok {
		return c, nil
	}
	k, ok := f.keys.keys[a]
	if !ok {
		return 0, fmt.Errorf("events refer to unknown attribution %d", a)
	}
	c, ok := f.keyIndex[k]
	if !ok {
		c = int32(len(f.keyList))
		f.keyIndex[k] = c
		f.keyList = append(f.keyList, k)
	}
	f.canon[a] = c
	return c, nil
}

// endDay folds the day's chains into the prompts (interleaved) and the
// sessions (interleaved within the day, following the days before).
func (f *callFolder) endDay() error {
	if len(f.chains.vals) == 0 {
		return nil
	}
	f.today.reset()
	for i, k := range f.chains.keys {
		c := &f.chains.vals[i]
		key, err := f.canonOf(k.attr)
		if err != nil {
			return err
		}
		if k.fp != 0 {
			if p, ok := f.prompts.at(keyed{key: key, fp: k.fp}); ok {
				rollup.Merge(p, c)
			} else {
				*p = *c
			}
		}
		if k.session != 0 {
			if d, ok := f.today.at(keyed{key: key, session: k.session}); ok {
				rollup.Merge(d, c)
			} else {
				*d = *c
			}
		}
	}
	for i, sk := range f.today.keys {
		if s, ok := f.sessions.at(sk); ok {
			rollup.Follow(s, &f.today.vals[i])
		} else {
			*s = f.today.vals[i]
		}
	}
	f.chains.reset()
	return nil
}

// result returns the prompts and sessions, sorted by key and then
// fingerprint or session name.
func (f *callFolder) result(ctx context.Context, q querier, d *dict) (allot.InsightCalls, error) {
	var out allot.InsightCalls
	if err := f.endDay(); err != nil {
		return out, err
	}
	// Sort positions, not the results: they are large.
	rank := make([]int32, len(f.keyList))
	byKey := make([]int32, len(f.keyList))
	for i := range byKey {
		byKey[i] = int32(i)
	}
	slices.SortFunc(byKey, func(a, b int32) int { return cmpInsightKey(&f.keyList[a], &f.keyList[b]) })
	for r, i := range byKey {
		rank[i] = int32(r)
	}
	order := make([]int32, len(f.prompts.keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := &f.prompts.keys[a], &f.prompts.keys[b]
		return cmp.Or(cmp.Compare(rank[ka.key], rank[kb.key]), cmp.Compare(uint64(ka.fp), uint64(kb.fp)))
	})
	out.Prompts = make([]allot.PromptUsage, len(order))
	for j, i := range order {
		pk, p := f.prompts.keys[i], &f.prompts.vals[i]
		out.Prompts[j] = p.Prompt(f.keyList[pk.key], pk.fp)
	}
	ids := make([]int32, 0, len(f.sessions.keys))
	for _, sk := range f.sessions.keys {
		ids = append(ids, sk.session)
	}
	names, err := d.names(ctx, q, ids)
	if err != nil {
		return out, err
	}
	type sessionRef struct {
		rank int32
		name string
		i    int32
	}
	refs := make([]sessionRef, len(f.sessions.keys))
	for i, sk := range f.sessions.keys {
		refs[i] = sessionRef{rank[sk.key], names[sk.session], int32(i)}
	}
	slices.SortFunc(refs, func(a, b sessionRef) int { return cmp.Or(cmp.Compare(a.rank, b.rank), strings.Compare(a.name, b.name)) })
	out.Sessions = make([]allot.SessionUsage, len(refs))
	for j, r := range refs {
		sk, c := f.sessions.keys[r.i], &f.sessions.vals[r.i]
		out.Sessions[j] = allot.SessionUsage{InsightKey: f.keyList[sk.key], Session: r.name}
		c.SetSession(&out.Sessions[j])
	}
	return out, nil
}

// InsightCalls sums, over the days overlapping [q.From, q.To), the calls
// per InsightKey and counted system prompt, and per InsightKey and
// session, sorted by key and then prompt or session. The org's calls are
// read in one pass in time order; a scope's calls are read alone, and
// whether their prompts were sent in the day before them (by anyone) is
// found from the prompts' calls per hour.
func (db *DB) InsightCalls(ctx context.Context, q allot.InsightQuery) (allot.InsightCalls, error) {
	out := allot.InsightCalls{Prompts: []allot.PromptUsage{}, Sessions: []allot.SessionUsage{}}
	from, to := dayBounds(q.From, q.To)
	s, err := db.insightScope(ctx, q)
	if err != nil || s.none || !from.Before(to) {
		return out, wrapErr("insight calls", err)
	}
	err = db.readOnly(ctx, func(tx pgx.Tx) error {
		keys, err := db.readAttrKeys(ctx, tx, s.attrs)
		if err != nil {
			return err
		}
		f := newCallFolder(keys)
		if s.attrs == nil {
			// The org's calls up to the end of the closed days come from
			// memory when kept (insights_kept.go); the rest follow.
			start := from
			d0 := floorDiv(from.UnixMicro(), usPerDay)
			end, vs, runErr := closedRun(ctx, tx, d0, floorDiv(to.UnixMicro(), usPerDay))
			if runErr != nil {
				return runErr
			}
			if k, ok := db.kcalls.Get(d0, end, vs); ok && end > d0 {
				f, start = k.clone(keys), time.UnixMicro(end*usPerDay).UTC()
			}
			if start.Before(to) {
				err = db.foldOrgCalls(ctx, tx, f, start, to)
			}
		} else {
			err = db.foldScopeCalls(ctx, tx, f, from, to, s.attrs)
		}
		if err != nil {
			return err
		}
		out, err = f.result(ctx, tx, db.dict)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("insight calls: %w", err)
	}
	if q.EachSession != nil { // handed over one by one, as asked
		ids := map[allot.InsightKey]int{}
		for i := range out.Sessions {
			s := &out.Sessions[i]
			id, ok := ids[s.InsightKey]
			if !ok {
				id = len(ids)
				ids[s.InsightKey] = id
			}
			if err := q.EachSession(id, s); err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
		}
		out.Sessions = nil
	}
	return out, nil
}

// foldOrgCalls folds every call in [from, to) with a session or a counted
// prompt, reading the prompts' calls from rollup.PromptSeenWindow before from to
// tell their first sightings.
func (db *DB) foldOrgCalls(ctx context.Context, tx pgx.Tx, f *callFolder, from, to time.Time) error {
	start, window := from.UnixMicro(), rollup.PromptSeenWindow.Microseconds()
	seen := map[int64]int64{} // fingerprint -> its latest call
	pruned := int64(0)
	return eachInsightRow(ctx, tx, `time >= $1 AND time < $3 AND (system_fp <> 0 OR session <> 0 AND time >= $2)`,
		[]any{from.Add(-rollup.PromptSeenWindow), from, to}, false, func(r *insightRow) error {
			fp := int64(0)
			if r.systemFP != 0 {
				if prev, ok := seen[r.systemFP]; ok && rollup.PromptKnown(prev, r.t) {
					fp = r.systemFP
				}
				seen[r.systemFP] = r.t
				if r.t-pruned > window {
					for k, t := range seen {
						if r.t-t > window {
							delete(seen, k)
						}
					}
					pruned = r.t
				}
			}
			if r.t < start || r.session == 0 && fp == 0 {
				return nil
			}
			return f.add(r, fp)
		})
}

// promptHour is the calls with one system prompt in one hour.
type promptHour struct {
	calls       int64
	first, last int64 // unix microseconds
}

// foldScopeCalls folds the calls of attrs in [from, to) with a session or
// a system prompt. A prompt counts if anyone sent it within
// rollup.PromptSeenWindow before: the prompts' calls are counted per hour (one
// scan of the range, no sort), which decides every call but one whose
// prompt's only earlier call in the window came at the same microsecond;
// those few are looked up by time and id.
func (db *DB) foldScopeCalls(ctx context.Context, tx pgx.Tx, f *callFolder, from, to time.Time, attrs []int32) error {
	var evs []insightRow
	var ids [][]byte
	fps := map[int64]bool{}
	err := eachInsightRow(ctx, tx, `attr = ANY ($3::int4[]) AND time >= $1 AND time < $2 AND (system_fp <> 0 OR session <> 0)`,
		[]any{from, to, attrs}, true, func(r *insightRow) error {
			evs = append(evs, *r)
			ids = append(ids, slices.Clone(r.id))
			if r.systemFP != 0 {
				fps[r.systemFP] = true
			}
			return nil
		})
	if err != nil || len(evs) == 0 {
		return err
	}
	hours := map[[2]int64]promptHour{} // fingerprint, unix hour
	if len(fps) > 0 {
		list := make([]int64, 0, len(fps))
		for fp := range fps {
			list = append(list, fp)
		}
		rows, err := tx.Query(ctx, `SELECT system_fp, date_bin('1 hour', time, 'epoch'), count(*), min(time), max(time) FROM events
			WHERE time >= $1 AND time < $2 AND system_fp = ANY ($3::int8[]) GROUP BY 1, 2`, from.Add(-rollup.PromptSeenWindow), to, list)
		if err != nil {
			return fmt.Errorf("read prompts per hour: %w", err)
		}
		var fp int64
		var hour, first, last time.Time
		var h promptHour
		if _, err := pgx.ForEachRow(rows, []any{&fp, &hour, &h.calls, &first, &last}, func() error {
			h.first, h.last = first.UnixMicro(), last.UnixMicro()
			hours[[2]int64{fp, floorDiv(hour.UnixMicro(), usPerHour)}] = h
			return nil
		}); err != nil {
			return fmt.Errorf("read prompts per hour: %w", err)
		}
	}
	known := make([]bool, len(evs))
	var tieFP, tieAt []int64
	var tieID [][]byte
	var tieIdx []int32
	window := rollup.PromptSeenWindow.Microseconds()
	for i := range evs {
		e := &evs[i]
		if e.systemFP == 0 {
			continue
		}
		h := floorDiv(e.t, usPerHour)
		// The window [t - 24h, t] spans hour h-24 from within, whole
		// hours h-23 .. h-1, and hour h up to t.
		for hb := h - window/usPerHour + 1; hb < h && !known[i]; hb++ {
			_, known[i] = hours[[2]int64{e.systemFP, hb}]
		}
		if b, ok := hours[[2]int64{e.systemFP, h - window/usPerHour}]; !known[i] && ok && rollup.PromptKnown(b.last, e.t) {
			known[i] = true
		}
		if b := hours[[2]int64{e.systemFP, h}]; !known[i] && b.first < e.t {
			known[i] = true
		}
		if b := hours[[2]int64{e.systemFP, h}]; !known[i] && b.first == e.t && b.calls > 1 {
			tieFP, tieAt, tieID, tieIdx = append(tieFP, e.systemFP), append(tieAt, e.t), append(tieID, ids[i]), append(tieIdx, int32(i))
		}
	}
	if len(tieIdx) > 0 {
		at := make([]time.Time, len(tieAt))
		for i, t := range tieAt {
			at[i] = time.UnixMicro(t).UTC()
		}
		rows, _ := tx.Query(ctx, `SELECT u.i FROM unnest($1::int8[], $2::timestamptz[], $3::bytea[], $4::int4[]) AS u(fp, t, id, i)
			WHERE EXISTS (SELECT 1 FROM events e WHERE e.time = u.t AND e.system_fp = u.fp AND e.id < u.id)`, tieFP, at, tieID, tieIdx)
		var i int32
		if _, err := pgx.ForEachRow(rows, []any{&i}, func() error {
			known[i] = true
			return nil
		}); err != nil {
			return fmt.Errorf("read prompts sent at the same time: %w", err)
		}
	}
	for i := range evs {
		fp := int64(0)
		if known[i] {
			fp = evs[i].systemFP
		}
		if evs[i].session == 0 && fp == 0 {
			continue
		}
		if err := f.add(&evs[i], fp); err != nil {
			return err
		}
	}
	return nil
}
