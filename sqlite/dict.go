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
// append-only, so a cached id never goes stale.
//
// The cache fills as strings are used, not at open: a ledger's dict holds
// every session name, millions on a busy one, and reading them all took a
// one-off command (allot insights, allot report) a second or more before
// it could start. A few ids or strings the cache lacks are read by key;
// once a process has gone to the table more than dictLookups times, the
// whole table is read (ids above those read in full before), as it would
// otherwise go on asking row by row (an export, a request log).
type dict struct {
	mu      sync.RWMutex
	ids     map[string]int64
	strs    []string // by id; strs[0] = "", "" where not cached
	full    int64    // every id up to full is cached
	lookups int      // reads by key so far
}

// dictLookups is how many reads by key the dict makes before it reads the
// whole table instead.
const dictLookups = 64

// dictKeyed is the most ids one names call reads by key (in chunks of
// dictChunk): more are read with the whole table.
const (
	dictKeyed = 1 << 16
	dictChunk = 4096
)

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

// lookup returns the id of s, reading it through q if the cache lacks
// it; ok is false when s was never stored.
func (d *dict) lookup(ctx context.Context, q querier, s string) (id int64, ok bool, err error) {
	if id, ok := d.id(s); ok {
		return id, true, nil
	}
	d.counted()
	rows, err := d.byKey(ctx, q, "s", []any{s})
	if err != nil {
		return 0, false, err
	}
	if len(rows.ids) == 0 {
		return 0, false, nil
	}
	return rows.ids[0], true, nil
}

// strLocked returns the string of id if it is cached. Call holding mu.
func (d *dict) strLocked(id int64) (string, bool) {
	if id < 0 || id >= int64(len(d.strs)) || id != 0 && d.strs[id] == "" {
		return "", false
	}
	return d.strs[id], true
}

// maxID returns the largest id stored, through q.
func (d *dict) maxID(ctx context.Context, q querier) (int64, error) {
	var max int64
	err := eachRow(ctx, q, `SELECT coalesce(max(id), 0) FROM dict`, nil, func(rows *sql.Rows) error { return rows.Scan(&max) })
	if err != nil {
		return 0, fmt.Errorf("read dictionary: %w", err)
	}
	return max, nil
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

// load reads the rows with ids above those read in full. A ledger's dict
// holds every session name, millions of them: rows are read into slices,
// not a map.
func (d *dict) load(ctx context.Context, q querier) (dictRows, error) {
	d.mu.RLock()
	full := d.full
	d.mu.RUnlock()
	return d.read(ctx, q, `SELECT id, s FROM dict WHERE id > ? ORDER BY id`, full)
}

// byKey reads the rows whose col (id or s) is one of keys, dictChunk at a
// time, and caches them.
func (d *dict) byKey(ctx context.Context, q querier, col string, keys []any) (dictRows, error) {
	var all dictRows
	for chunk := range slices.Chunk(keys, dictChunk) {
		rows, err := d.read(ctx, q, `SELECT id, s FROM dict WHERE `+col+` IN (`+placeholders(len(chunk))+`) ORDER BY id`, chunk...)
		if err != nil {
			return all, err
		}
		d.mu.Lock()
		d.addRowsLocked(rows, false)
		d.mu.Unlock()
		all.ids, all.strs = append(all.ids, rows.ids...), append(all.strs, rows.strs...)
	}
	return all, nil
}

// counted records a read by key on a reader's behalf (see dictLookups).
func (d *dict) counted() {
	d.mu.Lock()
	d.lookups++
	d.mu.Unlock()
}

// cacheAttrStrings makes sure the dictionary holds every string that
// attributions name (people, teams, keys, models...; not sessions), in one
// read: reads that then name attributions one at a time find them cached.
func (db *DB) cacheAttrStrings(ctx context.Context) error {
	db.attrs.mu.RLock()
	var ids []int64
	seen := map[int64]bool{}
	if len(db.attrs.attrs) != db.attrs.named {
		for _, a := range db.attrs.attrs {
			for _, id := range a {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
	}
	n := len(db.attrs.attrs)
	db.attrs.mu.RUnlock()
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.dict.names(ctx, db.r, ids...); err != nil {
		return err
	}
	db.attrs.mu.Lock()
	db.attrs.named = max(db.attrs.named, n)
	db.attrs.mu.Unlock()
	return nil
}

func (d *dict) read(ctx context.Context, q querier, query string, args ...any) (dictRows, error) {
	var out dictRows
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			return err
		}
		out.ids = append(out.ids, id)
		out.strs = append(out.strs, s)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("read dictionary: %w", err)
	}
	return out, nil
}

// refresh reads every row not read in full before.
func (d *dict) refresh(ctx context.Context, q querier) error {
	rows, err := d.load(ctx, q)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addRowsLocked(rows, true)
	return nil
}

// addRowsLocked caches rows, growing the cache once for all of them; all
// says they are every row above those read in full before.
func (d *dict) addRowsLocked(rows dictRows, all bool) {
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
	last := rows.ids[len(rows.ids)-1]
	if last >= int64(len(d.strs)) {
		d.strs = slices.Grow(d.strs, int(last)+1-len(d.strs))
	}
	for i, id := range rows.ids {
		d.addLocked(id, rows.strs[i])
	}
	if all {
		d.full = max(d.full, last)
	}
}

// names maps ids to strings, reading those the cache lacks through q.
func (d *dict) names(ctx context.Context, q querier, ids ...int64) ([]string, error) {
	out := make([]string, len(ids))
	var missing []any
	d.mu.RLock()
	for i, id := range ids {
		if s, ok := d.strLocked(id); ok {
			out[i] = s
		} else {
			missing = append(missing, id) // repeats are harmless in IN (...)
		}
	}
	keyed := d.lookups < dictLookups
	d.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	if len(missing) > 64 { // rows of events repeat the same people and models
		seen := make(map[any]bool, len(missing))
		missing = slices.DeleteFunc(missing, func(id any) bool {
			dup := seen[id]
			seen[id] = true
			return dup
		})
	}
	keyed = keyed && len(missing) <= dictKeyed
	if keyed {
		d.counted()
		if _, err := d.byKey(ctx, q, "id", missing); err != nil {
			return nil, err
		}
	} else if err := d.refresh(ctx, q); err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for i, id := range ids {
		if out[i] != "" || id == 0 {
			continue
		}
		s, ok := d.strLocked(id)
		if !ok {
			return nil, fmt.Errorf("dictionary has no id %d", id)
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
	// Some may be stored already (by another process, or before this one
	// cached them): read those by string first. The write lock is held,
	// so nothing changes under us.
	keys := make([]any, len(in.missing))
	for i, s := range in.missing {
		keys[i] = s
	}
	known, err := in.d.byKey(ctx, tx, "s", keys) // committed rows: cached as read
	if err != nil {
		return err
	}
	for i, id := range known.ids {
		in.pending[known.strs[i]] = id
	}
	var add []string
	for _, s := range in.missing {
		if _, ok := in.pending[s]; !ok {
			add = append(add, s)
		}
	}
	for chunk := range slices.Chunk(add, 500) {
		q := "INSERT INTO dict (s) VALUES " + strings.TrimSuffix(strings.Repeat("(?),", len(chunk)), ",") + " RETURNING id, s"
		args := make([]any, len(chunk))
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
