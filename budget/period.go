package budget

import (
	"time"

	"github.com/allot-dev/allot"
)

// Rolling windows are kept as a ring of rollingBuckets equal buckets
// (window/60, at least one second each). A charge counts the bucket of its
// time and the rollingBuckets buckets before it, so spend stays in the
// window for at least the whole window and at most one bucket longer: a
// rolling budget can refuse a little early, never overshoot.
const rollingBuckets = 60

// Rate limits count per minute over rateBuckets buckets of rateBucket: the
// bucket of the call and the ones before it that started within the last
// minute, a sliding minute with five-second steps.
const (
	rateBucket  = 5 * time.Second
	rateBuckets = 12
)

// window is a compiled budget period: a calendar unit in a time zone, or a
// rolling window cut into buckets.
type window struct {
	unit    string         // allot.PeriodDay, PeriodWeek, PeriodMonth; "" for rolling
	loc     *time.Location // calendar periods
	rolling time.Duration  // rolling windows
	bucket  int64          // rolling bucket length in seconds
}

// newWindow compiles a budget's period and time zone; an invalid budget
// (which Policy.Validate refuses) falls back to a UTC month.
func newWindow(b allot.Budget) window {
	p, err := allot.ParsePeriod(b.Period)
	if err != nil {
		p = allot.Period{Unit: allot.PeriodMonth}
	}
	loc, err := b.Location()
	if err != nil {
		loc = time.UTC
	}
	w := window{unit: p.Unit, loc: loc, rolling: p.Rolling}
	if p.Unit == "" {
		w.bucket = int64(p.Rolling / time.Second / rollingBuckets)
		if w.bucket < 1 {
			w.bucket = 1
		}
	}
	return w
}

// PeriodOf returns the period of budget b that contains t: for calendar
// periods the day, week (from Monday) or month in the budget's time zone,
// computed with time.Date in that zone so days of 23 or 25 hours around
// daylight saving changes are whole days; for a rolling window it is
// (t - window, t]. b should be valid; an invalid period or time zone is
// taken as a UTC month.
func PeriodOf(b allot.Budget, t time.Time) (start, end time.Time) {
	return newWindow(b).bounds(t)
}

// bounds returns the period containing t.
func (w window) bounds(t time.Time) (start, end time.Time) {
	if w.unit == "" {
		return t.Add(-w.rolling), t
	}
	y, m, d := t.In(w.loc).Date()
	switch w.unit {
	case allot.PeriodDay:
		return time.Date(y, m, d, 0, 0, 0, 0, w.loc), time.Date(y, m, d+1, 0, 0, 0, 0, w.loc)
	case allot.PeriodWeek:
		back := (int(time.Date(y, m, d, 12, 0, 0, 0, w.loc).Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, w.loc), time.Date(y, m, d-back+7, 0, 0, 0, 0, w.loc)
	default:
		return time.Date(y, m, 1, 0, 0, 0, 0, w.loc), time.Date(y, m+1, 1, 0, 0, 0, 0, w.loc)
	}
}

// cell returns where a charge at t goes: the bucket number and how many
// buckets up to it count against the limit. A calendar period is one
// bucket numbered by its start in Unix seconds.
func (w window) cell(t time.Time) (bucket int64, span int) {
	if w.unit == "" {
		return floorDiv(t.Unix(), w.bucket), rollingBuckets + 1
	}
	start, _ := w.bounds(t)
	return start.Unix(), 1
}

// nextChange returns when the amount counted at t can next go down: the
// end of a calendar period, or the next bucket boundary of a rolling window.
func (w window) nextChange(t time.Time) time.Time {
	if w.unit == "" {
		return time.Unix((floorDiv(t.Unix(), w.bucket)+1)*w.bucket, 0).UTC()
	}
	_, end := w.bounds(t)
	return end
}

// epoch numbers the stretch of time in which each alert threshold fires at
// most once: the calendar period, or for rolling windows consecutive
// stretches of one window length.
func (w window) epoch(t time.Time) int64 {
	if w.unit == "" {
		return floorDiv(t.Unix(), int64(w.rolling/time.Second))
	}
	start, _ := w.bounds(t)
	return start.Unix()
}

// phrase names the period in a sentence: "this month", "in the last 24h".
func (w window) phrase() string {
	switch w.unit {
	case allot.PeriodDay:
		return "today"
	case allot.PeriodWeek:
		return "this week"
	case allot.PeriodMonth:
		return "this month"
	}
	return "in the last " + allot.Period{Rolling: w.rolling}.String()[len("rolling:"):]
}

// floorDiv divides rounding toward minus infinity, so times before 1970
// still fall into the right bucket.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
