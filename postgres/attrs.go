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

// intern returns the ids of as (in order), adding the attributions the
// table lacks in sorted order, in their own statements.
func (c *attrCache) intern(ctx context.Context, q querier, as []attr) ([]int32, error) {
	out := make([]int32, len(as))
	var missing []attr
	seen := map[attr]bool{}
	c.mu.RLock()
	for i, a := range as {
		id, ok := c.ids[a]
		if !ok {
			id = -1
			if !seen[a] {
				seen[a] = true
				missing = append(missing, a)
			}
		}
		out[i] = id
	}
	c.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	slices.SortFunc(missing, func(a, b attr) int { return slices.Compare(a[:], b[:]) })
	cols := make([][]int32, attrLen)
	for j := range cols {
		cols[j] = make([]int32, len(missing))
		for i, a := range missing {
			cols[j][i] = a[j]
		}
	}
	args := make([]any, attrLen)
	for j := range cols {
		args[j] = cols[j]
	}
	list := "org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source"
	unnest := "unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int4[], $11::int4[], $12::int4[], $13::int4[]) AS w(" + list + ")"
	if _, err := q.Exec(ctx, `INSERT INTO attrs (`+list+`) SELECT * FROM `+unnest+` ORDER BY `+list+` ON CONFLICT DO NOTHING`, args...); err != nil {
		return nil, fmt.Errorf("add attributions: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT a.id, a.org, a.team, a.usr, a.key_id, a.key_label, a.role, a.provider, a.req_model, a.served_model,
		a.route, a.task, a.app, a.source FROM attrs a JOIN `+unnest+` USING (`+list+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read attributions: %w", err)
	}
	found := map[attr]int32{}
	var id int32
	var a attr
	dest := []any{&id}
	for j := range a {
		dest = append(dest, &a[j])
	}
	if _, err := pgx.ForEachRow(rows, dest, func() error {
		found[a] = id
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read attributions: %w", err)
	}
	c.mu.Lock()
	if len(c.ids)+len(found) > c.max {
		clear(c.ids) // start over; the table is always there
	}
	for a, id := range found {
		c.ids[a] = id
	}
	c.mu.Unlock()
	for i := range out {
		if out[i] < 0 {
			id, ok := found[as[i]]
			if !ok {
				return nil, fmt.Errorf("add attributions: %v is missing after insert", as[i])
			}
			out[i] = id
		}
	}
	return out, nil
}
