package rollup

// Hour is one hour's rows: its Calls and Extras entries (keyed as DayCall
// and DayExtra without the hour). Calls or Extras is nil when not read.
type Hour struct {
	Calls  []DayCall
	Extras []DayExtra
}

// DayMerger joins hours, in hour order, into days: a call entry of a later
// hour follows the same entry's earlier hours (Follow), extras add up.
type DayMerger struct {
	Days   map[int64]*Day
	calls  map[int64]map[[3]int64]int // per day: (attr, session, fp) -> index in calls
	extras map[[2]int64]int           // (day, attr) -> index in extras
	keep   map[int64]bool             // attributions kept; nil: all
	sizes  map[int64][2]int           // per day: at most how many call and extras entries it gets
}

// NewDayMerger returns a merger keeping the entries of attrs, of all
// attributions if nil.
func NewDayMerger(attrs []int64) *DayMerger {
	m := &DayMerger{Days: map[int64]*Day{}, calls: map[int64]map[[3]int64]int{}, extras: map[[2]int64]int{}}
	if attrs != nil {
		m.keep = make(map[int64]bool, len(attrs))
		for _, a := range attrs {
			m.keep[a] = true
		}
	}
	return m
}

// Expect sizes the day of hour for h's rows as well, before any is added:
// the whole org's day is hundreds of thousands of entries, which grown
// one append at a time were copied over and over.
func (m *DayMerger) Expect(hour int64, h *Hour) {
	if m.sizes == nil {
		m.sizes = map[int64][2]int{}
	}
	day := floorDiv(hour, 24)
	n := m.sizes[day]
	m.sizes[day] = [2]int{n[0] + len(h.Calls), n[1] + len(h.Extras)}
}

func (m *DayMerger) dayOf(day int64) *Day {
	d := m.Days[day]
	if d == nil {
		n := m.sizes[day]
		d = &Day{Day: day, Calls: make([]DayCall, 0, n[0]), Extras: make([]DayExtra, 0, n[1])}
		m.Days[day] = d
		m.calls[day] = make(map[[3]int64]int, n[0])
	}
	return d
}

// Add joins one hour's rows, which must come after every hour added.
func (m *DayMerger) Add(hour int64, h *Hour) {
	d := m.dayOf(floorDiv(hour, 24))
	index := m.calls[d.Day]
	for i := range h.Calls {
		c := &h.Calls[i]
		if m.keep != nil && !m.keep[c.Attr] {
			continue
		}
		id := [3]int64{c.Attr, c.Session, c.FP}
		if j, ok := index[id]; ok {
			Follow(&d.Calls[j].V, &c.V)
		} else {
			index[id] = len(d.Calls)
			d.Calls = append(d.Calls, *c)
		}
	}
	for i := range h.Extras {
		x := &h.Extras[i]
		if m.keep != nil && !m.keep[x.Attr] {
			continue
		}
		k := [2]int64{d.Day, x.Attr}
		if j, ok := m.extras[k]; ok {
			AddExtras(&d.Extras[j].V, &x.V)
		} else {
			m.extras[k] = len(d.Extras)
			d.Extras = append(d.Extras, *x)
		}
	}
}

// floorDiv divides rounding toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
