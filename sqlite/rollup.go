package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/rollup"
)

// Rollup bucket widths in the microseconds events.t counts.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// sums is what a rollup adds up for a group of events, in the column order
// of rollups_hourly after (hour, attr).
type sums = rollupcache.Sums

// Positions in sums.
const (
	sRequests = rollupcache.Requests
	sInput    = rollupcache.Input
	sOutput   = rollupcache.Output
	sCost     = rollupcache.Cost
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

// sumEventColumns sums stored events into the sums columns, saturated, as
// rollup.ReportAdd does: for relabelling (insights_tasks.go), which
// recomputes rollups of stored events in place.
var sumEventColumns = "count(*), " + satSums("input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
	"reasoning") + ", sum(flags & 4 != 0), " + satSumSQL("cost_nano") + ", sum(flags & 2 = 0)"

// foldHourly folds the events of batch that Append stores (all when
// stored is nil; an id repeated in the batch is stored once, the first)
// into rollup rows by rollup.ReportFold.
func foldHourly(batch []allot.Event, refs []eventRef, stored []bool) *rollup.ReportRows {
	events, attrs := batch, make([]int64, 0, len(batch))
	if stored != nil {
		events = make([]allot.Event, 0, len(batch))
		seen := map[string]bool{}
		for i := range batch {
			if stored[i] && !seen[batch[i].ID] {
				seen[batch[i].ID] = true
				events = append(events, batch[i])
				attrs = append(attrs, refs[i].attr)
			}
		}
		return rollup.ReportFold(events, attrs)
	}
	for i := range refs {
		attrs = append(attrs, refs[i].attr)
	}
	return rollup.ReportFold(events, attrs)
}

// upsertHourlySQL adds rows rows of sums to rollups_hourly, saturated.
func upsertHourlySQL(rows int) string {
	return sizedSQL(&upsertHourlySQLs, rows, func(rows int) string {
		return `INSERT INTO rollups_hourly (hour, attr, ` + sumColumns + `) VALUES ` + valuesSQL(rows, 2+len(sums{})) + `
	ON CONFLICT (hour, attr) DO UPDATE SET
		` + satAddColumns(sumColumns)
	})
}

// upsertHourlySQLs caches upsertHourlySQL by row count.
var upsertHourlySQLs sync.Map

// hourlyStatements lists the upserts writing r takes, to prepare beforehand.
func hourlyStatements(r *rollup.ReportRows) []string {
	var out []string
	for done := 0; done < len(r.Keys); {
		n := chunkSize(len(r.Keys) - done)
		out = append(out, upsertHourlySQL(n))
		done += n
	}
	return out
}

// preparedUpserts are the upsert sizes Open prepares: small ones, cheap
// to prepare, so that a batch meeting a larger size for the first time
// writes with these rather than prepare it twice (in its transaction, and
// on the writer connection after it, as Append does).
var preparedUpserts = []int{1, 2, 4, 8, 16, 32, 64}

// upsertSize is how many rows the next upsert of rest rows takes: their
// chunkSize if prepared, else the largest prepared size below it.
func (db *DB) upsertSize(rest int) int {
	n := chunkSize(rest)
	if _, ok := db.stmts[upsertHourlySQL(n)]; ok {
		return n
	}
	for i := len(preparedUpserts) - 1; i >= 0; i-- {
		if m := preparedUpserts[i]; m <= rest {
			if _, ok := db.stmts[upsertHourlySQL(m)]; ok {
				return m
			}
		}
	}
	return n
}

// writeHourly upserts r into rollups_hourly. A statement's rows beyond r's
// are padded with zero sums for r's last key, which change nothing.
func (db *DB) writeHourly(ctx context.Context, tx *sql.Tx, r *rollup.ReportRows) error {
	const cols = 2 + len(sums{})
	args := make([]any, 0, chunkSize(len(r.Keys))*cols)
	for done := 0; done < len(r.Keys); {
		n := db.upsertSize(len(r.Keys) - done)
		args = args[:0]
		end := min(len(r.Keys), done+n)
		for i := done; i < end; i++ {
			args = append(args, r.Keys[i].Hour, r.Keys[i].Attr)
			for _, v := range r.Sums[i] {
				args = append(args, v)
			}
		}
		for range n - (end - done) {
			args = append(args, r.Keys[end-1].Hour, r.Keys[end-1].Attr)
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

// addRollups upserts a batch's rollup rows (foldHourly) into the hourly
// rollups. It bumps the versions of the hours and days they fall on (so
// the reports' in-memory copies of those are read again) and drops the
// cached daily totals of those days.
func (db *DB) addRollups(ctx context.Context, tx *sql.Tx, hourly *rollup.ReportRows) error {
	if err := db.writeHourly(ctx, tx, hourly); err != nil {
		return err
	}
	var hours, days []int64
	seenHour, seenDay := map[int64]bool{}, map[int64]bool{}
	for _, k := range hourly.Keys {
		h := k.Hour
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
	return "DELETE FROM daily_totals WHERE day IN (" + placeholders(n) + ")"
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
