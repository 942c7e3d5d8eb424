package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/allot-dev/allot"
)

// Rollup bucket widths in the microseconds events.t counts.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// unixHour is the rollup bucket of a time in unix microseconds: whole hours
// since the Unix epoch (UTC), by the same integer division SQL uses.
func unixHour(micros int64) int64 { return micros / usPerHour }

// sums is what a rollup adds up for a group of events, in the column order
// of rollups_hourly after (hour, attr).
type sums [10]int64

// Positions in sums.
const (
	sRequests = iota
	sInput
	sCacheRead
	sCacheWrite5m
	sCacheWrite1h
	sOutput
	sReasoning
	sEstimated
	sCost
	sUnknownCost
)

// sumColumns are the rollups_hourly sums, in sums order.
const sumColumns = `requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
	estimated_requests, cost_nano, unknown_cost_requests`

// sumOfSumColumns sums them over grouped rollups_hourly rows, saturated.
var sumOfSumColumns = satSums("requests", "input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
	"reasoning", "estimated_requests", "cost_nano", "unknown_cost_requests")

// satSums is satSumSQL of each of exprs, comma-separated.
func satSums(exprs ...string) string {
	out := make([]string, len(exprs))
	for i, x := range exprs {
		out[i] = satSumSQL(x)
	}
	return strings.Join(out, ",\n\t")
}

// sumEventColumns sums the events of a group into the sums columns, saturated.
var sumEventColumns = "count(*), " + satSums("input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
	"reasoning") + ", sum(flags & 4 != 0), " + satSumSQL("cost_nano") + ", sum(flags & 2 = 0)"

// addHourlySQL folds the events above seq ? (those a batch just inserted)
// into rollups_hourly, grouped in SQL from rows still in the page cache.
var addHourlySQL = fmt.Sprintf(`INSERT INTO rollups_hourly (hour, attr, %s)
	SELECT t / %d, attr, %s
	FROM events WHERE seq > ? GROUP BY 1, 2
	`+addToHourly, sumColumns, usPerHour, sumEventColumns)

// addToHourly adds an insert's rows to the hourly rollups they meet,
// saturated.
var addToHourly = `ON CONFLICT (hour, attr) DO UPDATE SET
		` + satAddColumns(sumColumns)

// hourlyRows is a batch's events summed per hour and attribution, in the
// order the keys were first seen: what it adds to rollups_hourly.
type hourlyRows struct {
	index map[[2]int64]int // (hour, attr) -> position in keys and vals
	keys  [][2]int64
	vals  []sums
}

// groupHourly sums batch per hour and attribution, as addHourlySQL would
// from the stored rows once every event of batch is stored.
func groupHourly(batch []allot.Event, refs []eventRef) *hourlyRows {
	r := &hourlyRows{index: make(map[[2]int64]int, len(batch))}
	for i := range batch {
		e := &batch[i]
		k := [2]int64{unixHour(e.Time.UnixMicro()), refs[i].attr}
		j, ok := r.index[k]
		if !ok {
			j = len(r.keys)
			r.index[k] = j
			r.keys = append(r.keys, k)
			r.vals = append(r.vals, sums{})
		}
		v := &r.vals[j]
		t := &e.Tokens
		v[sRequests]++
		v[sInput] = allot.SatAdd(v[sInput], t.Input)
		v[sCacheRead] = allot.SatAdd(v[sCacheRead], t.CacheRead)
		v[sCacheWrite5m] = allot.SatAdd(v[sCacheWrite5m], t.CacheWrite5m)
		v[sCacheWrite1h] = allot.SatAdd(v[sCacheWrite1h], t.CacheWrite1h)
		v[sOutput] = allot.SatAdd(v[sOutput], t.Output)
		v[sReasoning] = allot.SatAdd(v[sReasoning], t.Reasoning)
		if e.Estimated {
			v[sEstimated]++
		}
		v[sCost] = int64(allot.Money(v[sCost]).Plus(e.Cost))
		if !e.CostKnown {
			v[sUnknownCost]++
		}
	}
	return r
}

// upsertHourlySQL adds rows rows of sums to rollups_hourly.
func upsertHourlySQL(rows int) string {
	return sizedSQL(&upsertHourlySQLs, rows, makeUpsertHourlySQL)
}

// upsertHourlySQLs caches upsertHourlySQL by row count.
var upsertHourlySQLs sync.Map

func makeUpsertHourlySQL(rows int) string {
	return `INSERT INTO rollups_hourly (hour, attr, ` + sumColumns + `) VALUES ` + valuesSQL(rows, 2+len(sums{})) + `
	` + addToHourly
}

// statements lists the upserts writing r takes, to prepare beforehand.
func (r *hourlyRows) statements() []string {
	var out []string
	for done := 0; done < len(r.keys); {
		n := chunkSize(len(r.keys) - done)
		out = append(out, upsertHourlySQL(n))
		done += n
	}
	return out
}

// write upserts r into rollups_hourly. A statement's rows beyond r's are
// padded with zero sums for r's last key, which change nothing.
func (r *hourlyRows) write(ctx context.Context, db *DB, tx *sql.Tx) error {
	const cols = 2 + len(sums{})
	args := make([]any, 0, chunkSize(len(r.keys))*cols)
	for done := 0; done < len(r.keys); {
		n := chunkSize(len(r.keys) - done)
		args = args[:0]
		end := min(len(r.keys), done+n)
		for i := done; i < end; i++ {
			args = append(args, r.keys[i][0], r.keys[i][1])
			for _, v := range r.vals[i] {
				args = append(args, v)
			}
		}
		for range n - (end - done) {
			args = append(args, r.keys[end-1][0], r.keys[end-1][1])
			for range len(sums{}) {
				args = append(args, int64(0))
			}
		}
		done = end
		if _, err := db.txExec(ctx, tx, upsertHourlySQL(n), args...); err != nil {
			return fmt.Errorf("hourly rollups: %w", err)
		}
	}
	return nil
}

// addRollups adds the events above seq before, from batch, to the hourly
// rollups: hourly, their sums, when every event of batch was stored, else
// from the stored rows in SQL. It bumps the versions of the hours and days
// the batch falls on (so the reports' in-memory copies of those are read
// again) and drops the cached daily totals of those days.
func (db *DB) addRollups(ctx context.Context, tx *sql.Tx, before int64, batch []allot.Event, hourly *hourlyRows) error {
	if hourly != nil {
		if err := hourly.write(ctx, db, tx); err != nil {
			return err
		}
	} else if _, err := db.txExec(ctx, tx, addHourlySQL, before); err != nil {
		return fmt.Errorf("hourly rollups: %w", err)
	}
	var hours, days []int64
	seenHour, seenDay := map[int64]bool{}, map[int64]bool{}
	for i := range batch {
		h := unixHour(batch[i].Time.UnixMicro())
		if len(hours) > 0 && hours[len(hours)-1] == h || seenHour[h] {
			continue
		}
		seenHour[h] = true
		hours = append(hours, h)
		if d := h / 24; !seenDay[d] {
			seenDay[d] = true
			days = append(days, d)
		}
	}
	if err := db.bumpVersions(ctx, tx, "rollup_hour_versions", "hour", hours); err != nil {
		return err
	}
	if err := db.bumpVersions(ctx, tx, "rollup_day_versions", "day", days); err != nil {
		return err
	}
	for len(days) > 0 {
		chunk := days[:min(len(days), maxChunk)]
		days = days[len(chunk):]
		if _, err := db.txExec(ctx, tx, dropDailySQL(len(chunk)), int64Args(chunk)...); err != nil {
			return fmt.Errorf("invalidate daily totals: %w", err)
		}
	}
	return nil
}

// rollupSQL lists the statements addRollups runs for a batch within one
// hour, for Append to prepare once.
var rollupSQL = []string{bumpSQL("rollup_hour_versions", "hour", 1), bumpSQL("rollup_day_versions", "day", 1), dropDailySQL(1)}

// dropDailySQL deletes the cached daily totals of n days.
func dropDailySQL(n int) string {
	return "DELETE FROM daily_totals WHERE day IN (" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
}

// bumpSQL adds one to the versions of n keys in table.
func bumpSQL(table, col string, n int) string {
	return "INSERT INTO " + table + " (" + col + ", v) VALUES " + strings.TrimSuffix(strings.Repeat("(?, 1),", n), ",") +
		" ON CONFLICT (" + col + ") DO UPDATE SET v = v + 1"
}

// bumpVersions adds one to the version of each of keys in table
// (migrations/0005_rollup_versions.sql).
func (db *DB) bumpVersions(ctx context.Context, tx *sql.Tx, table, col string, keys []int64) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), maxChunk)]
		keys = keys[len(chunk):]
		if _, err := db.txExec(ctx, tx, bumpSQL(table, col, len(chunk)), int64Args(chunk)...); err != nil {
			return fmt.Errorf("bump %s: %w", table, err)
		}
	}
	return nil
}

// int64Args converts ids to query arguments.
func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
