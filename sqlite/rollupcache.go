package sqlite

import "github.com/allot-dev/allot/internal/rollupcache"

// Reports read the rollups of a range as units: whole past days (from
// daily_totals) and single hours (from rollups_hourly). A unit, once read,
// stays in memory as a rollupBlock, tagged with its version from
// rollup_hour_versions or rollup_day_versions (migrations/0005), which
// every write to its rollups bumps in the same transaction. A report reads
// the versions of its units in its read transaction and takes each unit
// whose version matches from memory, so only what changed since (the open
// hour, a day that got late events) is read from the database again, and
// the report stays exactly the rollups of its snapshot, whatever other
// connections or processes write meanwhile. The blocks and the cache are
// internal/rollupcache's, shared with the postgres store.

// reportCacheBytes bounds the memory the blocks take; the least recently
// used go first. A day of a 1,000-person org (about 24,000 attributions)
// takes about 0.7 MB.
var reportCacheBytes int64 = 256 << 20

// unitKind tells what a cached block holds.
type unitKind = rollupcache.Kind

const (
	unitDay       = rollupcache.Day       // a day's rollups per attribution
	unitHour      = rollupcache.Hour      // an hour's rollups per attribution
	unitHourTotal = rollupcache.HourTotal // an hour's rollups summed over all attributions (entry attr 0)
)

// unitKey names a cached block: its kind and its unix day or hour.
type unitKey = rollupcache.Key

// rollupBlock is one unit's rollups in memory (see rollupcache.Block).
type rollupBlock = rollupcache.Block

// blockBuilder collects a unit's entries, in attribution order, into a block.
type blockBuilder = rollupcache.Builder

// rollupCache holds blocks by unit, with their versions (see
// rollupcache.Cache). Safe for concurrent use.
type rollupCache struct{ *rollupcache.Cache }

func newRollupCache(limit int64) *rollupCache { return &rollupCache{rollupcache.New(limit)} }

// clear drops every block.
func (c *rollupCache) clear() { c.Clear() }
