package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/allot-dev/allot"
)

// Request log page sizes.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// byAttrMaxAttrs and byAttrMaxShare decide how ListEvents reads a filtered
// page: when the filter matches at most that many attributions and at most
// that share of all of them (one person among hundreds), it reads their
// events through events_attr_t; otherwise (a team among a few) it walks
// the whole range newest first through events_t and keeps the matching
// rows, which finds a page after about limit/share rows.
const (
	byAttrMaxAttrs = 4000
	byAttrMaxShare = 0.05
)

// ListEvents implements allot.EventLog: the events with From <= Time < To
// (a zero bound is open) that match every filter, newest first (ties by
// insertion order), at most q.Limit (default 100, at most 1000). Before is
// the id of the last event of the previous page. Events hold no prompt
// text, so nothing here can leak any.
func (db *DB) ListEvents(ctx context.Context, q allot.EventQuery) ([]allot.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultEventLimit
	}
	limit = min(limit, maxEventLimit)
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		lo = q.From.UnixMicro()
	}
	if !q.To.IsZero() {
		hi = q.To.UnixMicro()
	}
	out := []allot.Event{}
	if lo >= hi {
		return out, nil
	}
	terms, matchable, err := db.eventTerms(ctx, q.Filter)
	if err != nil || !matchable {
		return out, err
	}

	where := "e.t >= ? AND e.t < ?"
	args := []any{lo, hi}
	if q.Before != "" {
		var bt, bseq int64
		err := db.r.QueryRowContext(ctx, `SELECT t, seq FROM events WHERE id = ?`, encodeID(q.Before)).Scan(&bt, &bseq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, allot.Errorf(allot.EInvalid, "before=%q names no stored event; start from the first page (leave out before)", q.Before)
		}
		if err != nil {
			return nil, fmt.Errorf("list events: cursor: %w", err)
		}
		where += " AND (e.t < ? OR (e.t = ? AND e.seq < ?))"
		args = append(args, bt, bt, bseq)
	}

	if len(terms) == 0 {
		return db.listEvents(ctx, `SELECT `+eventSelect+` FROM events e INDEXED BY events_t CROSS JOIN attrs a ON a.id = e.attr
			WHERE `+where+` ORDER BY e.t DESC, e.seq DESC LIMIT ?`, append(args, limit))
	}
	ids, total, err := db.matchingAttrs(ctx, terms)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) <= byAttrMaxAttrs && float64(len(ids)) <= byAttrMaxShare*float64(total) {
		// Few attributions: the page's seqs from the (attr, t) index alone,
		// then those rows.
		var seqs []any
		err := eachRow(ctx, db.r, `SELECT e.seq FROM events e INDEXED BY events_attr_t
			WHERE e.attr IN (`+placeholders(len(ids))+`) AND `+where+` ORDER BY e.t DESC, e.seq DESC LIMIT ?`,
			append(append(ids, args...), limit), func(rows *sql.Rows) error {
				var s int64
				err := rows.Scan(&s)
				seqs = append(seqs, s)
				return err
			})
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		if len(seqs) == 0 {
			return out, nil
		}
		return db.listEvents(ctx, `SELECT `+eventSelect+` FROM events e CROSS JOIN attrs a ON a.id = e.attr
			WHERE e.seq IN (`+placeholders(len(seqs))+`) ORDER BY e.t DESC, e.seq DESC`, seqs)
	}
	// Many attributions: walk the range newest first, keep matching rows.
	var conds []string
	for _, t := range terms {
		conds = append(conds, fmt.Sprintf("a.%s = ?", attrColumnNames[t.pos]))
		args = append(args, t.id)
	}
	return db.listEvents(ctx, `SELECT `+eventSelect+` FROM events e INDEXED BY events_t CROSS JOIN attrs a ON a.id = e.attr
		WHERE `+where+` AND `+strings.Join(conds, " AND ")+` ORDER BY e.t DESC, e.seq DESC LIMIT ?`, append(args, limit))
}

// attrColumnNames are the attrs columns, in attr order.
var attrColumnNames = strings.Split(strings.ReplaceAll(attrColumns, " ", ""), ",")

// placeholders returns "?,?,…" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// eventTerms turns a request log filter into attr terms; matchable is false
// when a filter value was never recorded, so nothing can match.
func (db *DB) eventTerms(ctx context.Context, filter map[allot.Dimension]string) (terms []filterTerm, matchable bool, err error) {
	dims := make([]allot.Dimension, 0, len(filter))
	for d := range filter {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	for _, d := range dims {
		pos, ok := dimAttr[d]
		if !ok {
			return nil, false, allot.Errorf(allot.EInvalid, "cannot filter the request log on %q; filter on user, team, model, task, app or provider and use from/to for time", d)
		}
		id, ok := db.dict.id(filter[d])
		if !ok {
			if err := db.dict.refresh(ctx, db.r); err != nil {
				return nil, false, fmt.Errorf("list events: %w", err)
			}
			if id, ok = db.dict.id(filter[d]); !ok {
				return nil, false, nil
			}
		}
		terms = append(terms, filterTerm{pos, id})
	}
	return terms, true, nil
}

// matchingAttrs returns the ids of the attributions matching every term,
// and how many attributions there are in all.
func (db *DB) matchingAttrs(ctx context.Context, terms []filterTerm) ([]any, int, error) {
	if err := db.attrs.refresh(ctx, db.r); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	db.attrs.mu.RLock()
	defer db.attrs.mu.RUnlock()
	var ids []any
	for id, a := range db.attrs.attrs {
		match := true
		for _, t := range terms {
			match = match && a[t.pos] == t.id
		}
		if match {
			ids = append(ids, id)
		}
	}
	return ids, len(db.attrs.attrs), nil
}

// listEvents runs a query selecting eventSelect and builds the events.
func (db *DB) listEvents(ctx context.Context, query string, args []any) ([]allot.Event, error) {
	var raw []eventRow
	err := eachRow(ctx, db.r, query, args, func(rows *sql.Rows) error {
		var r eventRow
		err := rows.Scan(r.dest()...)
		raw = append(raw, r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out := make([]allot.Event, len(raw))
	for i := range raw {
		s, err := db.dict.names(ctx, db.r, raw[i].strs[:]...)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		out[i] = raw[i].event(s)
	}
	return out, nil
}

var _ allot.EventLog = (*DB)(nil)
