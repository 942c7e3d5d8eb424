// Package rollupcache keeps units of a ledger's rollups in memory for
// reports: a unit (a past day, or an hour) of rollups per attribution id is
// read from the database once, turned into a compact Block, and kept in a
// Cache under its version while it does not change. The stores (sqlite,
// postgres) decide what a unit is and how its version is kept; this
// package holds what they share: the blocks, the builder that makes them,
// the cache with its byte budget, and the column-wise summing reports do.
package rollupcache

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/allot-dev/allot"
)

// NumSums is the number of sums a rollup holds.
const NumSums = 10

// Sums are the rollup sums of one attribution over a unit, in the order the
// rollup tables hold them (see the index constants).
type Sums [NumSums]int64

// Indexes into Sums.
const (
	Requests     = iota // calls
	Input               // input tokens, cached ones included
	CacheRead           // input tokens read from a cache
	CacheWrite5m        // input tokens written to a 5-minute cache
	CacheWrite1h        // input tokens written to a 1-hour cache
	Output              // output tokens, reasoning included
	Reasoning           // reasoning tokens
	Estimated           // calls whose usage was estimated
	Cost                // cost in nano-units of the currency
	UnknownCost         // calls whose model had no price
)

// Kind tells what a unit's block holds.
type Kind uint8

// The kinds of unit.
const (
	Day       Kind = iota // a day's rollups per attribution
	Hour                  // an hour's rollups per attribution
	HourTotal             // an hour's rollups summed over all attributions (entry attribution 0)
)

// Key names a unit: its kind and its unix day or hour.
type Key struct {
	Kind Kind
	N    int64
}

// Block is one unit's rollups in memory: per attribution (ascending ids)
// its sums, column by column, each column as narrow as its values allow
// and absent when all are zero. Blocks are never changed once built, so
// any number of reports may read one at once.
type Block struct {
	attrs     []int32
	cols      [NumSums]column
	saturated bool
}

// Saturated reports whether a sum of the block, or the sum of a column's
// positive or negative values over every entry, reaches the bounds sums
// saturate at (the int64 range less math.MinInt64): a group of its
// entries may then sum to less than the true sum, so the block must not
// be subtracted from.
func (b *Block) Saturated() bool { return b.saturated }

// column is one sum of a block: at most one of i32 and i64 is set.
type column struct {
	i32 []int32
	i64 []int64
}

// Attrs returns the attribution ids of the block's entries, ascending. The
// caller must not change them.
func (b *Block) Attrs() []int32 { return b.attrs }

// Bytes is the memory the block holds.
func (b *Block) Bytes() int64 {
	n := int64(len(b.attrs))*4 + 64
	for _, c := range b.cols {
		n += int64(len(c.i32))*4 + int64(len(c.i64))*8
	}
	return n
}

// AddTo adds each entry i of b to cur[groups[i]], column by column,
// skipping entries whose group is negative (filtered out). groups must
// hold at least one group per entry, and cur every group named.
func AddTo[S ~[NumSums]int64](b *Block, cur []S, groups []int32) {
	for c := range b.cols {
		if col := b.cols[c].i32; col != nil {
			addColumn(cur, groups, col, c)
		} else if col := b.cols[c].i64; col != nil {
			addColumn(cur, groups, col, c)
		}
	}
}

// AddEntries is AddTo for the entries idx of b only (each < the block's
// length), for reports that keep few of a block's entries: it reads those
// entries rather than every column in full.
func AddEntries[S ~[NumSums]int64](b *Block, cur []S, groups []int32, idx []int32) {
	for c := range b.cols {
		if col := b.cols[c].i32; col != nil {
			for _, i := range idx {
				cur[groups[i]][c] = allot.SatAdd(cur[groups[i]][c], int64(col[i]))
			}
		} else if col := b.cols[c].i64; col != nil {
			for _, i := range idx {
				cur[groups[i]][c] = allot.SatAdd(cur[groups[i]][c], col[i])
			}
		}
	}
}

// AddAll adds every entry of b to s: AddTo with one group, faster.
func AddAll[S ~[NumSums]int64](b *Block, s *S) {
	for c := range b.cols {
		var t int64
		if col := b.cols[c].i32; col != nil {
			for _, v := range col {
				t += int64(v) // no overflow: fewer than 2^32 entries of at most 2^31
			}
		} else if col := b.cols[c].i64; col != nil {
			for _, v := range col {
				t = allot.SatAdd(t, v)
			}
		}
		(*s)[c] = allot.SatAdd((*s)[c], t)
	}
}

// SubtractFrom is AddTo's opposite: it takes each entry i of b from
// cur[groups[i]]. A store that holds a day and some of its hours can sum
// most of a day as the day less its other hours, unless the day's block is
// Saturated: a saturated sum less a part is not the sum of the rest.
func SubtractFrom[S ~[NumSums]int64](b *Block, cur []S, groups []int32) {
	for c := range b.cols {
		if col := b.cols[c].i32; col != nil {
			subtractColumn(cur, groups, col, c)
		} else if col := b.cols[c].i64; col != nil {
			subtractColumn(cur, groups, col, c)
		}
	}
}

// addColumn adds column c of a block to the sums of its entries' groups.
func addColumn[S ~[NumSums]int64, T int32 | int64](cur []S, groups []int32, col []T, c int) {
	groups = groups[:len(col)]
	for i, v := range col {
		if g := groups[i]; g >= 0 {
			cur[g][c] = allot.SatAdd(cur[g][c], int64(v))
		}
	}
}

// subtractColumn takes column c of a block from the sums of its entries' groups.
func subtractColumn[S ~[NumSums]int64, T int32 | int64](cur []S, groups []int32, col []T, c int) {
	groups = groups[:len(col)]
	for i, v := range col {
		if g := groups[i]; g >= 0 {
			cur[g][c] = allot.SatAdd(cur[g][c], -max(int64(v), -math.MaxInt64))
		}
	}
}

// Builder collects a unit's entries, in attribution order, into a Block.
// The zero value is ready to use, and may be reused after each Build.
type Builder struct {
	attrs []int64
	sums  []Sums
}

// Add appends an entry. Entries may come in any order; each attribution
// at most once.
func (bb *Builder) Add(attr int64, s *Sums) {
	bb.attrs = append(bb.attrs, attr)
	bb.sums = append(bb.sums, *s)
}

// Len is the number of entries added since the last Build.
func (bb *Builder) Len() int { return len(bb.attrs) }

// Build returns the block of the entries added since the last Build, in
// attribution order, and starts over. An attribution id outside [0,
// MaxInt32], or added twice, is an error.
func (bb *Builder) Build() (*Block, error) {
	n := len(bb.attrs)
	b := &Block{attrs: make([]int32, n)}
	defer func() { bb.attrs, bb.sums = bb.attrs[:0], bb.sums[:0] }()
	if !slices.IsSorted(bb.attrs) {
		bb.sort()
	}
	for i, a := range bb.attrs {
		if a < 0 || a > math.MaxInt32 {
			return nil, fmt.Errorf("attribution id %d out of range", a)
		}
		if i > 0 && a == bb.attrs[i-1] {
			return nil, fmt.Errorf("attribution id %d added twice", a)
		}
		b.attrs[i] = int32(a)
	}
	for c := range b.cols {
		lo, hi, neg, pos := int64(0), int64(0), int64(0), int64(0)
		for i := range bb.sums {
			v := bb.sums[i][c]
			lo, hi = min(lo, v), max(hi, v)
			if v > 0 {
				pos = allot.SatAdd(pos, v)
			} else {
				neg = allot.SatAdd(neg, v)
			}
		}
		b.saturated = b.saturated || pos == math.MaxInt64 || neg <= -math.MaxInt64
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

// sort puts the entries in attribution order.
func (bb *Builder) sort() {
	order := make([]int32, len(bb.attrs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int { return cmp.Compare(bb.attrs[i], bb.attrs[j]) })
	attrs, sums := make([]int64, len(order)), make([]Sums, len(order))
	for i, j := range order {
		attrs[i], sums[i] = bb.attrs[j], bb.sums[j]
	}
	bb.attrs, bb.sums = attrs, sums
}

// entryOverhead is what an entry costs the cache beside its block.
const entryOverhead = 96

// Cache holds blocks by unit, with their versions, least recently used
// first out once over its byte budget. Safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	m     map[Key]*entry
	lru   entry // sentinel: lru.next is the most recently used
	bytes int64
	limit int64

	// loading holds the units a report is reading from the database, so
	// that reports started together (an overview runs several) read each
	// unit once: the others wait for it and find it here.
	loading map[Key]chan struct{}
}

type entry struct {
	key        Key
	version    int64
	block      *Block
	size       int64
	prev, next *entry
}

// New returns an empty cache that holds at most limit bytes of blocks.
func New(limit int64) *Cache {
	c := &Cache{m: map[Key]*entry{}, limit: limit, loading: map[Key]chan struct{}{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Get returns the block of k at version v, if held.
func (c *Cache) Get(k Key, v int64) *Block {
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

// Find is Get for a report's unit: a report that sums an hour over every
// attribution (an HourTotal unit) can use the hour's full block, at the
// same version, as well as its total.
func (c *Cache) Find(k Key, v int64, timeOnly bool) *Block {
	b := c.Get(k, v)
	if b == nil && timeOnly && k.Kind == HourTotal {
		b = c.Get(Key{Kind: Hour, N: k.N}, v)
	}
	return b
}

// Put stores b as k's block at version v, unless a newer version is held
// (versions only grow), then drops the least recently used blocks over
// the budget. A block larger than a quarter of the budget is not kept: it
// would evict too much for one unit.
func (c *Cache) Put(k Key, v int64, b *Block) {
	size := b.Bytes() + entryOverhead
	if size > c.limit/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		if e.version > v {
			return
		}
		c.remove(e)
	}
	e := &entry{key: k, version: v, block: b, size: size}
	c.m[k] = e
	c.pushFront(e)
	c.bytes += size
	for c.bytes > c.limit && c.lru.prev != &c.lru {
		c.remove(c.lru.prev)
	}
}

// Claim marks the keys nobody is loading as loaded by the caller, who must
// Release them, and returns them along with the keys others are loading
// and a channel closed when each is done.
func (c *Cache) Claim(keys []Key) (mine []Key, others map[Key]chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if ch, ok := c.loading[k]; ok {
			if others == nil {
				others = map[Key]chan struct{}{}
			}
			others[k] = ch
			continue
		}
		c.loading[k] = make(chan struct{})
		mine = append(mine, k)
	}
	return mine, others
}

// Release ends the caller's loading of keys (claimed by Claim).
func (c *Cache) Release(keys []Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		close(c.loading[k])
		delete(c.loading, k)
	}
}

// Clear drops every block.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.bytes = 0
}

// Bytes is the memory the held blocks take, as counted against the limit.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Limit is the most memory the cache holds.
func (c *Cache) Limit() int64 { return c.limit }

func (c *Cache) remove(e *entry) {
	c.unlink(e)
	delete(c.m, e.key)
	c.bytes -= e.size
}

func (c *Cache) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *Cache) pushFront(e *entry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}
