package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// now is the time insights take for now: what is today, which hours are
// complete. Tests set db.clock to fix it.
func (db *DB) now() time.Time {
	if db.clock != nil {
		return db.clock()
	}
	return time.Now()
}

// Days not yet packed (today, mostly) are read from their hourly insight
// rows, and for the whole org that was a large part of every insights
// call: today's rows through SQL, again and again. Completed hours are
// therefore kept in memory, whole-org, as read: an hour's rows change
// only with its events, and every transaction that changes them (Append,
// a relabel's rebuild) also bumps the hour in rollup_hour_versions, so
// rows cached at one version are the hour's rows for as long as the
// version stands. Rows are cached only from a snapshot in which every
// event is folded: events waiting to be folded have bumped their hour
// already, and rows read before the fold would be stale at that version.

// insightHoursCap is the most rows the hour cache holds: an hour that
// would pass it is read from SQL each time instead.
const insightHoursCap = 1 << 20

// hourRows is one hour's insight rows at a version; calls or extras is
// nil when that table was not read.
type hourRows struct {
	version int64
	calls   []dayCall
	extras  []dayExtra
}

// insightHours is the cache of completed hours' insight rows.
type insightHours struct {
	mu    sync.Mutex
	hours map[int64]*hourRows
	rows  int
}

func newInsightHours() *insightHours { return &insightHours{hours: map[int64]*hourRows{}} }

// get returns the cached rows of hour at version holding the tables asked
// for, or nil.
func (c *insightHours) get(hour, version int64, calls, extras bool) *hourRows {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hours[hour]
	if h == nil || h.version != version || calls && h.calls == nil || extras && h.extras == nil {
		return nil
	}
	return h
}

// put stores the rows read of hour at version, keeping what the cache
// holds of the other table at the same version, and drops hours before
// oldest.
func (c *insightHours) put(hour int64, r *hourRows, oldest int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, old := range c.hours {
		if h < oldest {
			c.rows -= len(old.calls) + len(old.extras)
			delete(c.hours, h)
		}
	}
	merged := &hourRows{version: r.version, calls: r.calls, extras: r.extras}
	if old := c.hours[hour]; old != nil {
		c.rows -= len(old.calls) + len(old.extras)
		if old.version == r.version {
			if merged.calls == nil {
				merged.calls = old.calls
			}
			if merged.extras == nil {
				merged.extras = old.extras
			}
		}
	}
	n := len(merged.calls) + len(merged.extras)
	if c.rows+n > insightHoursCap {
		delete(c.hours, hour)
		return
	}
	c.rows += n
	c.hours[hour] = merged
}

// newHourRows returns an hour without rows of the tables asked for.
func newHourRows(calls, extras bool) *hourRows {
	r := &hourRows{}
	if calls {
		r.calls = []dayCall{}
	}
	if extras {
		r.extras = []dayExtra{}
	}
	return r
}

// readHourRows reads the insight rows of hours [h0, h1) through q, of the
// given attributions only unless attrs is nil, into one hourRows per hour
// with rows (calls and extras non-nil when asked for).
func readHourRows(ctx context.Context, q querier, h0, h1 int64, attrs []int64, calls, extras bool) (map[int64]*hourRows, error) {
	out := map[int64]*hourRows{}
	hourOf := func(h int64) *hourRows {
		r := out[h]
		if r == nil {
			r = newHourRows(calls, extras)
			out[h] = r
		}
		return r
	}
	where, args := `hour >= ? AND hour < ?`, []any{h0, h1}
	if attrs != nil {
		if len(attrs) == 0 {
			return out, nil
		}
		where += ` AND attr IN (` + strings.TrimSuffix(strings.Repeat("?,", len(attrs)), ",") + `)`
		for _, a := range attrs {
			args = append(args, a)
		}
	}
	if calls {
		// Rows are scanned into one reused entry: thousands of rows an hour.
		var hour int64
		var c dayCall
		dest := []any{&hour, &c.attr, &c.session, &c.fp}
		for i := range c.v {
			dest = append(dest, &c.v[i])
		}
		if err := eachRow(ctx, q, `SELECT `+callColumns+` FROM insight_calls WHERE `+where, args, func(rows *sql.Rows) error {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			r := hourOf(hour)
			r.calls = append(r.calls, c)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read insight calls: %w", err)
		}
	}
	if extras {
		var hour int64
		var x dayExtra
		dest := []any{&hour, &x.attr}
		for i := range x.v {
			dest = append(dest, &x.v[i])
		}
		if err := eachRow(ctx, q, `SELECT `+extrasColumns+` FROM insight_extras WHERE `+where, args, func(rows *sql.Rows) error {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			r := hourOf(hour)
			r.extras = append(r.extras, x)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read insight extras: %w", err)
		}
	}
	return out, nil
}

// hourMerger merges hours, in hour order, into days: a call entry of a
// later hour follows the same entry's earlier hours, extras add up.
type hourMerger struct {
	days   map[int64]*insightDay
	calls  map[int64]map[[3]int64]int // per day: (attr, session, fp) -> index in calls
	extras map[[2]int64]int           // (day, attr) -> index in extras
	keep   map[int64]bool             // attributions kept; nil: all
	sizes  map[int64][2]int           // per day: at most how many call and extras entries it gets
}

func newHourMerger(attrs []int64) *hourMerger {
	m := &hourMerger{days: map[int64]*insightDay{}, calls: map[int64]map[[3]int64]int{}, extras: map[[2]int64]int{}}
	if attrs != nil {
		m.keep = make(map[int64]bool, len(attrs))
		for _, a := range attrs {
			m.keep[a] = true
		}
	}
	return m
}

// expect sizes the day of hour for r's rows as well, before any is
// added: the whole org's day is hundreds of thousands of entries, which
// grown one append at a time were copied over and over.
func (m *hourMerger) expect(hour int64, r *hourRows) {
	if m.sizes == nil {
		m.sizes = map[int64][2]int{}
	}
	day := floorDiv(hour, 24)
	n := m.sizes[day]
	m.sizes[day] = [2]int{n[0] + len(r.calls), n[1] + len(r.extras)}
}

func (m *hourMerger) dayOf(day int64) *insightDay {
	d := m.days[day]
	if d == nil {
		n := m.sizes[day]
		d = &insightDay{day: day, calls: make([]dayCall, 0, n[0]), extras: make([]dayExtra, 0, n[1])}
		m.days[day] = d
		m.calls[day] = make(map[[3]int64]int, n[0])
	}
	return d
}

// add merges one hour's rows, which must come after every hour added.
func (m *hourMerger) add(hour int64, r *hourRows) {
	d := m.dayOf(floorDiv(hour, 24))
	index := m.calls[d.day]
	for i := range r.calls {
		c := &r.calls[i]
		if m.keep != nil && !m.keep[c.attr] {
			continue
		}
		id := [3]int64{c.attr, c.session, c.fp}
		if j, ok := index[id]; ok {
			followCall(&d.calls[j].v, &c.v)
		} else {
			index[id] = len(d.calls)
			d.calls = append(d.calls, *c)
		}
	}
	for i := range r.extras {
		x := &r.extras[i]
		if m.keep != nil && !m.keep[x.attr] {
			continue
		}
		k := [2]int64{d.day, x.attr}
		if j, ok := m.extras[k]; ok {
			for v := range x.v {
				d.extras[j].v[v] = allot.SatAdd(d.extras[j].v[v], x.v[v])
			}
		} else {
			m.extras[k] = len(d.extras)
			d.extras = append(d.extras, *x)
		}
	}
}

// readInsightHours reads the hourly rows of days [from, to) through q
// (insight_calls if calls, insight_extras if extras), of the given
// attributions only unless attrs is nil, and merges them per day.
func readInsightHours(ctx context.Context, q querier, from, to int64, attrs []int64, calls, extras bool) (map[int64]*insightDay, error) {
	hours, err := readHourRows(ctx, q, from*24, to*24, attrs, calls, extras)
	if err != nil {
		return nil, err
	}
	m := newHourMerger(nil) // read filtered already
	for h, r := range hours {
		m.expect(h, r)
	}
	for h := from * 24; h < to*24; h++ {
		if r := hours[h]; r != nil {
			m.add(h, r)
		}
	}
	return m.days, nil
}

// readRecentHours is readInsightHours for days not packed, read in tx:
// their completed hours come from the hour cache when it holds them at
// their current version, and whole-org reads fill it.
func (db *DB) readRecentHours(ctx context.Context, tx *sql.Tx, from, to int64, attrs []int64, calls, extras bool) (map[int64]*insightDay, error) {
	h0, h1 := from*24, min(to*24, db.now().UnixMicro()/usPerHour) // completed hours
	if h0 >= h1 {
		return readInsightHours(ctx, tx, from, to, attrs, calls, extras)
	}
	var folded bool
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT seq FROM insight_state) >= (SELECT coalesce(max(seq), 0) FROM events)`).Scan(&folded); err != nil {
		return nil, fmt.Errorf("insight hours: %w", err)
	}
	if !folded {
		return readInsightHours(ctx, tx, from, to, attrs, calls, extras)
	}
	vs, err := versions(ctx, tx, "rollup_hour_versions", "hour", h0, h1)
	if err != nil {
		return nil, fmt.Errorf("insight hours: %w", err)
	}
	cached := make([]*hourRows, h1-h0)
	var missing []int64
	for h := h0; h < h1; h++ {
		if cached[h-h0] = db.ihours.get(h, vs[h-h0], calls, extras); cached[h-h0] == nil {
			missing = append(missing, h)
		}
	}
	// A person's or team's read fills no cache: the whole org's hours are
	// not theirs to pay for. It uses what whole-org reads left.
	fill := attrs == nil
	for i := 0; i < len(missing); {
		j := i + 1
		for j < len(missing) && missing[j] == missing[j-1]+1 {
			j++
		}
		rows, err := readHourRows(ctx, tx, missing[i], missing[j-1]+1, attrs, calls, extras)
		if err != nil {
			return nil, err
		}
		for _, h := range missing[i:j] {
			r := rows[h]
			if r == nil {
				r = newHourRows(calls, extras)
			}
			r.version = vs[h-h0]
			cached[h-h0] = r
			if fill {
				db.ihours.put(h, r, h0)
			}
		}
		i = j
	}
	rest := map[int64]*hourRows{}
	if h1 < to*24 { // the current hour and any after it
		if rest, err = readHourRows(ctx, tx, h1, to*24, attrs, calls, extras); err != nil {
			return nil, err
		}
	}
	m := newHourMerger(attrs)
	if attrs == nil { // a person keeps a few of the org's rows: no sizing by all of them
		for h := h0; h < h1; h++ {
			m.expect(h, cached[h-h0])
		}
		for h, r := range rest {
			m.expect(h, r)
		}
	}
	for h := h0; h < h1; h++ {
		m.add(h, cached[h-h0])
	}
	for h := h1; h < to*24; h++ {
		if r := rest[h]; r != nil {
			m.add(h, r)
		}
	}
	for day, d := range m.days { // a day with nothing kept is no day
		if len(d.calls) == 0 && len(d.extras) == 0 {
			delete(m.days, day)
		}
	}
	return m.days, nil
}
