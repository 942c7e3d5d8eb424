package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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

// sumOfSumColumns sums them over grouped rollups_hourly rows.
const sumOfSumColumns = `sum(requests), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
	sum(reasoning), sum(estimated_requests), sum(cost_nano), sum(unknown_cost_requests)`

// addHourlySQL folds the events above seq ? (those a batch just inserted)
// into rollups_hourly, grouped in SQL from rows still in the page cache.
var addHourlySQL = fmt.Sprintf(`INSERT INTO rollups_hourly (hour, attr, %s)
	SELECT t / %d, attr, count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
		sum(reasoning), sum(flags & 4 != 0), sum(cost_nano), sum(flags & 2 = 0)
	FROM events WHERE seq > ? GROUP BY 1, 2
	ON CONFLICT (hour, attr) DO UPDATE SET
		requests = requests + excluded.requests,
		input = input + excluded.input,
		cache_read = cache_read + excluded.cache_read,
		cache_write_5m = cache_write_5m + excluded.cache_write_5m,
		cache_write_1h = cache_write_1h + excluded.cache_write_1h,
		output = output + excluded.output,
		reasoning = reasoning + excluded.reasoning,
		estimated_requests = estimated_requests + excluded.estimated_requests,
		cost_nano = cost_nano + excluded.cost_nano,
		unknown_cost_requests = unknown_cost_requests + excluded.unknown_cost_requests`, sumColumns, usPerHour)

// addRollups adds the events above seq before, from batch, to the hourly
// rollups, bumps the versions of the hours and days they fall on (so the
// reports' in-memory copies of those are read again) and drops the cached
// daily totals of those days.
func (db *DB) addRollups(ctx context.Context, tx *sql.Tx, before int64, batch []allot.Event) error {
	if _, err := db.txExec(ctx, tx, addHourlySQL, before); err != nil {
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
	if err := bumpVersions(ctx, tx, "rollup_hour_versions", "hour", hours); err != nil {
		return err
	}
	if err := bumpVersions(ctx, tx, "rollup_day_versions", "day", days); err != nil {
		return err
	}
	for len(days) > 0 {
		chunk := days[:min(len(days), maxChunk)]
		days = days[len(chunk):]
		q := "DELETE FROM daily_totals WHERE day IN (" + strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",") + ")"
		if _, err := tx.ExecContext(ctx, q, int64Args(chunk)...); err != nil {
			return fmt.Errorf("invalidate daily totals: %w", err)
		}
	}
	return nil
}

// bumpVersions adds one to the version of each of keys in table
// (migrations/0005_rollup_versions.sql).
func bumpVersions(ctx context.Context, tx *sql.Tx, table, col string, keys []int64) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), maxChunk)]
		keys = keys[len(chunk):]
		q := "INSERT INTO " + table + " (" + col + ", v) VALUES " + strings.TrimSuffix(strings.Repeat("(?, 1),", len(chunk)), ",") +
			" ON CONFLICT (" + col + ") DO UPDATE SET v = v + 1"
		if _, err := tx.ExecContext(ctx, q, int64Args(chunk)...); err != nil {
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
