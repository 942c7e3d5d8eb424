package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/allot-dev/allot"
)

// attr is the context of an event as dict ids, in attrColumns order.
type attr [attrLen]int64

const attrLen = 13

// attrColumns are the attrs columns holding an attr, in order.
const attrColumns = "org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source"

// attrStrings lists the strings of e's context, in attr order.
func attrStrings(e *allot.Event) [attrLen]string {
	return [attrLen]string{e.Org, e.Team, e.User, e.KeyID, e.KeyLabel, string(e.Role), e.Provider, e.RequestedModel,
		e.ServedModel, string(e.Route), e.Task, e.App, string(e.Source)}
}

// scanAttr scans an id and an attr.
func scanAttr(rows *sql.Rows, id *int64, a *attr) error {
	dest := make([]any, 0, attrLen+1)
	dest = append(dest, id)
	for i := range a {
		dest = append(dest, &a[i])
	}
	return rows.Scan(dest...)
}

// attrCache is the in-memory copy of the attrs table, which, like dict, is
// append-only: a cached id never goes stale.
type attrCache struct {
	mu    sync.RWMutex
	ids   map[attr]int64
	attrs map[int64]attr
	max   int64
	named int // how many attrs had their strings cached by cacheAttrStrings
}

func newAttrCache() *attrCache {
	return &attrCache{ids: map[attr]int64{}, attrs: map[int64]attr{}}
}

func (c *attrCache) id(a attr) (int64, bool) {
	c.mu.RLock()
	id, ok := c.ids[a]
	c.mu.RUnlock()
	return id, ok
}

func (c *attrCache) addLocked(id int64, a attr) {
	c.ids[a] = id
	c.attrs[id] = a
	c.max = max(c.max, id)
}

// load reads the rows above the cached ones.
func (c *attrCache) load(ctx context.Context, q querier) (map[int64]attr, error) {
	c.mu.RLock()
	above := c.max
	c.mu.RUnlock()
	out := map[int64]attr{}
	err := eachRow(ctx, q, `SELECT id, `+attrColumns+` FROM attrs WHERE id > ?`, []any{above}, func(rows *sql.Rows) error {
		var id int64
		var a attr
		if err := scanAttr(rows, &id, &a); err != nil {
			return err
		}
		out[id] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read attributions: %w", err)
	}
	return out, nil
}

// refresh caches the rows other writers added.
func (c *attrCache) refresh(ctx context.Context, q querier) error {
	rows, err := c.load(ctx, q)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, a := range rows {
		c.addLocked(id, a)
	}
	return nil
}

// attrInterner assigns attrs ids inside a write transaction; like the
// string interner it caches new rows only after commit.
type attrInterner struct {
	c       *attrCache
	pending map[attr]int64
	missing []attr
}

func (c *attrCache) interner() *attrInterner {
	return &attrInterner{c: c, pending: map[attr]int64{}}
}

// note records that a, which the cache lacks, will be needed.
func (in *attrInterner) note(a attr) {
	if _, ok := in.pending[a]; !ok {
		in.pending[a] = 0
		in.missing = append(in.missing, a)
	}
}

// resolve stores the wanted attributions the table lacks, in tx.
func (in *attrInterner) resolve(ctx context.Context, tx *sql.Tx) error {
	if len(in.missing) == 0 {
		return nil
	}
	known, err := in.c.load(ctx, tx)
	if err != nil {
		return err
	}
	byAttr := make(map[attr]int64, len(known))
	for id, a := range known {
		byAttr[a] = id
	}
	var add []attr
	for _, a := range in.missing {
		if id, ok := byAttr[a]; ok {
			in.pending[a] = id
		} else {
			add = append(add, a)
		}
	}
	for len(add) > 0 {
		n := min(len(add), 2000)
		chunk := add[:n]
		add = add[n:]
		args := make([]any, 0, n*attrLen)
		for _, a := range chunk {
			for _, v := range a {
				args = append(args, v)
			}
		}
		err := eachRow(ctx, tx, `INSERT INTO attrs (`+attrColumns+`) VALUES `+valuesSQL(n, attrLen)+` RETURNING id, `+attrColumns, args, func(rows *sql.Rows) error {
			var id int64
			var a attr
			if err := scanAttr(rows, &id, &a); err != nil {
				return err
			}
			in.pending[a] = id
			return nil
		})
		if err != nil {
			return fmt.Errorf("add attributions: %w", err)
		}
	}
	in.c.mu.Lock()
	for id, a := range known {
		in.c.addLocked(id, a)
	}
	in.c.mu.Unlock()
	return nil
}

// id returns the id of a, which must have been wanted and resolved.
func (in *attrInterner) id(a attr) int64 {
	if id, ok := in.pending[a]; ok {
		return id
	}
	id, ok := in.c.id(a)
	if !ok {
		panic("sqlite: attrInterner.id of an attribution not wanted")
	}
	return id
}

// commit caches the new rows after their transaction committed.
func (in *attrInterner) commit() {
	if len(in.pending) == 0 {
		return
	}
	in.c.mu.Lock()
	defer in.c.mu.Unlock()
	for a, id := range in.pending {
		in.c.addLocked(id, a)
	}
}
