package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// attr is the context of an event as dict ids, in attrColumns order.
type attr [attrLen]int32

const attrLen = 13

// attrColumns are the attrs columns holding an attr, in order.
var attrColumns = [attrLen]string{"org", "team", "usr", "key_id", "key_label", "role", "provider", "req_model",
	"served_model", "route", "task", "app", "source"}

// attrStrings lists the strings of e's context, in attr order.
func attrStrings(e *allot.Event) [attrLen]string {
	return [attrLen]string{e.Org, e.Team, e.User, e.KeyID, e.KeyLabel, string(e.Role), e.Provider, e.RequestedModel,
		e.ServedModel, string(e.Route), e.Task, e.App, string(e.Source)}
}

// dimColumnList lists the attrs columns of the non-time report dimensions.
var dimColumnList = [...]string{"team", "usr", "provider", "served_model", "task", "app"}

// dimColumn is the attrs column of each non-time report dimension.
var dimColumn = map[allot.Dimension]string{
	allot.DimTeam:     "team",
	allot.DimUser:     "usr",
	allot.DimProvider: "provider",
	allot.DimModel:    "served_model", // the served model
	allot.DimTask:     "task",
	allot.DimApp:      "app",
}

// attrCacheMax bounds the attribution cache (about 60 bytes an entry).
const attrCacheMax = 1 << 20

// attrCache maps attributions to their attrs ids. The table is
// append-only, so a cached id never goes stale.
type attrCache struct {
	mu  sync.RWMutex
	ids map[attr]int32
	max int // cache size past which it starts over
}

func newAttrCache() *attrCache { return &attrCache{ids: map[attr]int32{}, max: attrCacheMax} }

// cached returns the ids of as (in order), -1 for those not cached, and
// the distinct attributions not cached.
func (c *attrCache) cached(as []attr) (ids []int32, missing []attr) {
	ids = make([]int32, len(as))
	var seen map[attr]bool
	c.mu.RLock()
	for i, a := range as {
		id, ok := c.ids[a]
		if !ok {
			id = -1
			if seen == nil {
				seen = map[attr]bool{}
			}
			if !seen[a] {
				seen[a] = true
				missing = append(missing, a)
			}
		}
		ids[i] = id
	}
	c.mu.RUnlock()
	return ids, missing
}

// attrList lists the attrs columns holding an attr, in order.
const attrList = "org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source"

// attrUnnest is a table w of the attributions given as 13 arrays, one per column.
const attrUnnest = "unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[], " +
	"$9::int4[], $10::int4[], $11::int4[], $12::int4[], $13::int4[]) AS w(" + attrList + ")"

// attrArgs returns as as attrUnnest's arguments.
func attrArgs(as []attr) []any {
	args := make([]any, attrLen)
	for j := range args {
		col := make([]int32, len(as))
		for i, a := range as {
			col[i] = a[j]
		}
		args[j] = col
	}
	return args
}

// scanAttrs reads rows of (id, the attr's columns) into found.
func scanAttrs(rows pgx.Rows, found map[attr]int32) error {
	var id int32
	var a attr
	dest := []any{&id}
	for j := range a {
		dest = append(dest, &a[j])
	}
	_, err := pgx.ForEachRow(rows, dest, func() error {
		found[a] = id
		return nil
	})
	return err
}

// intern returns the ids of the attributions of missing (none of them
// cached), adding those the table lacks, and caches them. It runs in
// statements of its own, outside any batch's transaction; attributions are
// inserted in sorted order so concurrent callers never deadlock.
func (c *attrCache) intern(ctx context.Context, q querier, missing []attr) (map[attr]int32, error) {
	slices.SortFunc(missing, func(a, b attr) int { return slices.Compare(a[:], b[:]) })
	found := make(map[attr]int32, len(missing))
	rows, err := q.Query(ctx, `INSERT INTO attrs (`+attrList+`) SELECT * FROM `+attrUnnest+` ORDER BY `+attrList+`
		ON CONFLICT DO NOTHING RETURNING id, `+attrList, attrArgs(missing)...)
	if err == nil {
		err = scanAttrs(rows, found)
	}
	if err != nil {
		return nil, fmt.Errorf("add attributions: %w", err)
	}
	// The attributions stored already (or meanwhile, by another replica)
	// are read by a statement of its own, which sees what others committed.
	var left []attr
	for _, a := range missing {
		if _, ok := found[a]; !ok {
			left = append(left, a)
		}
	}
	if len(left) > 0 {
		rows, err := q.Query(ctx, `SELECT a.id, a.org, a.team, a.usr, a.key_id, a.key_label, a.role, a.provider, a.req_model,
			a.served_model, a.route, a.task, a.app, a.source FROM attrs a JOIN `+attrUnnest+` USING (`+attrList+`)`, attrArgs(left)...)
		if err == nil {
			err = scanAttrs(rows, found)
		}
		if err != nil {
			return nil, fmt.Errorf("read attributions: %w", err)
		}
		for _, a := range left {
			if _, ok := found[a]; !ok {
				return nil, fmt.Errorf("add attributions: %v is missing after insert", a)
			}
		}
	}
	c.mu.Lock()
	if len(c.ids)+len(found) > c.max {
		clear(c.ids) // start over; the table is always there
	}
	for a, id := range found {
		c.ids[a] = id
	}
	c.mu.Unlock()
	return found, nil
}
