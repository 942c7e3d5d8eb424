package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/allot-dev/allot/rollup"
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
	rollup.Hour
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
	if h == nil || h.version != version || calls && h.Calls == nil || extras && h.Extras == nil {
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
			c.rows -= len(old.Calls) + len(old.Extras)
			delete(c.hours, h)
		}
	}
	merged := &hourRows{version: r.version, Hour: r.Hour}
	if old := c.hours[hour]; old != nil {
		c.rows -= len(old.Calls) + len(old.Extras)
		if old.version == r.version {
			if merged.Calls == nil {
				merged.Calls = old.Calls
			}
			if merged.Extras == nil {
				merged.Extras = old.Extras
			}
		}
	}
	n := len(merged.Calls) + len(merged.Extras)
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
		r.Calls = []rollup.DayCall{}
	}
	if extras {
		r.Extras = []rollup.DayExtra{}
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
		var c rollup.DayCall
		dest := []any{&hour, &c.Attr, &c.Session, &c.FP}
		for i := range c.V {
			dest = append(dest, &c.V[i])
		}
		if err := eachRow(ctx, q, `SELECT `+callColumns+` FROM insight_calls WHERE `+where, args, func(rows *sql.Rows) error {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			r := hourOf(hour)
			r.Calls = append(r.Calls, c)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read insight calls: %w", err)
		}
	}
	if extras {
		var hour int64
		var x rollup.DayExtra
		dest := []any{&hour, &x.Attr}
		for i := range x.V {
			dest = append(dest, &x.V[i])
		}
		if err := eachRow(ctx, q, `SELECT `+extrasColumns+` FROM insight_extras WHERE `+where, args, func(rows *sql.Rows) error {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			r := hourOf(hour)
			r.Extras = append(r.Extras, x)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read insight extras: %w", err)
		}
	}
	return out, nil
}

// readInsightHours reads the hourly rows of days [from, to) through q
// (insight_calls if calls, insight_extras if extras), of the given
// attributions only unless attrs is nil, and merges them per day.
func readInsightHours(ctx context.Context, q querier, from, to int64, attrs []int64, calls, extras bool) (map[int64]*rollup.Day, error) {
	hours, err := readHourRows(ctx, q, from*24, to*24, attrs, calls, extras)
	if err != nil {
		return nil, err
	}
	m := rollup.NewDayMerger(nil) // read filtered already
	for h, r := range hours {
		m.Expect(h, &r.Hour)
	}
	for h := from * 24; h < to*24; h++ {
		if r := hours[h]; r != nil {
			m.Add(h, &r.Hour)
		}
	}
	return m.Days, nil
}

// readRecentHours is readInsightHours for days not packed, read in tx:
// their completed hours come from the hour cache when it holds them at
// their current version, and whole-org reads fill it.
func (db *DB) readRecentHours(ctx context.Context, tx *sql.Tx, from, to int64, attrs []int64, calls, extras bool) (map[int64]*rollup.Day, error) {
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
	m := rollup.NewDayMerger(attrs)
	if attrs == nil { // a person keeps a few of the org's rows: no sizing by all of them
		for h := h0; h < h1; h++ {
			m.Expect(h, &cached[h-h0].Hour)
		}
		for h, r := range rest {
			m.Expect(h, &r.Hour)
		}
	}
	for h := h0; h < h1; h++ {
		m.Add(h, &cached[h-h0].Hour)
	}
	for h := h1; h < to*24; h++ {
		if r := rest[h]; r != nil {
			m.Add(h, &r.Hour)
		}
	}
	for day, d := range m.Days { // a day with nothing kept is no day
		if len(d.Calls) == 0 && len(d.Extras) == 0 {
			delete(m.Days, day)
		}
	}
	return m.Days, nil
}
