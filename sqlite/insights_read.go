package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// The insight aggregates are read per UTC day: whole past days from
// insight_days, where each day's hourly insight_calls and insight_extras
// rows are merged and packed into 64 parts on first use (as daily_totals
// does for reports), today and days changed since from the hourly rows.
// The org's month is then a few hundred thousand packed entries decoded
// in Go, not millions of rows scanned through SQL, and one person's month
// is 30 small parts.

// A packed day is up to 2×insightParts insight_days rows: part p holds
// in its calls blob the call entries of the users whose dict id is p
// modulo insightParts, part insightParts+p their extras in its extras
// blob (the other blob empty), each in rollup's packed-day format. The org
// reads all parts of a day, one person a single part of each kind. A row
// with part -1 and empty blobs marks the day as packed.
const insightParts = 64

// userOf returns the user (dict id) of attribution id, refreshing the
// cache through q when it lacks it.
func (db *DB) userOf(ctx context.Context, q querier, id int64) (int64, error) {
	db.attrs.mu.RLock()
	a, ok := db.attrs.attrs[id]
	db.attrs.mu.RUnlock()
	if !ok {
		if err := db.attrs.refresh(ctx, q); err != nil {
			return 0, err
		}
		db.attrs.mu.RLock()
		a, ok = db.attrs.attrs[id]
		db.attrs.mu.RUnlock()
		if !ok {
			return 0, fmt.Errorf("insight aggregates refer to unknown attribution %d", id)
		}
	}
	return a[2], nil
}

// ensureInsightDays packs every day in [from, to), all before today, that
// insight_days lacks, in one write transaction so that no fold can slip in
// between reading a day's hours and storing it.
func (db *DB) ensureInsightDays(ctx context.Context, from, to int64) error {
	if from >= to {
		return nil
	}
	missing, err := missingInsightDays(ctx, db.r, from, to)
	if err != nil || len(missing) == 0 {
		return err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insight days: %w", err)
	}
	defer tx.Rollback()
	if missing, err = missingInsightDays(ctx, tx, from, to); err != nil || len(missing) == 0 {
		return err
	}
	// Runs of consecutive missing days are read in one query each.
	for i := 0; i < len(missing); {
		j := i + 1
		for j < len(missing) && missing[j] == missing[j-1]+1 {
			j++
		}
		days, err := readInsightHours(ctx, tx, missing[i], missing[j-1]+1, nil, true, true)
		if err != nil {
			return fmt.Errorf("insight days: %w", err)
		}
		for _, day := range missing[i:j] {
			if err := db.packDay(ctx, tx, day, days[day]); err != nil {
				return fmt.Errorf("insight days: %w", err)
			}
		}
		i = j
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insight days: %w", err)
	}
	return nil
}

// packDay stores d (nil for a day without data) as its parts and marker.
func (db *DB) packDay(ctx context.Context, tx *sql.Tx, day int64, d *rollup.Day) error {
	var calls [insightParts][]rollup.DayCall
	var extras [insightParts][]rollup.DayExtra
	if d != nil {
		for _, c := range d.Calls {
			u, err := db.userOf(ctx, tx, c.Attr)
			if err != nil {
				return err
			}
			calls[u%insightParts] = append(calls[u%insightParts], c)
		}
		for _, x := range d.Extras {
			u, err := db.userOf(ctx, tx, x.Attr)
			if err != nil {
				return err
			}
			extras[u%insightParts] = append(extras[u%insightParts], x)
		}
	}
	for p := range calls {
		rollup.SortCalls(calls[p])
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO insight_days (day, part, calls, extras) VALUES (?, -1, x'', x'')`, day); err != nil {
		return err
	}
	for p := range insightParts {
		if len(calls[p]) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO insight_days (day, part, calls, extras) VALUES (?, ?, ?, x'')`,
				day, p, rollup.EncodeCalls(day, calls[p])); err != nil {
				return err
			}
		}
		if len(extras[p]) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO insight_days (day, part, calls, extras) VALUES (?, ?, x'', ?)`,
				day, insightParts+p, rollup.EncodeExtras(extras[p])); err != nil {
				return err
			}
		}
	}
	return nil
}

// missingInsightDays lists the days in [from, to) that are not packed.
func missingInsightDays(ctx context.Context, q querier, from, to int64) ([]int64, error) {
	have, err := packedInsightDays(ctx, q, from, to)
	if err != nil {
		return nil, err
	}
	var missing []int64
	for d := from; d < to; d++ {
		if !have[d] {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

// packedInsightDays returns the days in [from, to) that are packed. It
// looks up each day's marker row (day, -1) by key: a range scan would
// step over every part of every day, and parts are large rows.
func packedInsightDays(ctx context.Context, q querier, from, to int64) (map[int64]bool, error) {
	have := map[int64]bool{}
	read := func(rows *sql.Rows) error {
		var d int64
		err := rows.Scan(&d)
		have[d] = true
		return err
	}
	if to-from > 4*maxChunk { // years: scan the range instead
		if err := eachRow(ctx, q, `SELECT day FROM insight_days WHERE part = -1 AND day >= ? AND day < ?`, []any{from, to}, read); err != nil {
			return nil, fmt.Errorf("insight days: %w", err)
		}
		return have, nil
	}
	for lo := from; lo < to; lo += maxChunk {
		hi := min(to, lo+maxChunk)
		days := make([]int64, 0, hi-lo)
		for d := lo; d < hi; d++ {
			days = append(days, d)
		}
		if err := eachRow(ctx, q, `SELECT day FROM insight_days WHERE part = -1 AND day IN (`+placeholders(len(days))+`)`, int64Args(days), read); err != nil {
			return nil, fmt.Errorf("insight days: %w", err)
		}
	}
	return have, nil
}

// WarmInsights folds waiting events, packs every past day of the last
// days days and sums the org's extras and calls over the default 30-day
// period's past days, so that the next insights answer without building
// them. It also reads the dictionary whole, which a server's reads would
// come to (dict.go) during someone's request. A server calls it every few
// minutes (serve's warming): once warm, it costs milliseconds.
func (db *DB) WarmInsights(ctx context.Context, days int) error {
	if err := db.dict.refresh(ctx, db.r); err != nil {
		return err
	}
	if err := db.flushInsights(ctx); err != nil {
		return err
	}
	today := db.now().UnixMicro() / usPerDay
	if err := db.ensureInsightDays(ctx, today-int64(days), today); err != nil {
		return err
	}
	if _, err := db.orgExtras(ctx, today-29, today); err != nil {
		return err
	}
	_, err := db.orgCalls(ctx, today-29, today)
	return err
}

// insightFilter is whose aggregates a read keeps: users (dict ids) and
// their attributions, or everyone when users is nil.
type insightFilter struct {
	users []int64
	attrs []int64
}

// filterOf resolves q's user and team to a filter.
func (db *DB) filterOf(ctx context.Context, q allot.InsightQuery) (insightFilter, error) {
	if q.User == "" && q.Team == "" {
		return insightFilter{}, nil
	}
	f := insightFilter{users: []int64{}, attrs: []int64{}}
	if err := db.attrs.refresh(ctx, db.r); err != nil {
		return f, err
	}
	ids := map[string]int64{}
	for _, name := range []string{q.User, q.Team} {
		if name == "" {
			continue
		}
		id, ok, err := db.dict.lookup(ctx, db.r, name)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, nil // never recorded: nobody matches
		}
		ids[name] = id
	}
	users := map[int64]bool{}
	db.attrs.mu.RLock()
	for id, a := range db.attrs.attrs {
		if (q.User == "" || a[2] == ids[q.User]) && (q.Team == "" || a[1] == ids[q.Team]) {
			f.attrs = append(f.attrs, id)
			users[a[2]] = true
		}
	}
	db.attrs.mu.RUnlock()
	for u := range users {
		f.users = append(f.users, u)
	}
	slices.Sort(f.users)
	slices.Sort(f.attrs)
	return f, nil
}

// eachInsightDay calls fn, in day order, with the insight aggregates of
// f's people on every day overlapping [from, to) that has any: their call
// entries if calls, their extras if extras. One person's call entries of
// a session are adjacent (sortCalls; a day's parts are sorted each, and a
// person's entries are all in one part). fn must not keep the day: its
// slices are reused. It folds waiting events first and packs past days on
// first use.
func (db *DB) eachInsightDay(ctx context.Context, from, to time.Time, f insightFilter, calls, extras bool, fn func(d *rollup.Day) error) error {
	if err := db.flushInsights(ctx); err != nil {
		return err
	}
	if f.users != nil && len(f.users) == 0 {
		return nil
	}
	d0 := floorDiv(from.UnixMicro(), usPerDay)
	d1 := floorDiv(to.UnixMicro()-1, usPerDay) + 1
	var first sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(h) FROM (SELECT min(hour) AS h FROM insight_calls UNION ALL SELECT min(hour) FROM insight_extras)`).Scan(&first); err != nil {
		return fmt.Errorf("insight days: %w", err)
	}
	if !first.Valid {
		return nil
	}
	d0 = max(d0, first.Int64/24)
	if d0 >= d1 {
		return nil
	}
	today := db.now().UnixMicro() / usPerDay
	cached := min(d1, today)
	if err := db.ensureInsightDays(ctx, d0, cached); err != nil {
		return err
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("insight days: %w", err)
	}
	defer tx.Rollback()

	packed, err := packedInsightDays(ctx, tx, d0, cached)
	if err != nil {
		return err
	}
	// Parts 0-63 hold calls, 64-127 extras: each read skips the other's
	// rows by key, never stepping through their blobs.
	var parts []any
	for p := range int64(insightParts) {
		if f.users != nil && !slices.ContainsFunc(f.users, func(u int64) bool { return u%insightParts == p }) {
			continue
		}
		if calls {
			parts = append(parts, p)
		}
		if extras {
			parts = append(parts, insightParts+p)
		}
	}
	slices.SortFunc(parts, func(a, b any) int { return int(a.(int64) - b.(int64)) })
	query := `SELECT day, part, ` + map[bool]string{true: "calls", false: "x''"}[calls] + `, ` + map[bool]string{true: "extras", false: "x''"}[extras] +
		` FROM insight_days WHERE day >= ? AND day < ? AND part IN (` + placeholders(len(parts)) + `) ORDER BY day`
	args := append([]any{d0, cached}, parts...)
	var keep map[int64]bool // attributions to keep when filtering
	if f.users != nil {
		keep = make(map[int64]bool, len(f.attrs))
		for _, a := range f.attrs {
			keep[a] = true
		}
	}
	// Days not packed (today, or changed since the markers were read) come
	// from the hourly rows; packed days stream in order, decoded into
	// buffers reused from day to day.
	raw := map[int64]*rollup.Day{}
	for day := d0; day < d1; {
		if packed[day] {
			day++
			continue
		}
		end := day + 1
		for end < d1 && !packed[end] {
			end++
		}
		days, err := db.readRecentHours(ctx, tx, day, end, f.attrs, calls, extras)
		if err != nil {
			return err
		}
		maps.Copy(raw, days)
		day = end
	}
	rawDays := slices.Sorted(maps.Keys(raw))
	emitRaw := func(before int64) error {
		for len(rawDays) > 0 && rawDays[0] < before {
			rollup.SortCalls(raw[rawDays[0]].Calls)
			if err := fn(raw[rawDays[0]]); err != nil {
				return err
			}
			rawDays = rawDays[1:]
		}
		return nil
	}
	cur := &rollup.Day{Day: -1}
	flush := func() error {
		if cur.Day < 0 {
			return nil
		}
		if err := emitRaw(cur.Day); err != nil {
			return err
		}
		return fn(cur)
	}
	err = eachRow(ctx, tx, query, args, func(rows *sql.Rows) error {
		var day, part int64
		var cb, xb sql.RawBytes
		if err := rows.Scan(&day, &part, &cb, &xb); err != nil {
			return err
		}
		if !packed[day] {
			return nil // packed after the markers were read: read from its hours
		}
		if day != cur.Day {
			if err := flush(); err != nil {
				return err
			}
			cur.Day, cur.Calls, cur.Extras = day, cur.Calls[:0], cur.Extras[:0]
		}
		var err error
		if calls && part < insightParts {
			n := len(cur.Calls)
			if cur.Calls, err = rollup.DecodeCalls(day, cb, cur.Calls); err != nil {
				return err
			}
			rollup.SortCalls(cur.Calls[n:]) // a no-op unless packed before parts were sorted
			if keep != nil {
				kept := cur.Calls[:n]
				for _, c := range cur.Calls[n:] {
					if keep[c.Attr] {
						kept = append(kept, c)
					}
				}
				cur.Calls = kept
			}
		}
		if extras && part >= insightParts {
			n := len(cur.Extras)
			if cur.Extras, err = rollup.DecodeExtras(xb, cur.Extras); err != nil {
				return err
			}
			if keep != nil {
				kept := cur.Extras[:n]
				for _, x := range cur.Extras[n:] {
					if keep[x.Attr] {
						kept = append(kept, x)
					}
				}
				cur.Extras = kept
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = emitRaw(math.MaxInt64)
	}
	if err != nil {
		return fmt.Errorf("insight days: %w", err)
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// insightNames resolves attributions to InsightKeys and applies a
// query's user and team filters.
type insightNames struct {
	db     *DB
	ctx    context.Context
	keys   map[int64]*allot.InsightKey // nil: filtered out
	dense  []*allot.InsightKey         // keys of small attribution ids, by id; nil: not known yet or filtered out
	canons []int64                     // by attribution: the first with its InsightKey, -1 filtered out, 0 not yet known
	byKey  map[allot.InsightKey]int64
	user   int64 // dict id to match, -1 for any
	team   int64
	none   bool // the filter names a value never recorded
	strs   map[int64]string
}

func (db *DB) insightNames(ctx context.Context, q allot.InsightQuery) (*insightNames, error) {
	if err := db.cacheAttrStrings(ctx); err != nil {
		return nil, err
	}
	n := &insightNames{db: db, ctx: ctx, keys: map[int64]*allot.InsightKey{}, byKey: map[allot.InsightKey]int64{},
		user: -1, team: -1, strs: map[int64]string{}}
	for _, f := range []struct {
		value string
		id    *int64
	}{{q.User, &n.user}, {q.Team, &n.team}} {
		if f.value == "" {
			continue
		}
		id, ok, err := db.dict.lookup(ctx, db.r, f.value)
		if err != nil {
			return nil, err
		}
		n.none = n.none || !ok
		*f.id = id
	}
	return n, nil
}

// name returns the string of a dict id.
func (n *insightNames) name(id int64) (string, error) {
	if s, ok := n.strs[id]; ok {
		return s, nil
	}
	s, err := n.db.dict.names(n.ctx, n.db.r, id)
	if err != nil {
		return "", err
	}
	n.strs[id] = s[0]
	return s[0], nil
}

// key returns the InsightKey of attribution id, or nil when the query's
// filters leave it out.
func (n *insightNames) key(id int64) (*allot.InsightKey, error) {
	if id > 0 && id < int64(len(n.dense)) && n.dense[id] != nil {
		return n.dense[id], nil
	}
	if k, ok := n.keys[id]; ok {
		return k, nil
	}
	n.db.attrs.mu.RLock()
	a, ok := n.db.attrs.attrs[id]
	n.db.attrs.mu.RUnlock()
	if !ok {
		if err := n.db.attrs.refresh(n.ctx, n.db.r); err != nil {
			return nil, err
		}
		n.db.attrs.mu.RLock()
		a, ok = n.db.attrs.attrs[id]
		n.db.attrs.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("insight aggregates refer to unknown attribution %d", id)
		}
	}
	if n.none || n.user >= 0 && a[2] != n.user || n.team >= 0 && a[1] != n.team {
		n.keys[id] = nil
		return nil, nil
	}
	var k allot.InsightKey
	for _, f := range []struct {
		pos int
		dst *string
	}{{1, &k.Team}, {2, &k.User}, {6, &k.Provider}, {8, &k.Model}, {10, &k.Task}, {11, &k.App}} {
		s, err := n.name(a[f.pos])
		if err != nil {
			return nil, err
		}
		*f.dst = s
	}
	n.keys[id] = &k
	if id > 0 && id < 1<<24 { // attrs ids are small and dense
		for int64(len(n.dense)) <= id {
			n.dense = append(n.dense, nil)
		}
		n.dense[id] = &k
	}
	return &k, nil
}

// canon returns the first attribution seen with the same InsightKey as
// id (attributions differing only in key, role or route), or -1 when
// the query's filters leave it out.
func (n *insightNames) canon(id int64) (int64, error) {
	if id > 0 && id < int64(len(n.canons)) && n.canons[id] != 0 {
		return n.canons[id], nil
	}
	k, err := n.key(id)
	if err != nil {
		return 0, err
	}
	c := int64(-1)
	if k != nil {
		var ok bool
		if c, ok = n.byKey[*k]; !ok {
			c = id
			n.byKey[*k] = id
		}
	}
	if id > 0 && id < 1<<24 { // attrs ids are small and dense
		for int64(len(n.canons)) <= id {
			n.canons = append(n.canons, 0)
		}
		n.canons[id] = c
	}
	return c, nil
}

// InsightUsage sums usage per InsightKey over the days overlapping
// [q.From, q.To): the report totals from the rollups plus failed,
// duplicate and unlimited calls from the insight aggregates (unless
// q.Totals asks for the totals only).
func (db *DB) InsightUsage(ctx context.Context, q allot.InsightQuery) ([]allot.InsightUsage, error) {
	from, to := dayBounds(q.From, q.To)
	out, index, err := allot.ReportInsightUsage(ctx, db, q, from, to)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	if q.Totals {
		return out, nil
	}
	f, err := db.filterOf(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	names, err := db.insightNames(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	var sums []*rollup.Extras // by attribution id (small and dense)
	over := map[int64]*rollup.Extras{}
	add := func(attr int64, v *rollup.Extras) {
		var s *rollup.Extras
		switch {
		case attr > 0 && attr < int64(len(sums)):
			s = sums[attr]
		case attr > 0 && attr < 1<<24:
			sums = slices.Grow(sums, int(attr)+1-len(sums))[:attr+1]
		default:
			s = over[attr]
		}
		if s == nil {
			s = &rollup.Extras{}
			if attr > 0 && attr < int64(len(sums)) {
				sums[attr] = s
			} else {
				over[attr] = s
			}
		}
		rollup.AddExtras(s, v)
	}
	// The whole org's past days come summed from memory when unchanged
	// (insights_period.go); today, or a person's days, are read.
	rest := from
	if f.users == nil {
		d0, d1 := from.UnixMicro()/usPerDay, min(to.UnixMicro()/usPerDay, db.now().UnixMicro()/usPerDay)
		if d0 < d1 {
			past, err := db.orgExtras(ctx, d0, d1)
			if err != nil {
				return nil, fmt.Errorf("insight usage: %w", err)
			}
			for attr, v := range past {
				add(attr, v)
			}
			rest = time.UnixMicro(d1 * usPerDay).UTC()
		}
	}
	if rest.Before(to) {
		err = db.eachInsightDay(ctx, rest, to, f, false, true, func(d *rollup.Day) error {
			for i := range d.Extras {
				add(d.Extras[i].Attr, &d.Extras[i].V)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("insight usage: %w", err)
		}
	}
	for attr, s := range sums {
		if s != nil {
			over[int64(attr)] = s
		}
	}
	for _, attr := range slices.Sorted(maps.Keys(over)) {
		k, err := names.key(attr)
		if err != nil {
			return nil, fmt.Errorf("insight usage: %w", err)
		}
		if k == nil {
			continue
		}
		i, ok := index[*k]
		if !ok { // only if rollups were removed under the aggregates
			i = len(out)
			index[*k] = i
			out = append(out, allot.InsightUsage{InsightKey: *k})
		}
		over[attr].SetUsage(&out[i])
	}
	return out, nil
}

// dayBounds widens [from, to) to whole UTC days.
func dayBounds(from, to time.Time) (time.Time, time.Time) {
	d0 := floorDiv(from.UnixMicro(), usPerDay)
	d1 := floorDiv(to.UnixMicro()-1, usPerDay) + 1
	return time.UnixMicro(d0 * usPerDay).UTC(), time.UnixMicro(d1 * usPerDay).UTC()
}

// DailySpend returns each person's usage per UTC day over the days
// overlapping [q.From, q.To), from the rollups: the packed daily totals of
// past days, the hourly rollups of today and of days changed since. The
// whole org's past days are kept in memory while unchanged
// (insights_period.go).
func (db *DB) DailySpend(ctx context.Context, q allot.InsightQuery) ([]allot.DailySpend, error) {
	from, to := dayBounds(q.From, q.To)
	d0, d1 := from.UnixMicro()/usPerDay, to.UnixMicro()/usPerDay
	past := min(d1, db.now().UnixMicro()/usPerDay)
	if q.User != "" || q.Team != "" || d0 >= past {
		return db.dailySpend(ctx, q, d0, d1)
	}
	vs, err := versions(ctx, db.r, "rollup_day_versions", "day", d0, past)
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	kept, ok := db.pdaily.Get(d0, past, vs)
	if !ok {
		if kept, err = db.dailySpend(ctx, q, d0, past); err != nil {
			return nil, err
		}
		if len(kept) <= periodDailyMax {
			db.pdaily.Put(d0, past, vs, kept)
		}
	}
	rest, err := db.dailySpend(ctx, q, past, d1)
	if err != nil {
		return nil, err
	}
	// Past days come first in day order; the kept rows are not the caller's.
	return append(append(make([]allot.DailySpend, 0, len(kept)+len(rest)), kept...), rest...), nil
}

// dailySpend is DailySpend over the days [d0, d1).
func (db *DB) dailySpend(ctx context.Context, q allot.InsightQuery, d0, d1 int64) ([]allot.DailySpend, error) {
	if d0 >= d1 {
		return []allot.DailySpend{}, nil
	}
	names, err := db.insightNames(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	f, err := db.filterOf(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	var first sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(hour) FROM rollups_hourly`).Scan(&first); err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	if !first.Valid {
		return []allot.DailySpend{}, nil
	}
	d0 = max(d0, first.Int64/24)
	cached := min(d1, db.now().UnixMicro()/usPerDay)
	if d0 < cached {
		if err := db.ensureDaily(ctx, d0, cached); err != nil {
			return nil, fmt.Errorf("daily spend: %w", err)
		}
	}
	type dayPerson struct{ day, canon int64 } // canon: an attribution of the person's team and user
	totals := map[dayPerson]*[3]int64{}       // requests, tokens, cost
	persons := map[[2]int64]int64{}           // team, user -> canon
	var canons []int64                        // by attribution: its person's canon, -1 filtered out, 0 not yet known
	var lookupErr error
	canonOf := func(attr int64) int64 {
		if attr > 0 && attr < int64(len(canons)) && canons[attr] != 0 {
			return canons[attr]
		}
		db.attrs.mu.RLock()
		a, ok := db.attrs.attrs[attr]
		db.attrs.mu.RUnlock()
		if !ok {
			if lookupErr = db.attrs.refresh(ctx, db.r); lookupErr != nil {
				return -1
			}
			db.attrs.mu.RLock()
			a, ok = db.attrs.attrs[attr]
			db.attrs.mu.RUnlock()
			if !ok {
				lookupErr = fmt.Errorf("rollups refer to unknown attribution %d", attr)
				return -1
			}
		}
		c := int64(-1)
		if !(names.none || names.user >= 0 && a[2] != names.user || names.team >= 0 && a[1] != names.team) {
			var ok bool
			if c, ok = persons[[2]int64{a[1], a[2]}]; !ok {
				c = attr
				persons[[2]int64{a[1], a[2]}] = c
			}
		}
		if attr > 0 && attr < 1<<24 {
			for int64(len(canons)) <= attr {
				canons = append(canons, 0)
			}
			canons[attr] = c
		}
		return c
	}
	add := func(day, attr int64, s *sums) {
		c := canonOf(attr)
		if c < 0 {
			return
		}
		v := totals[dayPerson{day, c}]
		if v == nil {
			v = &[3]int64{}
			totals[dayPerson{day, c}] = v
		}
		v[0] = allot.SatAdd(v[0], s[sRequests])
		v[1] = allot.SatAdd(v[1], allot.SatAdd(s[sInput], s[sOutput]))
		v[2] = allot.SatAdd(v[2], s[sCost])
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	defer tx.Rollback()
	have := map[int64]bool{}
	err = eachRow(ctx, tx, `SELECT day, data FROM daily_totals WHERE day >= ? AND day < ?`, []any{d0, cached}, func(rows *sql.Rows) error {
		var day int64
		var data sql.RawBytes
		if err := rows.Scan(&day, &data); err != nil {
			return err
		}
		have[day] = true
		if err := decodeDaily(data, func(attr int64, s *sums) { add(day, attr, s) }); err != nil {
			return err
		}
		return lookupErr
	})
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	for day := d0; day < d1; { // today, and days changed since they were packed
		if have[day] {
			day++
			continue
		}
		end := day + 1
		for end < d1 && !have[end] {
			end++
		}
		// A person's or team's hours are read by their attributions, not
		// the whole org's rows of today.
		where, args := `hour >= ? AND hour < ?`, []any{day * 24, end * 24}
		if f.users != nil {
			where += ` AND attr IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.attrs)), ",") + `)`
			for _, a := range f.attrs {
				args = append(args, a)
			}
		}
		if f.users != nil && len(f.attrs) == 0 {
			day = end
			continue
		}
		// Rows are summed in Go as they come: grouping in SQL would sort
		// the whole org's hours of today first.
		err := eachRow(ctx, tx, `SELECT hour / 24, attr, requests, input, output, cost_nano FROM rollups_hourly WHERE `+where,
			args, func(rows *sql.Rows) error {
				var d, attr int64
				var s sums
				if err := rows.Scan(&d, &attr, &s[sRequests], &s[sInput], &s[sOutput], &s[sCost]); err != nil {
					return err
				}
				add(d, attr, &s)
				return lookupErr
			})
		if err != nil {
			return nil, fmt.Errorf("daily spend: %w", err)
		}
		day = end
	}
	out := make([]allot.DailySpend, 0, len(totals))
	for k, v := range totals {
		key, err := names.key(k.canon)
		if err != nil {
			return nil, fmt.Errorf("daily spend: %w", err)
		}
		out = append(out, allot.DailySpend{Day: time.Unix(k.day*86400, 0).UTC(), Team: key.Team, User: key.User, Requests: v[0], Tokens: v[1], Cost: allot.Money(v[2])})
	}
	slices.SortFunc(out, func(a, b allot.DailySpend) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if a.Team != b.Team {
			return cmp.Compare(a.Team, b.Team)
		}
		return cmp.Compare(a.User, b.User)
	})
	return out, nil
}
