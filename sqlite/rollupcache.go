package sqlite

import (
	"fmt"
	"math"
	"sync"
)

// Reports read the rollups of a range as units: whole past days (from
// daily_totals) and single hours (from rollups_hourly). A unit, once read,
// stays in memory as a rollupBlock, tagged with its version from
// rollup_hour_versions or rollup_day_versions (migrations/0005), which
// every write to its rollups bumps in the same transaction. A report reads
// the versions of its units in its read transaction and takes each unit
// whose version matches from memory, so only what changed since (the open
// hour, a day that got late events) is read from the database again, and
// the report stays exactly the rollups of its snapshot, whatever other
// connections or processes write meanwhile.

// reportCacheBytes bounds the memory the blocks take; the least recently
// used go first. A day of a 1,000-person org (about 24,000 attributions)
// takes about 0.7 MB.
var reportCacheBytes int64 = 256 << 20

// unitKind tells what a cached block holds.
type unitKind uint8

const (
	unitDay       unitKind = iota // a day's rollups per attribution
	unitHour                      // an hour's rollups per attribution
	unitHourTotal                 // an hour's rollups summed over all attributions (entry attr 0)
)

// unitKey names a cached block: its kind and its unix day or hour.
type unitKey struct {
	kind unitKind
	n    int64
}

// rollupBlock is one unit's rollups in memory: per attribution (ascending
// ids) its sums, column by column, each column as narrow as its values
// allow and absent when all are zero. Blocks are never changed once built.
type rollupBlock struct {
	attrs []int32
	cols  [len(sums{})]blockCol
}

// blockCol is one sum of a block: at most one of i32 and i64 is set.
type blockCol struct {
	i32 []int32
	i64 []int64
}

// bytes is the memory the block holds.
func (b *rollupBlock) bytes() int64 {
	n := int64(len(b.attrs))*4 + 64
	for _, c := range b.cols {
		n += int64(len(c.i32))*4 + int64(len(c.i64))*8
	}
	return n
}

// blockBuilder collects a unit's entries, in attribution order, into a block.
type blockBuilder struct {
	attrs []int64
	sums  []sums
}

// add appends an entry; attributions must come in increasing order.
func (bb *blockBuilder) add(attr int64, s *sums) {
	bb.attrs = append(bb.attrs, attr)
	bb.sums = append(bb.sums, *s)
}

// build returns the block of the entries added since the last build.
func (bb *blockBuilder) build() (*rollupBlock, error) {
	n := len(bb.attrs)
	b := &rollupBlock{attrs: make([]int32, n)}
	defer func() { bb.attrs, bb.sums = bb.attrs[:0], bb.sums[:0] }()
	for i, a := range bb.attrs {
		if a < 0 || a > math.MaxInt32 {
			return nil, fmt.Errorf("attribution id %d out of range", a)
		}
		b.attrs[i] = int32(a)
	}
	for c := range b.cols {
		lo, hi := int64(0), int64(0)
		for i := range bb.sums {
			lo, hi = min(lo, bb.sums[i][c]), max(hi, bb.sums[i][c])
		}
		switch {
		case lo == 0 && hi == 0:
		case lo >= math.MinInt32 && hi <= math.MaxInt32:
			col := make([]int32, n)
			for i := range bb.sums {
				col[i] = int32(bb.sums[i][c])
			}
			b.cols[c].i32 = col
		default:
			col := make([]int64, n)
			for i := range bb.sums {
				col[i] = bb.sums[i][c]
			}
			b.cols[c].i64 = col
		}
	}
	return b, nil
}

// rollupCache holds blocks by unit, with their versions, least recently
// used first out once over its byte budget. Safe for concurrent use.
type rollupCache struct {
	mu    sync.Mutex
	m     map[unitKey]*cacheEntry
	lru   cacheEntry // sentinel: lru.next is the most recently used
	bytes int64
	limit int64

	// loading holds the units a report is reading from the database, so
	// that reports started together (an overview runs several) read each
	// unit once: the others wait for it and find it here.
	loading map[unitKey]chan struct{}
}

type cacheEntry struct {
	key        unitKey
	version    int64
	block      *rollupBlock
	size       int64
	prev, next *cacheEntry
}

func newRollupCache(limit int64) *rollupCache {
	c := &rollupCache{m: map[unitKey]*cacheEntry{}, limit: limit, loading: map[unitKey]chan struct{}{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// get returns the block of k at version v, if held.
func (c *rollupCache) get(k unitKey, v int64) *rollupBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil || e.version != v {
		return nil
	}
	c.unlink(e)
	c.pushFront(e)
	return e.block
}

// put stores b as k's block at version v, unless a newer version is held
// (versions only grow), then drops the least recently used blocks over
// the budget.
func (c *rollupCache) put(k unitKey, v int64, b *rollupBlock) {
	size := b.bytes() + 96
	if size > c.limit/4 {
		return // would evict too much for one unit
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		if e.version > v {
			return
		}
		c.remove(e)
	}
	e := &cacheEntry{key: k, version: v, block: b, size: size}
	c.m[k] = e
	c.pushFront(e)
	c.bytes += size
	for c.bytes > c.limit && c.lru.prev != &c.lru {
		c.remove(c.lru.prev)
	}
}

// claim marks the keys nobody is loading as loaded by the caller, who must
// release them, and returns them along with the keys others are loading
// and a channel closed when each is done.
func (c *rollupCache) claim(keys []unitKey) (mine []unitKey, others map[unitKey]chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if ch, ok := c.loading[k]; ok {
			if others == nil {
				others = map[unitKey]chan struct{}{}
			}
			others[k] = ch
			continue
		}
		c.loading[k] = make(chan struct{})
		mine = append(mine, k)
	}
	return mine, others
}

// release ends the caller's loading of keys.
func (c *rollupCache) release(keys []unitKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		close(c.loading[k])
		delete(c.loading, k)
	}
}

// clear drops every block.
func (c *rollupCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.bytes = 0
}

func (c *rollupCache) remove(e *cacheEntry) {
	c.unlink(e)
	delete(c.m, e.key)
	c.bytes -= e.size
}

func (c *rollupCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *rollupCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}
