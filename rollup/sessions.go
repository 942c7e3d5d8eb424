package rollup

// CallSums sums Calls per key in first-seen order: a period's prompts.
type CallSums[K comparable] struct {
	Index map[K]int
	Keys  []K
	Vals  []Calls
}

// NewCallSums returns empty sums.
func NewCallSums[K comparable]() *CallSums[K] { return &CallSums[K]{Index: map[K]int{}} }

// Add merges v under k: following the stored calls (Follow) or
// interleaved with them (Merge).
func (s *CallSums[K]) Add(k K, v *Calls, follows bool) {
	if i, ok := s.Index[k]; ok {
		if follows {
			Follow(&s.Vals[i], v)
		} else {
			Merge(&s.Vals[i], v)
		}
		return
	}
	s.Index[k] = len(s.Vals)
	s.Keys = append(s.Keys, k)
	s.Vals = append(s.Vals, *v)
}

// SessionTable sums Calls per (canonical attribution, session) in
// first-seen order. Session ids are small and dense, so an entry is found
// through a slot per session id heading the chain of that session's
// entries (one per attribution, rarely more than a few) instead of a hash
// map: an org's month holds millions of session entries, and hashing them
// was most of the cost of its insights.
type SessionTable struct {
	head []int32         // by session id: 1 + the index of its first entry, 0 for none
	big  map[int64]int32 // the same for session ids beyond MaxDenseSession, or all when sparse
	// sparse keeps every slot in big (few entries over a wide id range).
	sparse bool
	Attr   []int64 // by entry
	Sess   []int64
	next   []int32 // by entry: 1 + the index of the session's next entry, 0 for none
	Vals   []Calls
}

// MaxDenseSession bounds the slots kept in an array; ids are dense from 1,
// so larger ones (kept in a map) do not occur in practice.
const MaxDenseSession = 1 << 26

// DenseSessions reports whether a table of about n entries of session ids
// up to maxID should keep its slots in an array spanning every id: not
// when n is small against maxID (one person's sessions among the org's).
func DenseSessions(maxID int64, n int) bool { return int64(n)*16 >= maxID }

// NewSessionTable returns a table for about n entries of session ids up
// to maxID (larger ones are fine, only slower), with its slots in an
// array if dense, else in a map.
func NewSessionTable(maxID int64, n int, dense bool) *SessionTable {
	t := &SessionTable{Attr: make([]int64, 0, n), Sess: make([]int64, 0, n), next: make([]int32, 0, n), Vals: make([]Calls, 0, n)}
	if dense {
		t.head = make([]int32, min(maxID+1, MaxDenseSession))
	} else {
		t.sparse, t.big = true, map[int64]int32{}
	}
	return t
}

// Add merges v into the entry of (attr, session): after its calls if
// follows (Follow), else interleaved with them (Merge); a new entry is
// appended.
func (t *SessionTable) Add(attr, session int64, v *Calls, follows bool) {
	dense := !t.sparse && session >= 0 && session < MaxDenseSession
	var h int32
	if dense {
		if session >= int64(len(t.head)) {
			n := min(max(session+1, 2*int64(len(t.head))), MaxDenseSession)
			t.head = append(t.head, make([]int32, n-int64(len(t.head)))...)
		}
		h = t.head[session]
	} else {
		h = t.big[session]
	}
	prev := int32(0)
	for i := h; i != 0; i = t.next[i-1] {
		if t.Attr[i-1] == attr {
			if follows {
				Follow(&t.Vals[i-1], v)
			} else {
				Merge(&t.Vals[i-1], v)
			}
			return
		}
		prev = i
	}
	t.Attr = append(t.Attr, attr)
	t.Sess = append(t.Sess, session)
	t.next = append(t.next, 0)
	t.Vals = append(t.Vals, *v)
	idx := int32(len(t.Vals))
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

// Find returns the index of the entry of (attr, session), or -1.
func (t *SessionTable) Find(attr, session int64) int {
	var h int32
	switch {
	case !t.sparse && session >= 0 && session < int64(len(t.head)):
		h = t.head[session]
	case t.sparse || session >= MaxDenseSession:
		h = t.big[session]
	}
	for i := h; i != 0; i = t.next[i-1] {
		if t.Attr[i-1] == attr {
			return int(i - 1)
		}
	}
	return -1
}

// Reset empties the table, clearing only the slots its entries used.
func (t *SessionTable) Reset() {
	for _, s := range t.Sess {
		if s >= 0 && s < int64(len(t.head)) {
			t.head[s] = 0
		}
	}
	clear(t.big)
	t.Attr, t.Sess, t.next, t.Vals = t.Attr[:0], t.Sess[:0], t.next[:0], t.Vals[:0]
}
