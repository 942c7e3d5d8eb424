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
	index   map[allot.InsightKey]int32  // keys by value
	byPtr   map[*allot.InsightKey]int32 // keys by the pointer a store passes
	rows    []sessionRow
	growing []growthRow
	lastPtr *allot.InsightKey // the key pointer of the session added last
	last    int32             // and its index
}

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
	return &sessionSet{index: map[allot.InsightKey]int32{}, byPtr: map[*allot.InsightKey]int32{}, last: -1}
}

// add records s, which the caller may reuse afterwards; key is its
// InsightKey, the same pointer for all sessions of that key when they
// come from a store's EachSession.
func (ss *sessionSet) add(key *allot.InsightKey, s *allot.SessionUsage) {
	k := ss.last
	if key != ss.lastPtr {
		var ok bool
		if k, ok = ss.byPtr[key]; !ok {
			if k, ok = ss.index[*key]; !ok {
				k = int32(len(ss.keys))
				ss.keys = append(ss.keys, *key)
				ss.index[*key] = k
			}
			ss.byPtr[key] = k
		}
		ss.lastPtr, ss.last = key, k
	}
	ss.rows = append(ss.rows, sessionRow{key: k, requests: s.Requests, tokens: s.Tokens.Total(), cost: s.Cost})
	if mayGrow(s) {
		ss.growing = append(ss.growing, growthRow{key: k, requests: s.Requests, firstInput: s.FirstInput, lastInput: s.LastInput,
			input: s.Tokens.Input, cacheRead: s.Tokens.CacheRead, cacheWrite5m: s.Tokens.CacheWrite5m, cw1h: s.Tokens.CacheWrite1h, cost: s.Cost})
	}
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
		ss.add(&d.Sessions[i].InsightKey, &d.Sessions[i])
	}
	return ss
}
