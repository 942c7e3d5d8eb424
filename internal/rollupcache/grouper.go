package rollupcache

import "slices"

// Grouper sums the blocks of a report's units into the report's groups,
// for either store. Each attribution is resolved once (Resolve) to a
// group number, or to "filtered out", and remembered in a slice by
// attribution id. Units are added in time order, so a time bucket's units
// come one after the other: they are summed per group number in a dense
// slice, and the bucket's groups are written out when the next starts.
type Grouper[K comparable] struct {
	// Resolve returns the group key of an attribution; keep is false when
	// the report's filters leave it out, known false when the store's
	// attribution cache lacks it (noted in Unknown; the store refreshes
	// its cache and sums again).
	Resolve func(attr int32) (key K, keep, known bool)
	// TimeOnly puts every entry in one group (no dimension, no filter).
	TimeOnly bool

	groupOf    []int32         // by attribution: 0 not resolved yet, -1 filtered out, else group number + 1
	groupBig   map[int32]int32 // the same for ids too large for groupOf
	keys       []K             // by group number
	keyIndex   map[K]int32
	unknown    []int32 // attributions Resolve did not know, each once
	missed     map[int32]bool
	bucket     int64  // the time bucket being summed
	cur        []Sums // its sums by group number
	hit        []bool // its groups that have entries
	subtracted bool   // blocks were subtracted from it
	gi, idx    []int32
	out        []GroupSums // the finished groups
}

// GroupSums is one finished group: a group number and a time bucket (0,
// the unix day or the unix hour) with their sums.
type GroupSums struct {
	Group  int32
	Bucket int64
	Sums   Sums
}

// maxDenseAttr bounds the slice of resolved attributions: ids are dense
// from 1, so it is never reached in practice.
const maxDenseAttr = 1 << 24

// Reset forgets every group, to add the units again.
func (g *Grouper[K]) Reset() {
	clear(g.groupOf)
	g.groupBig = nil
	g.keys = g.keys[:0]
	g.keyIndex = map[K]int32{}
	g.unknown, g.missed = nil, nil
	g.bucket, g.subtracted = 0, false
	g.cur, g.hit, g.out = g.cur[:0], g.hit[:0], g.out[:0]
}

// Reserve sizes the memory of resolved attributions for ids up to maxID.
func (g *Grouper[K]) Reserve(maxID int64) {
	if n := int(min(maxID+1, maxDenseAttr)); len(g.groupOf) < n {
		g.groupOf = append(g.groupOf, make([]int32, n-len(g.groupOf))...)
	}
}

// Group returns the group number of k, adding the group if new.
func (g *Grouper[K]) Group(k K) int32 {
	if g.keyIndex == nil {
		g.keyIndex = map[K]int32{}
	}
	n, ok := g.keyIndex[k]
	if !ok {
		n = int32(len(g.keys))
		g.keys = append(g.keys, k)
		g.keyIndex[k] = n
	}
	return n
}

// Keys returns the group keys by group number.
func (g *Grouper[K]) Keys() []K { return g.keys }

// Out returns the finished groups (Flush first); callers may change their
// sums in place.
func (g *Grouper[K]) Out() []GroupSums { return g.out }

// AppendOut adds a finished group (sums computed elsewhere, e.g. by SQL)
// and returns its index in Out.
func (g *Grouper[K]) AppendOut(s GroupSums) int {
	g.out = append(g.out, s)
	return len(g.out) - 1
}

// Unknown returns the attributions Resolve did not know.
func (g *Grouper[K]) Unknown() []int32 { return g.unknown }

// resolve returns the group number of an attribution, -1 if it is
// filtered out or unknown, and remembers it (unknown ones excepted).
func (g *Grouper[K]) resolve(attr int32) int32 {
	if g.groupBig != nil {
		if v, ok := g.groupBig[attr]; ok {
			return max(v-1, -1)
		}
	}
	key, keep, known := g.Resolve(attr)
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
		n = g.Group(key)
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

// Add adds a unit's block to the time bucket given, or subtracts it (an
// hour of a day added before, in the same bucket).
func (g *Grouper[K]) Add(b *Block, bucket int64, subtract bool) {
	if bucket != g.bucket {
		g.Flush()
		g.bucket = bucket
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
	if g.TimeOnly {
		var zero K
		g.Group(zero)
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
	}
	if subtract {
		g.subtracted = true
		SubtractFrom(b, g.cur, gi)
		return
	}
	if g.TimeOnly {
		g.hit[0] = true
		AddAll(b, &g.cur[0])
		return
	}
	// A filtered report keeps few entries: add those alone.
	hit, idx := g.hit, g.idx[:0]
	for i, n := range gi {
		if n >= 0 {
			hit[n] = true
			idx = append(idx, int32(i))
		}
	}
	g.idx = idx
	if len(idx) < n/8 {
		AddEntries(b, g.cur, gi, idx)
	} else {
		AddTo(b, g.cur, gi)
	}
}

// Flush writes out the current bucket's groups. Every rollup entry counts
// at least one request, so a group left with none after subtractions had
// entries only in the hours subtracted: it is not in the range.
func (g *Grouper[K]) Flush() {
	if g.subtracted {
		for n, ok := range g.hit {
			if ok && g.cur[n][Requests] == 0 {
				g.cur[n], g.hit[n] = Sums{}, false
			}
		}
		g.subtracted = false
	}
	k := 0
	for _, ok := range g.hit {
		if ok {
			k++
		}
	}
	g.out = slices.Grow(g.out, k)
	for n, ok := range g.hit {
		if ok {
			g.out = append(g.out, GroupSums{int32(n), g.bucket, g.cur[n]})
			g.cur[n], g.hit[n] = Sums{}, false
		}
	}
}
