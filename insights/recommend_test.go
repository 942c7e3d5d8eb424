package insights

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// rates are a test model's prices in nano-USD per token (and per call).
type rates struct{ in, cacheRead, cacheWrite, out, call int64 }

// fakePricer prices exactly by per-token rates, so savings can be
// computed by hand.
type fakePricer map[string]rates

func (f fakePricer) Cost(_, model string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	r, ok := f[model]
	if !ok {
		return 0, false
	}
	return allot.Money(t.Uncached()*r.in + t.CacheRead*r.cacheRead + t.CacheWrite()*r.cacheWrite + t.Output*r.out + r.call), true
}

var testPrices = fakePricer{
	"big-1":    {in: 10, cacheRead: 1, cacheWrite: 13, out: 40, call: 7},
	"big-mini": {in: 1, cacheRead: 1, cacheWrite: 1, out: 4, call: 7},
	"other-9":  {in: 1, cacheRead: 1, cacheWrite: 1, out: 1},
}

var testNow = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC) // a Wednesday

func usageRow(user, task, model string, requests, input, output int64) allot.InsightUsage {
	return allot.InsightUsage{
		InsightKey: allot.InsightKey{Team: "data", User: user, Provider: "p", Model: model, Task: task, App: "cli"},
		Requests:   requests, Tokens: allot.Tokens{Input: input, Output: output},
		Cost: allot.Money(input*10 + output*40),
	}
}

// only returns the recommendations of one kind.
func only(recs []Recommendation, kind string) []Recommendation {
	var out []Recommendation
	for _, r := range recs {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func TestRecommendationsFireWithHandComputedSavings(t *testing.T) {
	t.Parallel()
	session := func(user string, n, first, last, growing, input int64, cost allot.Money) allot.SessionUsage {
		return allot.SessionUsage{
			InsightKey: allot.InsightKey{Team: "data", User: user, Provider: "p", Model: "big-1", Task: "code", App: "cli"},
			Session:    "s", Requests: n, FirstInput: first, LastInput: last, Growing: growing,
			Tokens: allot.Tokens{Input: input}, Cost: cost,
		}
	}
	tests := []struct {
		name  string
		kind  string
		days  int
		data  func(d *Data)
		quiet func(d *Data) // the same ledger changed so the kind must not fire
		want  allot.Money
	}{
		{
			// 100 calls of 1000 in / 200 out: big-1 costs 10000+8000+7 a call,
			// big-mini 1000+800+7: 16200 less, × 100 calls.
			name: "cheaper model used by others", kind: KindCheaperModel, days: 30,
			data: func(d *Data) {
				d.Usage = append(d.Usage, usageRow("alice", "review", "big-1", 100, 100_000, 20_000), usageRow("bob", "review", "big-mini", 50, 10_000, 1_000))
			},
			quiet: func(d *Data) { d.Usage[1].Task = "other" }, // nobody else reviews on big-mini
			want:  1_620_000,
		},
		{
			name: "cheaper model over 15 days scales to a month", kind: KindCheaperModel, days: 15,
			data: func(d *Data) {
				d.Usage = append(d.Usage, usageRow("alice", "review", "big-1", 100, 100_000, 20_000), usageRow("bob", "review", "big-mini", 50, 10_000, 1_000))
			},
			quiet: func(d *Data) { d.Usage[0].Tokens.Output = 100_000 }, // 1000 output tokens a call: not short
			want:  3_240_000,
		},
		{
			name: "cheaper model configured as equivalent", kind: KindCheaperModel, days: 30,
			data: func(d *Data) { d.Usage = append(d.Usage, usageRow("alice", "review", "big-1", 100, 100_000, 20_000)) },
			quiet: func(d *Data) {
				d.Usage[0].Requests = 5 // too few calls
			},
			want: 1_620_000,
		},
		{
			// 45 calls could read the 3000-token prefix: each saves
			// 3000×(10-1) = 27000; 5 cache misses write it for 3000×(13-10)
			// = 9000 more each.
			name: "prompt caching", kind: KindPromptCaching, days: 30,
			data: func(d *Data) {
				d.Prompts = append(d.Prompts, allot.PromptUsage{
					InsightKey: allot.InsightKey{Team: "data", User: "alice", Provider: "p", Model: "big-1", Task: "code"},
					SystemFP:   0xfeed, Requests: 50, Tokens: allot.Tokens{Input: 250_000}, MinInput: 3000, CacheMisses: 5, Cost: 2_500_000,
				})
			},
			quiet: func(d *Data) { d.Prompts[0].Tokens.CacheRead = 100_000 }, // already cached
			want:  45*27_000 - 5*9_000,
		},
		{
			name: "prompt caching needs a cacheable prefix", kind: KindPromptCaching, days: 30,
			data: func(d *Data) {
				d.Prompts = append(d.Prompts, allot.PromptUsage{
					InsightKey: allot.InsightKey{Team: "data", User: "alice", Provider: "p", Model: "big-1", Task: "code"},
					SystemFP:   0xfeed, Requests: 50, Tokens: allot.Tokens{Input: 250_000}, MinInput: 3000, CacheMisses: 5,
				})
			},
			quiet: func(d *Data) { d.Prompts[0].MinInput = 900 },
			want:  45*27_000 - 5*9_000,
		},
		{
			name: "duplicate requests", kind: KindDuplicates, days: 30,
			data: func(d *Data) {
				u := usageRow("alice", "code", "big-1", 100, 100_000, 20_000)
				u.Duplicates = allot.UsageSum{Requests: 4, Input: 4000, Output: 800, Cost: 2_000_000}
				d.Usage = append(d.Usage, u)
			},
			quiet: func(d *Data) { d.Usage[0].Duplicates = allot.UsageSum{} },
			want:  2_000_000,
		},
		{
			// Inputs 1000, 2000 … 10000: the part above the median 5500 is
			// 500+1500+…+4500 = 12500 tokens at 10 nano each.
			name: "context growth", kind: KindContextGrowth, days: 30,
			data: func(d *Data) {
				d.Sessions = append(d.Sessions, session("alice", 10, 1000, 10_000, 9, 55_000, 550_000))
			},
			quiet: func(d *Data) { d.Sessions[0].Growing = 3 }, // input went up and down
			want:  125_000,
		},
		{
			// The task's median output is 200 (people: 150, 200, 300), so
			// the limit is 1024; alice's unlimited calls wrote 3000 in two
			// calls and 20000 in one: 952 + 18976 tokens over, at 40 nano.
			name: "output limits", kind: KindOutputLimits, days: 30,
			data: func(d *Data) {
				a := usageRow("alice", "sum", "big-1", 100, 100_000, 20_000)
				a.NoMaxTokens = 20
				a.LongOutputs[0] = allot.OutputClass{Requests: 2, Output: 3000}
				a.LongOutputs[2] = allot.OutputClass{Requests: 1, Output: 20_000}
				d.Usage = append(d.Usage, a, usageRow("bob", "sum", "big-1", 10, 1000, 1500), usageRow("carol", "sum", "big-1", 10, 1000, 3000))
			},
			quiet: func(d *Data) { d.Usage[0].NoMaxTokens = 0 },
			want:  19_928 * 40,
		},
		{
			name: "failed requests", kind: KindFailed, days: 30,
			data: func(d *Data) {
				u := usageRow("alice", "code", "big-1", 100, 100_000, 20_000)
				u.Failed = allot.UsageSum{Requests: 3, Input: 3000, Cost: 300_000}
				d.Usage = append(d.Usage, u)
			},
			quiet: func(d *Data) { d.Usage[0].Failed = allot.UsageSum{} },
			want:  300_000,
		},
		{
			// Four usual sessions of 10 calls and one of 200: the usual
			// session costs 100000, the runaway 5000000.
			name: "runaway sessions", kind: KindRunaway, days: 30,
			data: func(d *Data) {
				for range 4 {
					d.Sessions = append(d.Sessions, session("alice", 10, 1000, 1000, 0, 10_000, 100_000))
				}
				d.Sessions = append(d.Sessions, session("alice", 200, 1000, 1000, 0, 400_000, 5_000_000))
			},
			quiet: func(d *Data) { d.Sessions[4].Requests, d.Sessions[4].Tokens.Input = 20, 20_000 },
			want:  4_900_000,
		},
	}
	opts := DefaultOptions()
	opts.Floor = 0
	opts.Equivalents = []Equivalent{{From: allot.MustModelPattern("big-*"), To: "big-mini"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			build := func() *Data {
				d := &Data{Now: testNow, Period: LastDays(testNow, tt.days), Scope: Scope{User: "alice"}}
				tt.data(d)
				return d
			}
			o := opts
			if tt.name != "cheaper model configured as equivalent" {
				o.Equivalents = nil
			}
			got := only(Recommend(build(), testPrices, o), tt.kind)
			if len(got) != 1 {
				t.Fatalf("got %d %s recommendations, want 1: %+v", len(got), tt.kind, got)
			}
			if got[0].MonthlySavings != tt.want {
				t.Errorf("monthly savings %s, want %s (%s)", got[0].MonthlySavings, tt.want, got[0].Detail)
			}
			if got[0].User != "alice" || got[0].Title == "" || got[0].Detail == "" || len(got[0].Evidence) == 0 {
				t.Errorf("incomplete recommendation %+v", got[0])
			}
			d := build()
			tt.quiet(d)
			if got := only(Recommend(d, testPrices, o), tt.kind); len(got) != 0 {
				t.Errorf("quiet ledger still recommends %+v", got)
			}
		})
	}
}

func TestRecommendationsAreRankedAndFloored(t *testing.T) {
	t.Parallel()
	d := &Data{Now: testNow, Period: LastDays(testNow, 30), Scope: Scope{Team: "data"}}
	small := usageRow("alice", "code", "big-1", 100, 100_000, 20_000)
	small.Failed = allot.UsageSum{Requests: 1, Cost: allot.MustUSD("0.99")}
	big := usageRow("bob", "code", "big-1", 100, 100_000, 20_000)
	big.Failed = allot.UsageSum{Requests: 1, Cost: allot.MustUSD("5")}
	mid := usageRow("bob", "code", "big-1", 1, 1, 1)
	mid.Task, mid.Duplicates = "chat", allot.UsageSum{Requests: 2, Cost: allot.MustUSD("2")}
	outside := usageRow("zed", "code", "big-1", 1, 1, 1)
	outside.Team, outside.Failed = "other", allot.UsageSum{Requests: 1, Cost: allot.MustUSD("50")}
	d.Usage = []allot.InsightUsage{small, big, mid, outside}
	got := Recommend(d, testPrices, DefaultOptions())
	var kinds []string
	for _, r := range got {
		kinds = append(kinds, r.Kind+":"+r.User+":"+r.MonthlySavings.String())
	}
	want := []string{"failed_requests:bob:5.000000000", "duplicate_requests:bob:2.000000000"}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] {
		t.Errorf("got %v, want %v (alice's $0.99 under the $1 floor, zed outside the team)", kinds, want)
	}
}

func TestGrowingExcessIsExactForEvenGrowth(t *testing.T) {
	t.Parallel()
	for n := int64(2); n <= 40; n++ {
		var inputs []int64
		for i := range n {
			inputs = append(inputs, 1000+i*300)
		}
		median := (inputs[(n-1)/2] + inputs[n/2]) / 2
		var want int64
		for _, x := range inputs {
			want += max(x-median, 0)
		}
		if got := growingExcess(inputs[0], inputs[n-1], n); got != want {
			t.Errorf("n=%d: excess %d, want %d", n, got, want)
		}
	}
}

func TestFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ model, want string }{
		{"claude-opus-4-1", "claude"}, {"claude-3-5-haiku-20241022", "claude"}, {"gpt-4o-mini", "gpt"},
		{"o3", "o"}, {"o4-mini", "o"}, {"gemini-2.5-flash", "gemini"}, {"", ""}, {"4o", ""},
	} {
		if got := family(tc.model); got != tc.want {
			t.Errorf("family(%q) = %q, want %q", tc.model, got, tc.want)
		}
	}
}

func TestMulDiv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, c, want int64 }{
		{10, 3, 4, 8}, {10, 1, 4, 3}, {-10, 1, 4, -3}, {1 << 62, 8, 16, 1 << 61}, {1 << 62, 1 << 62, 1, 1<<63 - 1}, {5, 1, 10, 1}, {4, 1, 10, 0},
	} {
		if got := mulDiv(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}

// TestSessionRecommendationsIgnoreOrder: a store may hand sessions over in
// any order; runaway and context growth name the same largest session
// whatever it is, ties included.
func TestSessionRecommendationsIgnoreOrder(t *testing.T) {
	t.Parallel()
	session := func(task string, n, first, last, growing, input int64) allot.SessionUsage {
		return allot.SessionUsage{
			InsightKey: allot.InsightKey{Team: "data", User: "alice", Provider: "p", Model: "big-1", Task: task, App: "cli"},
			Session:    "s", Requests: n, FirstInput: first, LastInput: last, Growing: growing,
			Tokens: allot.Tokens{Input: input}, Cost: allot.Money(input * 10),
		}
	}
	var sessions []allot.SessionUsage
	for range 6 {
		sessions = append(sessions, session("code", 10, 1000, 1000, 0, 10_000))
	}
	// Runaways of equal calls (one with more tokens, two tied in both), and
	// growing sessions of equal growth.
	sessions = append(sessions, session("review", 300, 1000, 1000, 0, 300_000), session("code", 300, 1000, 1000, 0, 300_000),
		session("docs", 300, 1000, 1000, 0, 200_000),
		session("code", 40, 1000, 41_000, 39, 840_000), session("code", 40, 2000, 42_000, 39, 880_000))
	opts := DefaultOptions()
	opts.Floor = 0
	recommend := func(order []allot.SessionUsage) []Recommendation {
		d := &Data{Now: testNow, Period: LastDays(testNow, 30), Scope: Scope{User: "alice"}, Sessions: order}
		return Recommend(d, testPrices, opts)
	}
	want := recommend(sessions)
	if len(only(want, KindRunaway)) == 0 || len(only(want, KindContextGrowth)) == 0 {
		t.Fatalf("expected runaway and context growth recommendations, got %+v", want)
	}
	reversed := slices.Clone(sessions)
	slices.Reverse(reversed)
	for name, order := range map[string][]allot.SessionUsage{"reversed": reversed, "rotated": append(slices.Clone(sessions[7:]), sessions[:7]...)} {
		if got := recommend(order); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v\nwant %+v", name, got, want)
		}
	}
}

func TestSessionsRanSaysOneSession(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{1: "1 session ran", 2: "2 sessions ran", 40: "40 sessions ran"} {
		if got := sessionsRan(n); got != want {
			t.Errorf("sessionsRan(%d) = %q, want %q", n, got, want)
		}
	}
}
