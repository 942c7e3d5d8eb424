package rollup

import (
	"slices"

	"github.com/allot-dev/allot/internal/rollupcache"
)

// grouper merges the blocks of a report's units into the report's groups.
// Each attribution is resolved once (resolveKey) to a group number, or to
// "filtered out", and remembered in a slice by attribution id. Units are
// added in time order, so a time bucket's units come one after the other:
// they are summed per group number in a dense slice, and the bucket's
// groups are written out when the next starts. Every sum saturates at the
// int64 range (allot.SatAdd), as the stored rollups do.
type grouper struct {
	// resolveKey returns the group key of an attribution; keep is false
	// when the report's filters leave it out, known false when the store's
	// attribution cache lacks it (noted in unknown; the store refreshes
	// its cache and the units are summed again).
	resolveKey func(attr int32) (key groupKey, keep, known bool)
	// timeOnly puts every entry in one group (no dimension, no filter).
	timeOnly bool

	groupOf  []int32         // by attribution: 0 not resolved yet, -1 filtered out, else group number + 1
	groupBig map[int32]int32 // the same for ids too large for groupOf
	keys     []groupKey      // by group number
	keyIndex map[groupKey]int32
	unknown  []int32 // attributions resolveKey did not know, each once
	missed   map[int32]bool
	bucket   int64              // the time bucket being summed
	cur      []rollupcache.Sums // its sums by group number
	hit      []bool             // its groups that have entries
	day      []rollupcache.Sums // a day to subtract hours from, by group number, until merged into cur
	dayHit   []bool
	inDay    bool // day holds a day
	gi, idx  []int32
	out      []groupSums // the finished groups
}

// groupSums is one finished group: a group number and a time bucket (0,
// the unix day or the unix hour) with their sums.
type groupSums struct {
	group  int32
	bucket int64
	sums   rollupcache.Sums
}

// maxDenseAttr bounds the slice of resolved attributions: ids are dense
// from 1, so it is never reached in practice.
const maxDenseAttr = 1 << 24

// reset forgets every group, to add the units again.
func (g *grouper) reset() {
	clear(g.groupOf)
	g.groupBig = nil
	g.keys = g.keys[:0]
	g.keyIndex = map[groupKey]int32{}
	g.unknown, g.missed = nil, nil
	g.bucket, g.inDay = 0, false
	g.cur, g.hit, g.out = g.cur[:0], g.hit[:0], g.out[:0]
	g.day, g.dayHit = g.day[:0], g.dayHit[:0]
}

// reserve sizes the memory of resolved attributions for ids up to maxID.
func (g *grouper) reserve(maxID int64) {
	if n := int(min(maxID+1, maxDenseAttr)); len(g.groupOf) < n {
		g.groupOf = append(g.groupOf, make([]int32, n-len(g.groupOf))...)
	}
}

// group returns the group number of k, adding the group if new.
func (g *grouper) group(k groupKey) int32 {
	n, ok := g.keyIndex[k]
	if !ok {
		n = int32(len(g.keys))
		g.keys = append(g.keys, k)
		g.keyIndex[k] = n
	}
	return n
}

// resolve returns the group number of an attribution, -1 if it is
// filtered out or unknown, and remembers it (unknown ones excepted).
func (g *grouper) resolve(attr int32) int32 {
	if g.groupBig != nil {
		if v, ok := g.groupBig[attr]; ok {
			return max(v-1, -1)
		}
	}
	key, keep, known := g.resolveKey(attr)
	if !known {
		if g.missed == nil {
			g.missed = map[int32]bool{}
		}
		if !g.missed[attr] {
			g.missed[attr] = true
			g.unknown = append(g.unknown, attr)
		}
		return -1
	}
	n, v := int32(-1), int32(-1) // v: -1 remembers "filtered out"
	if keep {
		n = g.group(key)
		v = n + 1
	}
	switch {
	case attr >= 0 && attr < maxDenseAttr:
		if int(attr) >= len(g.groupOf) {
			size := min(max(int(attr)+1, 2*len(g.groupOf), 1024), maxDenseAttr)
			g.groupOf = append(g.groupOf, make([]int32, size-len(g.groupOf))...)
		}
		g.groupOf[attr] = v
	default:
		if g.groupBig == nil {
			g.groupBig = map[int32]int32{}
		}
		g.groupBig[attr] = v
	}
	return n
}

// add adds a unit's block to the time bucket given. A day followed by
// hours to subtract (base) is summed apart, the hours (subtract) are taken
// from it, and the rest merged into the bucket by the next add or flush:
// the day's sums are exact (ReportFill leaves no Saturated day to
// subtract from), so the day less its hours is too, however large the
// bucket's sums.
func (g *grouper) add(b *rollupcache.Block, bucket int64, base, subtract bool) {
	if bucket != g.bucket {
		g.flush()
		g.bucket = bucket
	}
	if !subtract {
		g.mergeDay()
	}
	cur, hit := g.cur, g.hit
	if base || subtract {
		g.inDay = true
		cur, hit = g.day, g.dayHit
	}
	attrs := b.Attrs()
	n := len(attrs)
	if n == 0 {
		return
	}
	if cap(g.gi) < n {
		g.gi = make([]int32, n)
	}
	gi := g.gi[:n]
	if g.timeOnly {
		g.group(groupKey{})
		clear(gi) // everything lands in group 0
	} else {
		groupOf := g.groupOf
		for i, a := range attrs {
			if int(a) < len(groupOf) && groupOf[a] != 0 {
				gi[i] = max(groupOf[a]-1, -1)
			} else {
				gi[i] = g.resolve(a)
				groupOf = g.groupOf
			}
		}
	}
	if k := len(g.keys); len(g.cur) < k {
		g.cur = slices.Grow(g.cur, k-len(g.cur))[:k]
		g.hit = slices.Grow(g.hit, k-len(g.hit))[:k]
		g.day = slices.Grow(g.day, k-len(g.day))[:k]
		g.dayHit = slices.Grow(g.dayHit, k-len(g.dayHit))[:k]
		cur, hit = g.cur, g.hit
		if base || subtract {
			cur, hit = g.day, g.dayHit
		}
	}
	if subtract {
		rollupcache.SubtractFrom(b, cur, gi)
		return
	}
	if g.timeOnly {
		hit[0] = true
		rollupcache.AddAll(b, &cur[0])
		return
	}
	// A filtered report keeps few entries: add those alone.
	idx := g.idx[:0]
	for i, n := range gi {
		if n >= 0 {
			hit[n] = true
			idx = append(idx, int32(i))
		}
	}
	g.idx = idx
	if len(idx) < n/8 {
		rollupcache.AddEntries(b, cur, gi, idx)
	} else {
		rollupcache.AddTo(b, cur, gi)
	}
}

// mergeDay merges a day less its hours into the bucket. Every rollup
// entry counts at least one request, so a group left with none had
// entries only in the hours subtracted: it is not in the range.
func (g *grouper) mergeDay() {
	if !g.inDay {
		return
	}
	for n, ok := range g.dayHit {
		if ok && g.day[n][rollupcache.Requests] != 0 {
			ReportMerge(&g.cur[n], &g.day[n])
			g.hit[n] = true
		}
		g.day[n], g.dayHit[n] = rollupcache.Sums{}, false
	}
	g.inDay = false
}

// flush writes out the current bucket's groups.
func (g *grouper) flush() {
	g.mergeDay()
	k := 0
	for _, ok := range g.hit {
		if ok {
			k++
		}
	}
	g.out = slices.Grow(g.out, k)
	for n, ok := range g.hit {
		if ok {
			g.out = append(g.out, groupSums{int32(n), g.bucket, g.cur[n]})
			g.cur[n], g.hit[n] = rollupcache.Sums{}, false
		}
	}
}

// addOpen merges the groups a store summed itself into the units' groups.
func (g *grouper) addOpen(rows []ReportOpen) {
	if len(rows) == 0 {
		return
	}
	type at struct {
		group  int32
		bucket int64
	}
	index := make(map[at]int, len(g.out)+len(rows))
	for i, o := range g.out {
		index[at{o.group, o.bucket}] = i
	}
	for i := range rows {
		o := &rows[i]
		k := at{g.group(o.Key), o.Bucket}
		j, ok := index[k]
		if !ok {
			j = len(g.out)
			g.out = append(g.out, groupSums{group: k.group, bucket: k.bucket})
			index[k] = j
		}
		ReportMerge(&g.out[j].sums, &o.Sums)
	}
}
