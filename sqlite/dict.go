package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// dict is the in-memory copy of the dict table: the strings events repeat,
// each stored once and referred to by a small integer. Id 0 is "". Rows are
// append-only, so a cached id never goes stale; ids this process has not
// seen (written by another process) are loaded on demand.
type dict struct {
	mu   sync.RWMutex
	ids  map[string]int64
	strs []string // by id; strs[0] = ""
}

func newDict() *dict {
	return &dict{ids: map[string]int64{"": 0}, strs: []string{""}}
}

// id returns the id of s if it is cached.
func (d *dict) id(s string) (int64, bool) {
	d.mu.RLock()
	id, ok := d.ids[s]
	d.mu.RUnlock()
	return id, ok
}

// str returns the string of id if it is cached.
func (d *dict) str(id int64) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id < 0 || id >= int64(len(d.strs)) {
		return "", false
	}
	if id != 0 && d.strs[id] == "" {
		return "", false
	}
	return d.strs[id], true
}

// maxID is the largest cached id.
func (d *dict) maxID() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return int64(len(d.strs) - 1)
}

func (d *dict) addLocked(id int64, s string) {
	for int64(len(d.strs)) <= id {
		d.strs = append(d.strs, "")
	}
	d.strs[id] = s
	d.ids[s] = id
}

// querier is what dict reads through: a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// dictRows are dict rows in id order.
type dictRows struct {
	ids  []int64
	strs []string
}

// load reads the rows with ids above the cached ones. A ledger's dict
// holds every session name, millions of them: rows are read into slices,
// not a map.
func (d *dict) load(ctx context.Context, q querier) (dictRows, error) {
	var out dictRows
	rows, err := q.QueryContext(ctx, `SELECT id, s FROM dict WHERE id > ? ORDER BY id`, d.maxID())
	if err != nil {
		return out, fmt.Errorf("read dictionary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			return out, fmt.Errorf("read dictionary: %w", err)
		}
		out.ids = append(out.ids, id)
		out.strs = append(out.strs, s)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read dictionary: %w", err)
	}
	return out, nil
}

// refresh caches the rows other writers added.
func (d *dict) refresh(ctx context.Context, q querier) error {
	rows, err := d.load(ctx, q)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addRowsLocked(rows)
	return nil
}

// addRowsLocked caches rows, growing the cache once for all of them.
func (d *dict) addRowsLocked(rows dictRows) {
	if len(rows.ids) == 0 {
		return
	}
	if len(rows.ids) > len(d.ids) { // a first load: size the map at once, not by doubling
		ids := make(map[string]int64, len(d.ids)+len(rows.ids))
		for s, id := range d.ids {
			ids[s] = id
		}
		d.ids = ids
	}
	if last := rows.ids[len(rows.ids)-1]; last >= int64(len(d.strs)) {
		d.strs = slices.Grow(d.strs, int(last)+1-len(d.strs))
	}
	for i, id := range rows.ids {
		d.addLocked(id, rows.strs[i])
	}
}

// names maps ids to strings, loading ids the cache lacks from q.
func (d *dict) names(ctx context.Context, q querier, ids ...int64) ([]string, error) {
	out := make([]string, len(ids))
	// Under one lock, those cached (all, usually); then the rest one by one.
	missing := false
	d.mu.RLock()
	for i, id := range ids {
		if id >= 0 && id < int64(len(d.strs)) && (id == 0 || d.strs[id] != "") {
			out[i] = d.strs[id]
		} else {
			missing = true
		}
	}
	d.mu.RUnlock()
	if !missing {
		return out, nil
	}
	for i, id := range ids {
		if out[i] != "" || id == 0 {
			continue
		}
		s, ok := d.str(id)
		if !ok {
			if err := d.refresh(ctx, q); err != nil {
				return nil, err
			}
			if s, ok = d.str(id); !ok {
				return nil, fmt.Errorf("dictionary has no id %d", id)
			}
		}
		out[i] = s
	}
	return out, nil
}

// interner assigns ids to strings inside a write transaction. New rows are
// cached only once the transaction commits (commit), so a rollback never
// leaves the cache pointing at ids that do not exist.
type interner struct {
	d       *dict
	pending map[string]int64
	missing []string
	seen    map[string]bool
}

func (d *dict) interner() *interner {
	return &interner{d: d, pending: map[string]int64{}, seen: map[string]bool{}}
}

// note records that s, which the cache lacks, will be needed.
func (in *interner) note(s string) {
	if !in.seen[s] {
		in.seen[s] = true
		in.missing = append(in.missing, s)
	}
}

// resolve stores the wanted strings the dictionary lacks, in tx.
func (in *interner) resolve(ctx context.Context, tx *sql.Tx) error {
	if len(in.missing) == 0 {
		return nil
	}
	// Another process may have added some of them: read what is new first
	// (the write lock is held, so nothing changes under us).
	known, err := in.d.load(ctx, tx)
	if err != nil {
		return err
	}
	byStr := make(map[string]int64, len(known.ids))
	for i, id := range known.ids {
		byStr[known.strs[i]] = id
	}
	var add []string
	for _, s := range in.missing {
		if id, ok := byStr[s]; ok {
			in.pending[s] = id
		} else {
			add = append(add, s)
		}
	}
	for len(add) > 0 {
		n := min(len(add), 500)
		chunk := add[:n]
		add = add[n:]
		q := "INSERT INTO dict (s) VALUES " + strings.TrimSuffix(strings.Repeat("(?),", n), ",") + " RETURNING id, s"
		args := make([]any, n)
		for i, s := range chunk {
			args[i] = s
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("add to dictionary: %w", err)
		}
		for rows.Next() {
			var id int64
			var s string
			if err := rows.Scan(&id, &s); err != nil {
				rows.Close()
				return fmt.Errorf("add to dictionary: %w", err)
			}
			in.pending[s] = id
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("add to dictionary: %w", err)
		}
	}
	// Cache what was there already: those rows are committed.
	in.d.mu.Lock()
	in.d.addRowsLocked(known)
	in.d.mu.Unlock()
	return nil
}

// id returns the id of s, which must have been wanted and resolved.
func (in *interner) id(s string) int64 {
	if id, ok := in.pending[s]; ok {
		return id
	}
	id, ok := in.d.id(s)
	if !ok {
		panic("sqlite: interner.id of a string not wanted: " + s)
	}
	return id
}

// commit caches the new rows after their transaction committed.
func (in *interner) commit() {
	if len(in.pending) == 0 {
		return
	}
	in.d.mu.Lock()
	defer in.d.mu.Unlock()
	for s, id := range in.pending {
		in.d.addLocked(id, s)
	}
}
