package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// eachHourSQL reads hourly rollups with their context's strings.
var eachHourSQL = func() string {
	sel, joins := "", ""
	for i, c := range attrColumns {
		sel += fmt.Sprintf(", coalesce(d%d.s, ''::bytea)", i)
		joins += fmt.Sprintf(" LEFT JOIN dict d%d ON d%d.id = a.%s", i, i, c)
	}
	return `SELECT r.hour::int8` + sel + `, r.requests, r.input, r.cache_read, r.cache_write_5m, r.cache_write_1h, r.output, r.reasoning,
		r.estimated_requests, r.cost_nano, r.unknown_cost_requests
		FROM rollups_hourly r JOIN attrs a ON a.id = r.attr` + joins + ` WHERE r.hour >= $1 AND r.hour < $2 ORDER BY r.hour`
}()

// EachHour calls fn with one synthetic event per hour and context in
// [from, to) summed from the hourly rollups: Time is the hour's start,
// Tokens and Cost the exact sums. Rebuilding budget counters from it at
// start reads thousands of rows instead of millions of events.
func (db *DB) EachHour(ctx context.Context, from, to time.Time, fn func(allot.Event) error) error {
	lo := from.UnixMicro() / usPerHour
	hi := (to.UnixMicro() + usPerHour - 1) / usPerHour
	rows, err := db.pool.Query(ctx, eachHourSQL, lo, hi)
	if err != nil {
		return fmt.Errorf("read hourly rollups %s..%s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	var (
		hour                         int64
		s                            [attrLen][]byte
		requests, estimated, unknown int64
		cost                         int64
		t                            allot.Tokens
	)
	dest := []any{&hour}
	for i := range s {
		dest = append(dest, &s[i])
	}
	dest = append(dest, &requests, &t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &t.Reasoning, &estimated, &cost, &unknown)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		e := allot.Event{
			Time: time.UnixMicro(hour * usPerHour).UTC(),
			Principal: allot.Principal{Org: string(s[0]), Team: string(s[1]), User: string(s[2]), KeyID: string(s[3]),
				KeyLabel: string(s[4]), Role: allot.Role(s[5])},
			Provider: string(s[6]), RequestedModel: string(s[7]), ServedModel: string(s[8]), Route: allot.Route(s[9]),
			Task: string(s[10]), App: string(s[11]), Source: allot.Source(s[12]),
			Tokens: t, Cost: allot.Money(cost), CostKnown: unknown == 0, Estimated: estimated > 0,
		}
		return fn(e)
	})
	if err != nil {
		return fmt.Errorf("read hourly rollups: %w", err)
	}
	return nil
}
