package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// Request log page sizes.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// ListEvents implements allot.EventLog: the events with From <= Time < To
// (a zero bound is open) that match every filter, newest first (ties by id,
// descending), at most q.Limit (default 100, at most 1000). Before is the
// id of the last event of the previous page. Events hold no prompt text,
// so nothing here can leak any.
//
// Monthly partitions are read newest first and the scan stops once the
// page is full; a filter on a person, task or model walks the (attr, time)
// index of only the attributions that match.
func (db *DB) ListEvents(ctx context.Context, q allot.EventQuery) ([]allot.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultEventLimit
	}
	limit = min(limit, maxEventLimit)
	out := []allot.Event{}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return out, nil
	}
	dims := make([]allot.Dimension, 0, len(q.Filter))
	for d := range q.Filter {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	cond, args := rangeSQL("e.time", q.From, q.To, 0)
	for _, d := range dims {
		col, ok := dimColumn[d]
		if !ok {
			return nil, allot.Errorf(allot.EInvalid, "cannot filter the request log on %q; filter on user, team, model, task, app or provider and use from/to for time", d)
		}
		id, ok, err := db.dict.lookup(ctx, db.pool, q.Filter[d])
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		if !ok {
			return out, nil // a value never recorded matches nothing
		}
		args = append(args, id)
		cond += fmt.Sprintf(" AND a.%s = $%d", col, len(args))
	}
	if q.Before != "" {
		var bt time.Time
		var bid []byte
		err := db.pool.QueryRow(ctx, `SELECT time, id FROM events WHERE id = $1 ORDER BY time DESC LIMIT 1`, encodeID(q.Before)).Scan(&bt, &bid)
		if errNoRows(err) {
			return nil, allot.Errorf(allot.EInvalid, "before=%q names no stored event; start from the first page (leave out before)", q.Before)
		}
		if err != nil {
			return nil, fmt.Errorf("list events: cursor: %w", err)
		}
		args = append(args, bt, bid)
		cond += fmt.Sprintf(" AND (e.time, e.id) < ($%d, $%d)", len(args)-1, len(args))
		// The same bound on time alone lets PostgreSQL skip newer partitions.
		cond += fmt.Sprintf(" AND e.time <= $%d", len(args)-1)
	}
	args = append(args, limit)
	query := `SELECT ` + eventSelect + ` FROM events e JOIN attrs a ON a.id = e.attr WHERE ` + cond +
		` ORDER BY e.time DESC, e.id DESC LIMIT $` + fmt.Sprint(len(args))
	evs, err := db.readEvents(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if len(evs) == 0 {
		return out, nil
	}
	return evs, nil
}
