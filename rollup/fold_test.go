package rollup

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

const (
	sec  = int64(time.Second / time.Microsecond)
	min5 = int64(allot.PromptCacheTTL / time.Microsecond)
)

// call is a test event: session 1 of attribution 1 unless set.
func call(id string, t, input int64) Event {
	return Event{ID: id, User: "ana", T: t, Attr: 1, Session: 1, MaxTokens: 100, Tokens: allot.Tokens{Input: input, Output: 1}, Cost: 10}
}

// TestFoldRules: each insight rule, on the rows Fold makes.
func TestFoldRules(t *testing.T) {
	t.Parallel()
	h := int64(1000 * usPerHour) // the start of an hour
	withFP := func(e Event, sys, req int64) Event { e.SystemFP, e.RequestFP = sys, req; return e }
	for _, tc := range []struct {
		name                          string
		evs                           []Event
		calls                         int   // Calls rows
		requests, misses, growing     int64 // of the first Calls row
		dups, failed, nomax, extraRow int64 // summed over Extras rows; extraRow: how many rows
	}{
		{name: "first call is a miss", evs: []Event{call("a", h, 10)}, calls: 1, requests: 1, misses: 1},
		{name: "within the cache TTL is no miss", evs: []Event{call("a", h, 10), call("b", h+min5, 5)}, calls: 1, requests: 2, misses: 1},
		{name: "past the cache TTL is a miss", evs: []Event{call("a", h, 10), call("b", h+min5+1, 5)}, calls: 1, requests: 2, misses: 2},
		{name: "larger input grows", evs: []Event{call("a", h, 10), call("b", h+sec, 11), call("c", h+2*sec, 11)}, calls: 1, requests: 3, misses: 1, growing: 1},
		{name: "order is by time, not arrival", evs: []Event{call("b", h+2*sec, 20), call("a", h, 10)}, calls: 1, requests: 2, misses: 1, growing: 1},
		{name: "no session, no prompt: no calls row", evs: []Event{func() Event { e := call("a", h, 1); e.Session = 0; return e }()}},
		{name: "a prompt's first sight stays with the session", evs: []Event{withFP(call("a", h, 1), 7, 0)}, calls: 1, requests: 1, misses: 1},
		{name: "a prompt seen before counts apart", evs: []Event{withFP(call("a", h, 1), 7, 0), withFP(call("b", h+sec, 1), 7, 0)}, calls: 2, requests: 1, misses: 1},
		{name: "a prompt seen too long ago does not", evs: []Event{withFP(call("a", h, 1), 7, 0), withFP(call("b", h+int64(PromptSeenWindow/time.Microsecond)+1, 1), 7, 0)}, calls: 2, requests: 1, misses: 1},
		{name: "a repeat within the window", evs: []Event{withFP(call("a", h, 1), 0, 9), withFP(call("b", h+min5, 1), 0, 9)}, calls: 1, requests: 2, misses: 1, dups: 1, extraRow: 1},
		{name: "a repeat past the window is none", evs: []Event{withFP(call("a", h, 1), 0, 9), withFP(call("b", h+int64(allot.DuplicateWindow/time.Microsecond)+1, 1), 0, 9)}, calls: 1, requests: 2, misses: 2},
		{name: "another user's same request is no repeat", evs: []Event{withFP(call("a", h, 1), 0, 9), func() Event { e := withFP(call("b", h+sec, 1), 0, 9); e.User = "bo"; return e }()}, calls: 1, requests: 2, misses: 1},
		{name: "the same event twice is no repeat", evs: []Event{withFP(call("a", h, 1), 0, 9), withFP(call("a", h, 1), 0, 9)}, calls: 1, requests: 2, misses: 1},
		{name: "failed and unlimited calls", evs: []Event{func() Event { e := call("a", h, 1); e.Status, e.MaxTokens = 500, 0; return e }()}, calls: 1, requests: 1, misses: 1, failed: 1, nomax: 1, extraRow: 1},
		{name: "rows are per hour", evs: []Event{call("a", h+usPerHour-1, 1), call("b", h+usPerHour, 2)}, calls: 2, requests: 1, misses: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := Fold(tc.evs, NewCheck(nil))
			if len(b.CallVals) != tc.calls {
				t.Fatalf("%d calls rows %v, want %d", len(b.CallVals), b.CallKeys, tc.calls)
			}
			if tc.calls > 0 {
				if c := b.CallVals[0]; c[Requests] != tc.requests || c[Misses] != tc.misses || c[Growing] != tc.growing {
					t.Errorf("first row: requests %d misses %d growing %d, want %d %d %d", c[Requests], c[Misses], c[Growing], tc.requests, tc.misses, tc.growing)
				}
			}
			var x Extras
			for i := range b.ExtrasVals {
				AddExtras(&x, &b.ExtrasVals[i])
			}
			if int64(len(b.ExtrasVals)) != tc.extraRow || x[DupRequests] != tc.dups || x[FailedRequests] != tc.failed || x[NoMaxRequests] != tc.nomax {
				t.Errorf("%d extras rows, dups %d failed %d unlimited %d; want %d rows, %d %d %d", len(b.ExtrasVals), x[DupRequests], x[FailedRequests], x[NoMaxRequests], tc.extraRow, tc.dups, tc.failed, tc.nomax)
			}
		})
	}
}

// TestFollowJoinsAsOneChain: a chain cut anywhere into consecutive parts
// and joined with Follow equals the chain folded whole, so hours join
// into days and days into periods exactly; Merge of two interleaved
// chains keeps every sum.
func TestFollowJoinsAsOneChain(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		n := 1 + rng.IntN(30)
		ts, ins := make([]int64, n), make([]int64, n)
		at := int64(rng.IntN(1000)) * sec
		for i := range ts {
			at += rng.Int64N(2 * min5)
			ts[i], ins[i] = at, rng.Int64N(50)
		}
		fold := func(lo, hi int) Calls {
			var c Calls
			for i := lo; i < hi; i++ {
				c.Add(ts[i], &allot.Tokens{Input: ins[i], Output: 2}, 3)
			}
			return c
		}
		whole := fold(0, n)
		cut := 1 + rng.IntN(n)
		joined, rest := fold(0, cut), fold(cut, n)
		if cut < n {
			Follow(&joined, &rest)
		}
		if joined != whole {
			t.Fatalf("round %d: cut at %d of %d joins as %v, want %v", round, cut, n, joined, whole)
		}
		var merged Calls = fold(0, cut)
		if cut < n {
			Merge(&merged, &rest)
		}
		if merged[Requests] != whole[Requests] || merged[Input] != whole[Input] || merged[FirstUS] != whole[FirstUS] || merged[LastUS] != whole[LastUS] {
			t.Fatalf("round %d: merge %v, want the sums of %v", round, merged, whole)
		}
	}
}

// TestDayMergerFollowsHours: a day of hourly rows equals the day folded
// whole; extras add up; attributions not kept are left out.
func TestDayMergerFollowsHours(t *testing.T) {
	t.Parallel()
	day := int64(20000)
	var evs []Event
	for i := range 48 {
		e := call(string(rune('a'+i)), day*usPerDay+int64(i)*20*60*sec, int64(i%7))
		e.MaxTokens = int64(i % 2) // every other call unlimited
		e.Attr = 1 + int64(i%2)
		evs = append(evs, e)
	}
	hours := Fold(evs, NewCheck(nil))
	rows := map[int64]*Hour{}
	for i, k := range hours.CallKeys {
		if rows[k.Hour] == nil {
			rows[k.Hour] = &Hour{}
		}
		rows[k.Hour].Calls = append(rows[k.Hour].Calls, DayCall{Attr: k.Attr, Session: k.Session, FP: k.FP, V: hours.CallVals[i]})
	}
	for i, k := range hours.ExtrasKeys {
		rows[k.Hour].Extras = append(rows[k.Hour].Extras, DayExtra{Attr: k.Attr, V: hours.ExtrasVals[i]})
	}
	m := NewDayMerger([]int64{1})
	for h := day * 24; h < day*24+24; h++ {
		if r := rows[h]; r != nil {
			m.Expect(h, r)
			m.Add(h, r)
		}
	}
	var want Calls
	var nomax int64
	for _, e := range evs {
		if e.Attr == 1 {
			want.Add(e.T, &e.Tokens, e.Cost)
			if e.MaxTokens == 0 {
				nomax++
			}
		}
	}
	d := m.Days[day]
	if d == nil || len(d.Calls) != 1 || d.Calls[0].V != want {
		t.Fatalf("day %+v, want one entry %v", d, want)
	}
	if len(d.Extras) != 1 || d.Extras[0].V[NoMaxRequests] != nomax {
		t.Fatalf("day's extras %+v, want %d unlimited calls of attribution 1", d.Extras, nomax)
	}
}
