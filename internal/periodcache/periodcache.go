// Package periodcache keeps values summed over runs of days, each standing
// for as long as the versions its days had when it was summed: both stores
// keep the org's insight sums over past days this way, and every change to
// a day's events gives the day a new version in the transaction that makes
// it, so a kept value is never used past a change.
package periodcache

import (
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultKeep is how many values a Cache keeps when Keep is 0: the
// periods in use (30 days, 7 days, the previous period...) are few.
const DefaultKeep = 4

// Cache keeps the last few values, most recently used first. The zero
// Cache is ready to use.
type Cache[V any] struct {
	// Keep is how many values are kept; 0 for DefaultKeep.
	Keep int

	mu      sync.Mutex
	periods []*period[V]
	hits    atomic.Int64
}

// period is a value summed over the days [from, to) at versions.
type period[V any] struct {
	from, to int64
	versions []int64
	value    V
}

// Get returns the value of [from, to) summed at versions, if kept. The
// value is shared: callers must not change it.
func (c *Cache[V]) Get(from, to int64, versions []int64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.periods {
		if p.from == from && p.to == to && slices.Equal(p.versions, versions) {
			copy(c.periods[1:i+1], c.periods[:i])
			c.periods[0] = p
			c.hits.Add(1)
			return p.value, true
		}
	}
	var zero V
	return zero, false
}

// Put keeps v, the value of [from, to) summed after reading versions (so
// it is never older than its key), in place of any other of [from, to).
func (c *Cache[V]) Put(from, to int64, versions []int64, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.periods = slices.DeleteFunc(c.periods, func(p *period[V]) bool { return p.from == from && p.to == to })
	c.periods = slices.Insert(c.periods, 0, &period[V]{from: from, to: to, versions: versions, value: v})
	keep := c.Keep
	if keep == 0 {
		keep = DefaultKeep
	}
	if len(c.periods) > keep {
		c.periods = c.periods[:keep]
	}
}

// Len is how many values are kept.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.periods)
}

// Hits is how many Gets found their value, for tests.
func (c *Cache[V]) Hits() int64 { return c.hits.Load() }
