package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// Request log page sizes.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// byAttrMaxAttrs and byAttrMaxShare decide how ListEvents reads a filtered
// page: when the filter matches at most that many attributions and at most
// that share of all of them (one person among hundreds), it reads their
// events through events_hour_attr_t; otherwise (a team among a few) it walks
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
		// Few attributions: the page's seqs from the (hour, attr, t)
		// index alone, then those rows.
		seqs, err := db.attrPage(ctx, q.Filter, ids, lo, hi, where, args, limit)
		switch {
		case errors.Is(err, errBefore1970): // read as for many attributions below
		case err != nil:
			return nil, fmt.Errorf("list events: %w", err)
		case len(seqs) == 0:
			return out, nil
		default:
			return db.listEvents(ctx, `SELECT `+eventSelect+` FROM events e CROSS JOIN attrs a ON a.id = e.attr
				WHERE e.seq IN (`+placeholders(len(seqs))+`) ORDER BY e.t DESC, e.seq DESC`, seqs)
		}
	}
	// Many attributions: walk the range newest first, keep matching rows.
	var conds []string
	for _, t := range terms {
		conds = append(conds, fmt.Sprintf("a.%s = ?", attrColumnNames[t.Pos]))
		args = append(args, t.ID)
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
func (db *DB) eventTerms(ctx context.Context, filter map[allot.Dimension]string) (terms []rollup.ReportFilter, matchable bool, err error) {
	dims := make([]allot.Dimension, 0, len(filter))
	for d := range filter {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	for _, d := range dims {
		i := slices.Index(rollup.ReportDims[:], d)
		if i < 0 {
			return nil, false, allot.Errorf(allot.EInvalid, "cannot filter the request log on %q; filter on user, team, model, task, app or provider and use from/to for time", d)
		}
		id, ok, err := db.dict.lookup(ctx, db.r, filter[d])
		if err != nil {
			return nil, false, fmt.Errorf("list events: %w", err)
		}
		if !ok {
			return nil, false, nil
		}
		terms = append(terms, rollup.ReportFilter{Pos: reportDims[i], ID: id})
	}
	return terms, true, nil
}

// matchingAttrs returns the ids of the attributions matching every term,
// and how many attributions there are in all.
func (db *DB) matchingAttrs(ctx context.Context, terms []rollup.ReportFilter) ([]any, int, error) {
	if err := db.attrs.refresh(ctx, db.r); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	db.attrs.mu.RLock()
	defer db.attrs.mu.RUnlock()
	var ids []any
	for id, a := range db.attrs.attrs {
		match := true
		for _, t := range terms {
			match = match && a[t.Pos] == t.ID
		}
		if match {
			ids = append(ids, id)
		}
	}
	return ids, len(db.attrs.attrs), nil
}

// errBefore1970 is attrPage's refusal of ranges with events before 1970.
var errBefore1970 = errors.New("events before 1970")

// attrPage returns the seqs of the newest events (at most limit) of the
// attributions ids within [lo, hi) that also satisfy where (args), day by
// day newest first until the page is full: the last three days directly,
// earlier ones only if the rollups (a report by day, in memory once read)
// show the filter has events on them. A day is read through
// events_hour_attr_t a run of hours at a time, seeking every (hour, attr)
// pair of the run. So a page costs a few index seeks per attribution and
// hour it spans, however sparse the filter.
func (db *DB) attrPage(ctx context.Context, filter map[allot.Dimension]string, ids []any, lo, hi int64, where string, args []any, limit int) ([]any, error) {
	var first, last sql.NullInt64
	// Each bound is an index lookup; min and max in one SELECT would scan.
	if err := db.r.QueryRowContext(ctx, `SELECT (SELECT min(t) FROM events), (SELECT max(t) FROM events)`).Scan(&first, &last); err != nil {
		return nil, fmt.Errorf("event span: %w", err)
	}
	if !first.Valid {
		return nil, nil
	}
	lo, hi = max(lo, first.Int64), min(hi, last.Int64+1)
	if lo >= hi {
		return nil, nil
	}
	if lo < 0 {
		return nil, errBefore1970 // hour buckets round towards zero there
	}
	run := int64(max(1, min(24, 2048/len(ids)))) // hours a query seeks, (hours × attributions) bounded
	idList := placeholders(len(ids))
	var seqs []any
	readDay := func(day int64) error {
		hLo, hHi := max(day*24, lo/usPerHour), min(day*24+23, (hi-1)/usPerHour)
		for h := hHi; h >= hLo && len(seqs) < limit; h -= run {
			var hours []any
			for x := h; x > h-run && x >= hLo; x-- {
				hours = append(hours, x)
			}
			qargs := append(append(append(hours, ids...), args...), limit-len(seqs))
			err := eachRow(ctx, db.r, `SELECT e.seq FROM events e INDEXED BY events_hour_attr_t
				WHERE e.t / 3600000000 IN (`+placeholders(len(hours))+`) AND e.attr IN (`+idList+`) AND `+where+`
				ORDER BY e.t DESC, e.seq DESC LIMIT ?`, qargs, func(rows *sql.Rows) error {
				var s int64
				err := rows.Scan(&s)
				seqs = append(seqs, s)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	// The newest days directly (a page is usually there), then only the
	// days the rollups show events on.
	const direct = 3
	loDay, hiDay := lo/usPerDay, (hi-1)/usPerDay
	day := hiDay
	for ; day >= loDay && day > hiDay-direct && len(seqs) < limit; day-- {
		if err := readDay(day); err != nil {
			return nil, err
		}
	}
	if len(seqs) >= limit || day < loDay {
		return seqs, nil
	}
	rows, err := db.Report(ctx, allot.ReportQuery{By: []allot.Dimension{allot.DimDay}, From: time.UnixMicro(lo).UTC(), To: time.UnixMicro((day + 1) * usPerDay).UTC(), Filter: filter})
	if err != nil {
		return nil, err
	}
	days := make([]int64, 0, len(rows))
	for _, r := range rows {
		d, err := time.Parse("2006-01-02", r.Dims[0])
		if err != nil {
			return nil, fmt.Errorf("report day %q: %w", r.Dims[0], err)
		}
		if r.Requests > 0 && d.Unix()/86400 <= day {
			days = append(days, d.Unix()/86400)
		}
	}
	slices.Sort(days)
	for i := len(days) - 1; i >= 0 && len(seqs) < limit; i-- {
		if err := readDay(days[i]); err != nil {
			return nil, err
		}
	}
	return seqs, nil
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
	out, err := db.events(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
