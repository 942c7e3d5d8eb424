package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what lookups read through: the pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// dict is the in-memory copy of the dict table: the strings events repeat,
// each stored once and named by a small integer. Rows are never changed or
// deleted, so a cached id never goes stale; what this process has not seen
// (added by another replica, or dropped from a full cache) is looked up on
// demand, by string or by id.
type dict struct {
	mu   sync.RWMutex
	ids  map[string]int32
	strs map[int32]string
	max  int // cache size at which it starts over
}

func newDict() *dict {
	return &dict{ids: map[string]int32{"": 0}, strs: map[int32]string{0: ""}, max: dictCacheMax}
}

// id returns the id of s if it is cached.
func (d *dict) id(s string) (int32, bool) {
	d.mu.RLock()
	id, ok := d.ids[s]
	d.mu.RUnlock()
	return id, ok
}

// dictCacheMax bounds the cache: sessions make the dictionary grow without
// end, so past this many strings the cache starts over (it refills from
// the table as strings come back).
const dictCacheMax = 1 << 20

func (d *dict) addLocked(id int32, s string) {
	if len(d.ids) >= d.max {
		clear(d.ids)
		clear(d.strs)
		d.ids[""], d.strs[0] = 0, ""
	}
	d.ids[s] = id
	d.strs[id] = s
}

// intern returns the ids of the strings of missing (none of them cached),
// adding those the table lacks, and caches them. It runs in statements of
// its own, outside any batch's transaction: a string added for a batch
// that then fails stays, harmlessly. Strings are inserted in sorted order
// so concurrent callers never deadlock.
func (d *dict) intern(ctx context.Context, q querier, missing []string) (map[string]int32, error) {
	slices.Sort(missing)
	found := make(map[string]int32, len(missing))
	rows, err := q.Query(ctx, `INSERT INTO dict (s) SELECT s FROM unnest($1::bytea[]) AS u(s) ORDER BY s
		ON CONFLICT (s) DO NOTHING RETURNING id, s`, rawStrings(missing))
	if err == nil {
		err = scanStrings(rows, found)
	}
	if err != nil {
		return nil, fmt.Errorf("add to dictionary: %w", err)
	}
	// The strings stored already (or meanwhile, by another replica) are
	// read by a statement of its own, which sees what others committed.
	var left []string
	for _, s := range missing {
		if _, ok := found[s]; !ok {
			left = append(left, s)
		}
	}
	if len(left) > 0 {
		rows, err := q.Query(ctx, `SELECT id, s FROM dict WHERE s = ANY ($1::bytea[])`, rawStrings(left))
		if err == nil {
			err = scanStrings(rows, found)
		}
		if err != nil {
			return nil, fmt.Errorf("read dictionary: %w", err)
		}
		for _, s := range left {
			if _, ok := found[s]; !ok {
				return nil, fmt.Errorf("add to dictionary: %q is missing after insert", s)
			}
		}
	}
	d.mu.Lock()
	for s, id := range found {
		d.addLocked(id, s)
	}
	d.mu.Unlock()
	return found, nil
}

// rawStrings returns strs as bytes.
func rawStrings(strs []string) [][]byte {
	raw := make([][]byte, len(strs))
	for i, s := range strs {
		raw[i] = []byte(s)
	}
	return raw
}

// scanStrings reads rows of (id, s) into found.
func scanStrings(rows pgx.Rows, found map[string]int32) error {
	var id int32
	var s []byte
	_, err := pgx.ForEachRow(rows, []any{&id, &s}, func() error {
		found[string(s)] = id
		return nil
	})
	return err
}

// lookup returns the id of s, reading the table if the cache lacks it; ok
// is false when s was never stored.
func (d *dict) lookup(ctx context.Context, q querier, s string) (int32, bool, error) {
	if id, ok := d.id(s); ok {
		return id, true, nil
	}
	found, err := d.load(ctx, q, `SELECT id, s FROM dict WHERE s = $1`, []byte(s))
	if err != nil {
		return 0, false, err
	}
	for id := range found {
		return id, true, nil
	}
	return 0, false, nil
}

// names maps ids to strings, reading the ids the cache lacks.
func (d *dict) names(ctx context.Context, q querier, ids []int32) (map[int32]string, error) {
	out := make(map[int32]string, len(ids))
	var missing []int32
	d.mu.RLock()
	for _, id := range ids {
		if s, ok := d.strs[id]; ok {
			out[id] = s
		} else {
			missing = append(missing, id)
		}
	}
	d.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := d.load(ctx, q, `SELECT id, s FROM dict WHERE id = ANY ($1::int4[])`, missing)
	if err != nil {
		return nil, err
	}
	for id, s := range found {
		out[id] = s
	}
	for _, id := range missing {
		if _, ok := out[id]; !ok {
			return nil, fmt.Errorf("dictionary has no id %d", id)
		}
	}
	return out, nil
}

// load runs a query of (id, s) rows and caches them.
func (d *dict) load(ctx context.Context, q querier, query string, arg any) (map[int32]string, error) {
	rows, err := q.Query(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("read dictionary: %w", err)
	}
	found := map[int32]string{}
	var id int32
	var s []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &s}, func() error {
		found[id] = string(s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dictionary: %w", err)
	}
	d.mu.Lock()
	for id, s := range found {
		d.addLocked(id, s)
	}
	d.mu.Unlock()
	return found, nil
}
