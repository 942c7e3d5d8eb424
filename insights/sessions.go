package insights

import "github.com/allot-dev/allot"

// sessionSet is a scope's sessions as the session recommendations read
// them. An org's month holds millions of sessions (one per session and
// InsightKey): held as SessionUsage structs they took gigabytes, so each
// is a small row without pointers naming its key by index, and only the
// sessions whose input grew turn over turn (context_growth's candidates,
// a few) are kept whole.
type sessionSet struct {
	keys    []allot.InsightKey
	index   map[allot.InsightKey]int32 // keys by value
	byID    []int32                    // keys by the id a store passes, +1 (0: not seen)
	bigIDs  map[int]int32              // the same for ids too large for byID
	rows    [][]sessionRow             // blocks of sessionBlock rows: see row
	n       int                        // rows in all
	growing []growthRow
}

// sessionBlock is how many rows a block of sessionSet.rows holds. Blocks
// are never copied as the set grows: one slice of millions of rows,
// grown by append, copied and allocated five times its final size.
const sessionBlock = 1 << 14

// row returns the i-th session row.
func (ss *sessionSet) row(i int) *sessionRow { return &ss.rows[i/sessionBlock][i%sessionBlock] }

// growthRow is what context_growth reads of a session.
type growthRow struct {
	key                                  int32
	requests, firstInput, lastInput      int64
	input, cacheRead, cacheWrite5m, cw1h int64 // input kinds of its calls
	cost                                 allot.Money
}

// sessionRow is one session's size and cost; key indexes sessionSet.keys.
type sessionRow struct {
	key      int32
	requests int64
	tokens   int64 // input + output
	cost     allot.Money
}

func newSessionSet() *sessionSet {
	return &sessionSet{index: map[allot.InsightKey]int32{}, bigIDs: map[int]int32{}}
}

// maxDenseKeyID bounds sessionSet.byID.
const maxDenseKeyID = 1 << 22

// add records s, which the caller may reuse afterwards; id names its
// InsightKey as a store's EachSession does, or is -1 when unknown.
func (ss *sessionSet) add(id int, s *allot.SessionUsage) {
	var k int32
	switch {
	case id >= 0 && id < len(ss.byID) && ss.byID[id] != 0:
		k = ss.byID[id] - 1
	case id >= maxDenseKeyID:
		var ok bool
		if k, ok = ss.bigIDs[id]; !ok {
			k = ss.keyOf(&s.InsightKey)
			ss.bigIDs[id] = k
		}
	default:
		k = ss.keyOf(&s.InsightKey)
		if id >= 0 {
			if id >= len(ss.byID) {
				ss.byID = append(ss.byID, make([]int32, id+1-len(ss.byID))...)
			}
			ss.byID[id] = k + 1
		}
	}
	if ss.n%sessionBlock == 0 {
		ss.rows = append(ss.rows, make([]sessionRow, 0, sessionBlock))
	}
	last := &ss.rows[len(ss.rows)-1]
	*last = append(*last, sessionRow{key: k, requests: s.Requests, tokens: s.Tokens.Total(), cost: s.Cost})
	ss.n++
	if mayGrow(s) {
		ss.growing = append(ss.growing, growthRow{key: k, requests: s.Requests, firstInput: s.FirstInput, lastInput: s.LastInput,
			input: s.Tokens.Input, cacheRead: s.Tokens.CacheRead, cacheWrite5m: s.Tokens.CacheWrite5m, cw1h: s.Tokens.CacheWrite1h, cost: s.Cost})
	}
}

// keyOf returns the index of key in ss.keys, adding it if new.
func (ss *sessionSet) keyOf(key *allot.InsightKey) int32 {
	k, ok := ss.index[*key]
	if !ok {
		k = int32(len(ss.keys))
		ss.keys = append(ss.keys, *key)
		ss.index[*key] = k
	}
	return k
}

// mayGrow is the part of context_growth's test that needs no options:
// most turns grew the input, and the last call sent at least twice the
// first's.
func mayGrow(s *allot.SessionUsage) bool {
	return s.Growing*10 >= 8*(s.Requests-1) && s.LastInput >= 2*s.FirstInput
}

// sessionsOf returns d's sessions as a sessionSet: the one Load filled,
// or one made from d.Sessions.
func sessionsOf(d *Data) *sessionSet {
	if d.sessions != nil {
		return d.sessions
	}
	ss := newSessionSet()
	for i := range d.Sessions {
		ss.add(-1, &d.Sessions[i])
	}
	return ss
}
