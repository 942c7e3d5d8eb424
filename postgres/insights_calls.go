package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

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

// insightExtras sums, per attribution of s, the failed, duplicate and
// unlimited calls in [from, to) from the insight rows, in attribution
// order, and returns the
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
		if out, err = readExtras(ctx, tx, from, to, s.attrs); err != nil || kept == nil {
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

// readExtras sums the insight_extras rows of [from, to) per attribution,
// of attrs only unless nil, in attribution order, read through tx.
func readExtras(ctx context.Context, tx pgx.Tx, from, to time.Time, attrs []int32) ([]attrExtras, error) {
	where, args := `hour >= $1 AND hour < $2`, []any{floorDiv(from.UnixMicro(), usPerHour), floorDiv(to.UnixMicro(), usPerHour)}
	if attrs != nil {
		where, args = where+` AND attr = ANY ($3::int4[])`, append(args, attrs)
	}
	rows, _ := tx.Query(ctx, `SELECT attr, `+extrasColumns+` FROM insight_extras WHERE `+where, args...)
	sums := map[int32]*rollup.Extras{}
	var attr int32
	var x rollup.Extras
	dest := []any{&attr}
	for i := range x {
		dest = append(dest, &x[i])
	}
	if _, err := pgx.ForEachRow(rows, dest, func() error {
		s := sums[attr]
		if s == nil {
			s = &rollup.Extras{}
			sums[attr] = s
		}
		rollup.AddExtras(s, &x)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read insight extras: %w", err)
	}
	out := make([]attrExtras, 0, len(sums))
	for a, v := range sums {
		out = append(out, attrExtras{a, *v})
	}
	slices.SortFunc(out, func(a, b attrExtras) int { return cmp.Compare(a.attr, b.attr) })
	return out, nil
}

// readCalls hands f the insight_calls rows of [from, to), of attrs only
// unless nil, in hour order, read through tx.
func readCalls(ctx context.Context, tx pgx.Tx, f *callFolder, from, to time.Time, attrs []int32) error {
	where, args := `hour >= $1 AND hour < $2`, []any{floorDiv(from.UnixMicro(), usPerHour), floorDiv(to.UnixMicro(), usPerHour)}
	if attrs != nil {
		where, args = where+` AND attr = ANY ($3::int4[])`, append(args, attrs)
	}
	rows, _ := tx.Query(ctx, `SELECT hour, attr, session, system_fp, `+callColumns+` FROM insight_calls WHERE `+where+` ORDER BY hour`, args...)
	var hour int64
	var k chainKey
	var v rollup.Calls
	dest := []any{&hour, &k.attr, &k.session, &k.fp}
	for i := range v {
		dest = append(dest, &v[i])
	}
	if _, err := pgx.ForEachRow(rows, dest, func() error { return f.add(hour, k, &v) }); err != nil {
		return fmt.Errorf("read insight calls: %w", err)
	}
	return nil
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

// callFolder joins hourly rows, in hour order, into chains per day, and
// each finished day into the prompts and sessions of the range.
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

// add joins the row of hour and k, which follows k's earlier hours.
func (f *callFolder) add(hour int64, k chainKey, v *rollup.Calls) error {
	if day := floorDiv(hour, 24); day != f.day {
		if err := f.endDay(); err != nil {
			return err
		}
		f.day = day
	}
	if c, ok := f.chains.at(k); ok {
		rollup.Follow(c, v)
	} else {
		*c = *v
	}
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
	if err := db.foldInsights(ctx); err != nil {
		return out, fmt.Errorf("insight calls: %w", err)
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
				err = readCalls(ctx, tx, f, start, to, nil)
			}
		} else {
			err = readCalls(ctx, tx, f, from, to, s.attrs)
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
