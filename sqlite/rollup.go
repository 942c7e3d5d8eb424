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

func (s *sums) add(o *sums) {
	for i := range s {
		s[i] += o[i]
	}
}

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
// rollups and drops the cached daily totals of the days they fall on.
func (db *DB) addRollups(ctx context.Context, tx *sql.Tx, before int64, batch []allot.Event) error {
	if _, err := db.txExec(ctx, tx, addHourlySQL, before); err != nil {
		return fmt.Errorf("hourly rollups: %w", err)
	}
	days := map[int64]bool{}
	var args []any
	for i := range batch {
		d := batch[i].Time.UnixMicro() / usPerDay
		if !days[d] {
			days[d] = true
			args = append(args, d)
		}
	}
	q := "DELETE FROM daily_totals WHERE day IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("invalidate daily totals: %w", err)
	}
	return nil
}
