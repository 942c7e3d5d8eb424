package sqlite

// sessionTable sums call entries per (canonical attribution, session) in
// first-seen order. Session dict ids are small and dense, so an entry is
// found through a slot per session id heading the chain of that session's
// entries (one per attribution, rarely more than a few) instead of a hash
// map: an org's month holds millions of session entries, and hashing them
// was most of the cost of its insights.
type sessionTable struct {
	head []int32         // by session id: 1 + the index of its first entry, 0 for none
	big  map[int64]int32 // the same for session ids beyond maxDenseSession, or all when sparse
	// sparse keeps every slot in big (few entries over a wide id range).
	sparse bool
	attr   []int64 // by entry
	sess   []int64
	next   []int32 // by entry: 1 + the index of the session's next entry, 0 for none
	vals   []callAgg
}

// maxDenseSession bounds head; dict ids are dense from 1, so larger ones
// (kept in big) do not occur in practice.
const maxDenseSession = 1 << 26

// denseSessions reports whether a table of about n entries of session ids
// up to maxID should keep its slots in an array spanning every id: not
// when n is small against maxID (one person's sessions among the org's).
func denseSessions(maxID int64, n int) bool { return int64(n)*16 >= maxID }

// newSessionTable returns a table for about n entries of session ids up
// to maxID (larger ones are fine, only slower), with its slots in an
// array if dense, else in a map.
func newSessionTable(maxID int64, n int, dense bool) *sessionTable {
	t := &sessionTable{attr: make([]int64, 0, n), sess: make([]int64, 0, n), next: make([]int32, 0, n), vals: make([]callAgg, 0, n)}
	if dense {
		t.head = make([]int32, min(maxID+1, maxDenseSession))
	} else {
		t.sparse, t.big = true, map[int64]int32{}
	}
	return t
}

// add merges v into the entry of (attr, session): after its calls if
// follows, else interleaved with them; a new entry is appended.
func (t *sessionTable) add(attr, session int64, v *callAgg, follows bool) {
	dense := !t.sparse && session >= 0 && session < maxDenseSession
	var h int32
	if dense {
		if session >= int64(len(t.head)) {
			n := min(max(session+1, 2*int64(len(t.head))), maxDenseSession)
			t.head = append(t.head, make([]int32, n-int64(len(t.head)))...)
		}
		h = t.head[session]
	} else {
		h = t.big[session]
	}
	prev := int32(0)
	for i := h; i != 0; i = t.next[i-1] {
		if t.attr[i-1] == attr {
			if follows {
				followCall(&t.vals[i-1], v)
			} else {
				mergeCall(&t.vals[i-1], v)
			}
			return
		}
		prev = i
	}
	t.attr = append(t.attr, attr)
	t.sess = append(t.sess, session)
	t.next = append(t.next, 0)
	t.vals = append(t.vals, *v)
	idx := int32(len(t.vals))
	switch {
	case prev != 0:
		t.next[prev-1] = idx
	case dense:
		t.head[session] = idx
	default:
		if t.big == nil {
			t.big = map[int64]int32{}
		}
		t.big[session] = idx
	}
}

// find returns the index of the entry of (attr, session), or -1.
func (t *sessionTable) find(attr, session int64) int {
	var h int32
	switch {
	case !t.sparse && session >= 0 && session < int64(len(t.head)):
		h = t.head[session]
	case t.sparse || session >= maxDenseSession:
		h = t.big[session]
	}
	for i := h; i != 0; i = t.next[i-1] {
		if t.attr[i-1] == attr {
			return int(i - 1)
		}
	}
	return -1
}

// reset empties the table, clearing only the slots its entries used.
func (t *sessionTable) reset() {
	for _, s := range t.sess {
		if s >= 0 && s < int64(len(t.head)) {
			t.head[s] = 0
		}
	}
	clear(t.big)
	t.attr, t.sess, t.next, t.vals = t.attr[:0], t.sess[:0], t.next[:0], t.vals[:0]
}
