package otlp

import (
	"crypto/sha256"
	"sync"
	"time"
)

// seriesTable remembers the last value of each cumulative series, to turn
// cumulative points into deltas.
type seriesTable struct {
	mu      sync.Mutex
	m       map[string]seriesPoint
	started uint64 // unix nanoseconds when the receiver started
}

type seriesPoint struct {
	start, time uint64
	value       int64
	seen        int64 // unix seconds, for eviction
}

// maxSeriesKey is the longest series identity kept as is; longer ones are
// kept as their SHA-256.
const maxSeriesKey = 256

// maxSeries bounds the table; stale series (a day unseen) are evicted
// beyond it.
const maxSeries = 500_000

func newSeriesTable(started time.Time) seriesTable {
	return seriesTable{m: map[string]seriesPoint{}, started: uint64(started.UnixNano())}
}

// delta turns a cumulative point (value v over (start, at]) into the
// increase since the series' last point and the time that increase starts
// from. ok is false when there is nothing new: a replayed or out-of-order
// point, no increase, or the first point of a series older than the
// receiver, which only sets the baseline. (Counting such a series from
// its start would count again what a previous allot process counted;
// the baseline loses at most one export interval instead.)
func (t *seriesTable) delta(key string, start, at uint64, v int64, now time.Time) (d int64, from uint64, ok bool) {
	if len(key) > maxSeriesKey {
		// A series' identity is all its attributes, any of which may be
		// long: the table keeps their hash instead, so its memory stays
		// bounded by maxSeries.
		sum := sha256.Sum256([]byte(key))
		key = string(sum[:])
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, seen := t.m[key]
	if seen && at <= prev.time && start == prev.start {
		return 0, 0, false
	}
	t.evictLocked(now)
	t.m[key] = seriesPoint{start: start, time: at, value: v, seen: now.Unix()}
	switch {
	case seen && start == prev.start && v >= prev.value:
		d, from = v-prev.value, prev.time
	case !seen && (start == 0 || start < t.started):
		return 0, 0, false
	default: // a new series, or one that restarted
		d, from = v, start
	}
	return d, from, d > 0
}

func (t *seriesTable) evictLocked(now time.Time) {
	if len(t.m) < maxSeries {
		return
	}
	stale := now.Add(-24 * time.Hour).Unix()
	for k, p := range t.m {
		if p.seen < stale {
			delete(t.m, k)
		}
	}
	if len(t.m) >= maxSeries {
		clear(t.m)
	}
}
