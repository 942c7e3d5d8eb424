package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
)

// eachHourSQL reads hourly rollups with their context's strings.
var eachHourSQL = func() string {
	cols := []string{"org", "team", "usr", "key_id", "key_label", "role", "provider", "req_model", "served_model", "route", "task", "app", "source"}
	sel, joins := "", ""
	for i, c := range cols {
		sel += fmt.Sprintf(", coalesce(d%d.s, '')", i)
		joins += fmt.Sprintf(" LEFT JOIN dict d%d ON d%d.id = a.%s", i, i, c)
	}
	return `SELECT r.hour` + sel + `, r.requests, r.input, r.cache_read, r.cache_write_5m, r.cache_write_1h, r.output, r.reasoning,
		r.estimated_requests, r.cost_nano, r.unknown_cost_requests
		FROM rollups_hourly r JOIN attrs a ON a.id = r.attr` + joins + ` WHERE r.hour >= ? AND r.hour < ? ORDER BY r.hour`
}()

// EachHour calls fn with one synthetic event per hour and context in
// [from, to) summed from the hourly rollups: Time is the hour's start,
// Tokens and Cost the exact sums. Rebuilding budget counters from it at
// start reads thousands of rows instead of millions of events.
func (db *DB) EachHour(ctx context.Context, from, to time.Time, fn func(allot.Event) error) error {
	lo := from.UnixMicro() / usPerHour
	hi := (to.UnixMicro() + usPerHour - 1) / usPerHour
	rows, err := db.r.QueryContext(ctx, eachHourSQL, lo, hi)
	if err != nil {
		return fmt.Errorf("read hourly rollups %s..%s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scanHour(rows, fn); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read hourly rollups: %w", err)
	}
	return nil
}

// scanHour scans one row of eachHourSQL into an event for fn.
func scanHour(rows *sql.Rows, fn func(allot.Event) error) error {
	var (
		hour                         int64
		s                            [attrLen]string
		requests, estimated, unknown int64
		cost                         int64
		e                            allot.Event
		role, route, source          string
	)
	dest := []any{&hour, &s[0], &s[1], &s[2], &s[3], &s[4], &role, &s[6], &s[7], &s[8], &route, &s[10], &s[11], &source,
		&requests, &e.Tokens.Input, &e.Tokens.CacheRead, &e.Tokens.CacheWrite5m, &e.Tokens.CacheWrite1h,
		&e.Tokens.Output, &e.Tokens.Reasoning, &estimated, &cost, &unknown}
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("scan hourly rollup: %w", err)
	}
	e.Time = time.UnixMicro(hour * usPerHour).UTC()
	e.Org, e.Team, e.User, e.KeyID, e.KeyLabel, e.Role = s[0], s[1], s[2], s[3], s[4], allot.Role(role)
	e.Provider, e.RequestedModel, e.ServedModel, e.Route = s[6], s[7], s[8], allot.Route(route)
	e.Task, e.App, e.Source = s[10], s[11], allot.Source(source)
	e.Cost, e.CostKnown, e.Estimated = allot.Money(cost), unknown == 0, estimated > 0
	return fn(e)
}
