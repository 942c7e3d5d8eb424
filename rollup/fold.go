package rollup

import "slices"

// Microseconds per hour and day: rows are keyed by unix hour, packed days
// by unix day.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// CallKey is the key of a Calls row: the unix hour, attribution, session
// (0 for none) and counted system prompt (0 for none).
type CallKey struct{ Hour, Attr, Session, FP int64 }

// ExtrasKey is the key of an Extras row: the unix hour and attribution.
type ExtrasKey struct{ Hour, Attr int64 }

// Batch is the hourly rows that folded events make, in first-seen order,
// and the unix days they fall on.
type Batch struct {
	calls      map[CallKey]int // index in CallKeys and CallVals
	CallKeys   []CallKey
	CallVals   []Calls
	extras     map[ExtrasKey]int
	ExtrasKeys []ExtrasKey
	ExtrasVals []Extras
	Days       []int64
}

// newBatch sizes a batch for about n events.
func newBatch(n int) *Batch {
	return &Batch{calls: make(map[CallKey]int, n/2), CallKeys: make([]CallKey, 0, n/2), CallVals: make([]Calls, 0, n/2),
		extras: map[ExtrasKey]int{}}
}

// Fold sorts evs by time (stably: calls at the same microsecond keep their
// order) and folds them into hourly rows, finding repeats and known
// prompts with check. A call with a session or a known system prompt adds
// to its Calls row (a prompt's first sight is kept under no prompt); a
// failed, repeated or unlimited call to its Extras row. Rows continue a
// stored row of the same key as the stores' upserts say (Follow).
func Fold(evs []Event, check *Check) *Batch {
	// Sort positions, not the events: they are large and mostly in order.
	order := make([]int32, len(evs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch ta, tb := evs[a].T, evs[b].T; {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	b := newBatch(len(evs))
	for _, i := range order {
		e := evs[i]
		if !check.KnownPrompt(&e) {
			e.SystemFP = 0 // a first sight: kept with the session's calls
		}
		b.add(&e, check.Repeat(&e))
	}
	return b
}

// add counts e, which must come no earlier than the events added before it
// with the same key; dup says it repeats a recent call.
func (b *Batch) add(e *Event, dup bool) {
	hour, day := e.T/usPerHour, e.T/usPerDay
	if n := len(b.Days); n == 0 || b.Days[n-1] != day {
		if !slices.Contains(b.Days, day) {
			b.Days = append(b.Days, day)
		}
	}
	if e.Session != 0 || e.SystemFP != 0 {
		row(b.calls, &b.CallKeys, &b.CallVals, CallKey{hour, e.Attr, e.Session, e.SystemFP}).Add(e.T, &e.Tokens, e.Cost)
	}
	if !Counts(e.Status, e.MaxTokens, dup) {
		return
	}
	row(b.extras, &b.ExtrasKeys, &b.ExtrasVals, ExtrasKey{hour, e.Attr}).Add(e, dup)
}

// row returns the row of key k, appending a zero row to keys and vals in
// first-seen order (and its index to index) if k is new. The pointer is
// good until the next append.
func row[K comparable, V any](index map[K]int, keys *[]K, vals *[]V, k K) *V {
	i, ok := index[k]
	if !ok {
		i = len(*vals)
		index[k] = i
		*keys = append(*keys, k)
		var zero V
		*vals = append(*vals, zero)
	}
	return &(*vals)[i]
}
