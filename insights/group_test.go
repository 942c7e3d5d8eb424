package insights

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestGroupRecommendations(t *testing.T) {
	t.Parallel()
	rec := func(kind, user, task, model, to string, save allot.Money, ev map[string]int64) Recommendation {
		return Recommendation{Kind: kind, User: user, Task: task, Model: model, ToModel: to, MonthlySavings: save, Evidence: ev,
			Title: "Your " + kind, Detail: "Your calls"}
	}
	recs := []Recommendation{
		rec(KindCheaperModel, "ada", "review", "big-1", "big-mini", 30*allot.USD, map[string]int64{"requests": 100}),
		rec(KindCheaperModel, "ken", "review", "big-1", "big-mini", 12*allot.USD, map[string]int64{"requests": 40}),
		rec(KindCheaperModel, "ken", "review", "big-1", "other-9", 50*allot.USD, map[string]int64{"requests": 40}), // another change
		rec(KindCheaperModel, "bob", "chat", "big-1", "big-mini", 5*allot.USD, map[string]int64{"requests": 9}),    // another task
		rec(KindOutputLimits, "ada", "review", "big-1", "", 4*allot.USD, map[string]int64{"long_requests": 3, "suggested_max_tokens": 4096, "excess_output_tokens": 10}),
		rec(KindOutputLimits, "bob", "review", "big-1", "", 6*allot.USD, map[string]int64{"long_requests": 5, "suggested_max_tokens": 8192, "excess_output_tokens": 20}),
	}
	type want struct {
		kind, task, to string
		savings        allot.Money
		people         []string
		count          int
		says           string
	}
	wants := []want{
		{KindCheaperModel, "review", "big-mini", 42 * allot.USD, []string{"ada", "ken"}, 2, "2 people made 140 review calls on big-1"},
		{KindCheaperModel, "review", "other-9", 50 * allot.USD, []string{"ken"}, 1, "1 person made 40 review calls"},
		{KindOutputLimits, "review", "", 10 * allot.USD, []string{"ada", "bob"}, 2, "max_tokens of 8192 would have cut 30 output tokens"},
		{KindCheaperModel, "chat", "big-mini", 5 * allot.USD, []string{"bob"}, 1, "1 person made 9 chat calls"},
	}
	for _, named := range []bool{true, false} {
		got := GroupRecommendations(recs, named)
		if len(got) != len(wants) {
			t.Fatalf("named %v: %d groups %+v, want %d", named, len(got), got, len(wants))
		}
		// Most savings first: other-9 ($50), big-mini review ($42), output limits ($10), chat ($5).
		order := []int{1, 0, 2, 3}
		for i, g := range got {
			w := wants[order[i]]
			people := w.people
			if !named {
				people = nil
			}
			if g.Kind != w.kind || g.Task != w.task || g.ToModel != w.to || g.MonthlySavings != w.savings || g.PeopleCount != w.count || !reflect.DeepEqual(g.People, people) {
				t.Errorf("named %v: group %d = %+v, want %+v", named, i, g, w)
			}
			if !strings.Contains(g.Detail, w.says) || strings.Contains(g.Title+g.Detail, "Your") {
				t.Errorf("named %v: group %d says %q / %q, want %q and nobody addressed", named, i, g.Title, g.Detail, w.says)
			}
		}
	}
}

// TestGroupsNameOnlyWhereAllowed: team and org views group their
// recommendations, naming people only for viewers who may see them all;
// a person's view has none.
func TestGroupsNameOnlyWhereAllowed(t *testing.T) {
	t.Parallel()
	big, src := orgOf(6, 3) // everyone has failed calls on code/big-1
	small, smallSrc := orgOf(3, 6)
	tests := []struct {
		name       string
		users      []allot.User
		src        *memSource
		viewer     string
		scope      Scope
		visibility string
		groups     int
		count      int
		named      bool
	}{
		{"admin, the org", big, src, "root", Scope{}, allot.PeerAnonymous, 1, 9, true},
		{"admin, a team", big, src, "root", Scope{Team: "ops"}, allot.PeerAnonymous, 1, 3, true},
		{"lead, named team", big, src, "data0", Scope{Team: "data"}, allot.PeerNamed, 1, 6, true},
		{"lead, anonymous team", big, src, "data0", Scope{Team: "data"}, allot.PeerAnonymous, 1, 6, false},
		{"lead, small team", small, smallSrc, "data0", Scope{Team: "data"}, allot.PeerNamed, 0, 0, false},
		{"member", big, src, "data3", Scope{}, allot.PeerNamed, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultOptions()
			opts.Visibility = tt.visibility
			ins, err := Build(context.Background(), tt.src, tt.users, testPrices, principal(tt.users, tt.viewer), Request{Scope: tt.scope}, opts, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(ins.RecommendationGroups) != tt.groups {
				t.Fatalf("%d groups %+v, want %d", len(ins.RecommendationGroups), ins.RecommendationGroups, tt.groups)
			}
			if tt.groups == 0 {
				return
			}
			g := ins.RecommendationGroups[0]
			if g.Kind != KindFailed || g.PeopleCount != tt.count || (len(g.People) == tt.count) != tt.named || !tt.named && g.People != nil {
				t.Errorf("group %+v, want %d people, named %v", g, tt.count, tt.named)
			}
			var sum allot.Money
			for _, r := range ins.Recommendations {
				sum += r.MonthlySavings
			}
			if g.MonthlySavings != sum {
				t.Errorf("group saves %s, the recommendations %s", g.MonthlySavings, sum)
			}
		})
	}
}
