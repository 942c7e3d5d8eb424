package insights

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// memSource is an InsightSource over fixed aggregates.
type memSource struct {
	usage    []allot.InsightUsage
	prompts  []allot.PromptUsage
	sessions []allot.SessionUsage
	daily    []allot.DailySpend
}

func keep(q allot.InsightQuery, k allot.InsightKey) bool {
	return (q.User == "" || q.User == k.User) && (q.Team == "" || q.Team == k.Team)
}

func (m *memSource) InsightUsage(_ context.Context, q allot.InsightQuery) ([]allot.InsightUsage, error) {
	var out []allot.InsightUsage
	for _, u := range m.usage {
		if keep(q, u.InsightKey) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (m *memSource) InsightCalls(_ context.Context, q allot.InsightQuery) (allot.InsightCalls, error) {
	var out allot.InsightCalls
	for _, p := range m.prompts {
		if keep(q, p.InsightKey) {
			out.Prompts = append(out.Prompts, p)
		}
	}
	for _, s := range m.sessions {
		if keep(q, s.InsightKey) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	return out, nil
}

func (m *memSource) DailySpend(_ context.Context, q allot.InsightQuery) ([]allot.DailySpend, error) {
	var out []allot.DailySpend
	for _, d := range m.daily {
		if keep(q, allot.InsightKey{User: d.User, Team: d.Team}) && !d.Day.Before(q.From) && d.Day.Before(q.To) {
			out = append(out, d)
		}
	}
	return out, nil
}

// orgOf makes an org: team "data" of dataSize people (data0 … ), team
// "ops" of opsSize people (ops0 …); everyone's usage grows with their
// number, and everyone has a failing-call recommendation worth $10+.
func orgOf(dataSize, opsSize int) ([]allot.User, *memSource) {
	var users []allot.User
	src := &memSource{}
	add := func(team string, i int) {
		name := fmt.Sprintf("%s%d", team, i)
		users = append(users, allot.User{Name: name, Team: team, Role: allot.RoleMember})
		u := usageRow(name, "code", "big-1", int64(10*(i+1)), int64(10_000*(i+1)), int64(1000*(i+1)))
		u.Team = team
		u.Cost = allot.Money(i+1) * allot.USD
		u.Failed = allot.UsageSum{Requests: 1, Cost: allot.Money(10+i) * allot.USD}
		src.usage = append(src.usage, u)
		src.daily = append(src.daily, allot.DailySpend{Day: testNow.Truncate(24 * time.Hour), Team: team, User: name, Cost: u.Cost})
	}
	for i := range dataSize {
		add("data", i)
	}
	for i := range opsSize {
		add("ops", i)
	}
	users[0].Role = allot.RoleLead // data0 leads data
	return users, src
}

func principal(users []allot.User, name string) allot.Principal {
	for _, u := range users {
		if u.Name == name {
			return allot.Principal{User: u.Name, Team: u.Team, Role: u.Role}
		}
	}
	return allot.Principal{User: name, Role: allot.RoleAdmin}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	big, _ := orgOf(6, 3)
	small, _ := orgOf(3, 3)
	admin := allot.Principal{User: "root", Role: allot.RoleAdmin}
	tests := []struct {
		name       string
		users      []allot.User
		viewer     allot.Principal
		want       Scope
		visibility string
		got        Scope
		code       allot.ErrorCode
	}{
		{"member default is self", big, principal(big, "data3"), Scope{}, allot.PeerNamed, Scope{User: "data3"}, ""},
		{"member asks for self", big, principal(big, "data3"), Scope{User: "data3"}, "", Scope{User: "data3"}, ""},
		{"member asks for a peer", big, principal(big, "data3"), Scope{User: "data4"}, allot.PeerNamed, Scope{}, allot.EForbidden},
		{"member asks for the team", big, principal(big, "data3"), Scope{Team: "data"}, allot.PeerNamed, Scope{}, allot.EForbidden},
		{"lead asks for the team", big, principal(big, "data0"), Scope{Team: "data"}, "", Scope{Team: "data"}, ""},
		{"lead asks for another team", big, principal(big, "data0"), Scope{Team: "ops"}, allot.PeerNamed, Scope{}, allot.EForbidden},
		{"lead asks for a member, anonymous", big, principal(big, "data0"), Scope{User: "data2"}, allot.PeerAnonymous, Scope{}, allot.EForbidden},
		{"lead asks for a member, named", big, principal(big, "data0"), Scope{User: "data2"}, allot.PeerNamed, Scope{User: "data2"}, ""},
		{"lead asks for a member of a small team, named", small, principal(small, "data0"), Scope{User: "data2"}, allot.PeerNamed, Scope{}, allot.EForbidden},
		{"lead asks for another team's member", big, principal(big, "data0"), Scope{User: "ops1"}, allot.PeerNamed, Scope{}, allot.EForbidden},
		{"admin default is the org", big, admin, Scope{}, "", Scope{}, ""},
		{"admin asks for anyone", big, admin, Scope{User: "ops1"}, "", Scope{User: "ops1"}, ""},
		{"admin asks for nobody", big, admin, Scope{User: "ghost"}, "", Scope{}, allot.ENotFound},
		{"user and team at once", big, admin, Scope{User: "ops1", Team: "ops"}, "", Scope{}, allot.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Authorize(tt.viewer, tt.want, tt.users, tt.visibility)
			if allot.CodeOf(err) != tt.code || got != tt.got {
				t.Errorf("Authorize = %+v, %v; want %+v, code %q", got, err, tt.got, tt.code)
			}
		})
	}
}

// names lists every person whose name appears in v's JSON.
func names(t *testing.T, v any, users []allot.User) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		if bytes.Contains(b, []byte(`"`+u.Name+`"`)) {
			out = append(out, u.Name)
		}
	}
	return out
}

func TestInsightsShowOthersOnlyWhereAllowed(t *testing.T) {
	t.Parallel()
	big, bigSrc := orgOf(6, 3)
	small, smallSrc := orgOf(3, 6)
	_, leftSrc := orgOf(6, 3) // and someone who has left the directory still has data's usage
	gone := usageRow("gone", "code", "big-1", 10, 10_000, 1000)
	gone.Team, gone.Cost, gone.Failed = "data", allot.USD, allot.UsageSum{Requests: 1, Cost: 10 * allot.USD}
	leftSrc.usage = append(leftSrc.usage, gone)
	tests := []struct {
		name       string
		users      []allot.User
		src        *memSource
		viewer     string
		want       Scope
		visibility string
		visible    []string // names that may appear
		members    bool     // a member list is shown
		recs       int      // recommendations listed
	}{
		{"member sees only themselves", big, bigSrc, "data3", Scope{}, allot.PeerNamed, []string{"data3"}, false, 1},
		{"lead, anonymous team", big, bigSrc, "data0", Scope{Team: "data"}, allot.PeerAnonymous, nil, false, 6},
		{"lead, named team", big, bigSrc, "data0", Scope{Team: "data"}, allot.PeerNamed, []string{"data0", "data1", "data2", "data3", "data4", "data5"}, true, 6},
		{"lead, named but small team", small, smallSrc, "data0", Scope{Team: "data"}, allot.PeerNamed, nil, false, 0},
		{"lead, named team with someone who left", big, leftSrc, "data0", Scope{Team: "data"}, allot.PeerNamed, nil, false, 7},
		{"admin, the org", big, bigSrc, "root", Scope{}, "", []string{"data0", "data1", "data2", "data3", "data4", "data5", "ops0", "ops1", "ops2"}, true, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultOptions()
			opts.Visibility = tt.visibility
			ins, err := Build(context.Background(), tt.src, tt.users, testPrices, principal(tt.users, tt.viewer), Request{Scope: tt.want}, opts, testNow)
			if err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{}
			for _, n := range tt.visible {
				allowed[n] = true
			}
			for _, n := range names(t, ins, tt.users) {
				if !allowed[n] {
					t.Errorf("%s can see %s's name in %s", tt.viewer, n, ins.Scope)
				}
			}
			if (len(ins.Members) > 0) != tt.members {
				t.Errorf("members listed: %v, want %v", ins.Members, tt.members)
			}
			if len(ins.Recommendations) != tt.recs {
				t.Errorf("%d recommendations, want %d", len(ins.Recommendations), tt.recs)
			}
			var text bytes.Buffer
			if err := WriteInsights(&text, ins); err != nil {
				t.Fatal(err)
			}
			for _, u := range tt.users {
				if !allowed[u.Name] && strings.Contains(text.String(), u.Name) {
					t.Errorf("the text view shows %s to %s", u.Name, tt.viewer)
				}
			}
		})
	}
}

func TestPeersHideSmallGroups(t *testing.T) {
	t.Parallel()
	users, src := orgOf(6, 3)
	opts := DefaultOptions()
	p := Peers(src.usage, users, "data3", opts)
	// data3 spends $4; the team spends $1…$6, the org adds $1…$3.
	if p.TeamGroup.SpendPercentile == nil || *p.TeamGroup.SpendPercentile != 58 { // (3 below + ½) / 6
		t.Errorf("team percentile %v, want 58", p.TeamGroup.SpendPercentile)
	}
	if p.OrgGroup.SpendPercentile == nil || *p.OrgGroup.SpendPercentile != 72 { // (6 below + ½) / 9
		t.Errorf("org percentile %v, want 72", p.OrgGroup.SpendPercentile)
	}
	if s := p.TeamGroup.Spend; s == nil || s.Median != 3*allot.USD || s.P75 != 5*allot.USD || s.P90 != 6*allot.USD {
		t.Errorf("team spread %+v, want median $3, p75 $5, p90 $6", s)
	}
	if len(p.Tasks) != 1 || p.Tasks[0].Team == nil || p.Tasks[0].Team.VsMedian != 1 { // everyone sends 1000 input tokens a call
		t.Errorf("task peers %+v", p.Tasks)
	}
	q := Peers(src.usage, users, "ops1", opts)
	if q.TeamGroup.SpendPercentile != nil || q.TeamGroup.Spend != nil || q.TeamGroup.People != 3 {
		t.Errorf("a team of 3 must show only its size: %+v", q.TeamGroup)
	}
	if q.OrgGroup.SpendPercentile == nil {
		t.Errorf("the org of 9 must be compared")
	}
}

func TestTopSharesAndTrends(t *testing.T) {
	t.Parallel()
	cur := []allot.InsightUsage{usageRow("a", "code", "big-1", 10, 100, 100), usageRow("b", "code", "big-1", 10, 100, 100), usageRow("a", "chat", "big-1", 5, 50, 0)}
	cur[0].Cost, cur[1].Cost, cur[2].Cost = 300, 300, 400
	prev := []allot.InsightUsage{usageRow("a", "code", "big-1", 1, 1, 1)}
	prev[0].Cost = 400
	rows, err := Top(cur, prev, allot.DimTask, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "code" || rows[0].Spend != 600 || rows[0].Share != 0.6 || rows[0].TokensPerRequest != 20 ||
		rows[0].Trend == nil || *rows[0].Trend != 0.5 || rows[1].Trend != nil {
		t.Errorf("got %+v", rows)
	}
	if _, err := Top(cur, prev, allot.DimHour, 0); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("ranking by hour: %v, want EInvalid", err)
	}
}

// medianOf picks the same value as quantile of the sorted values, for
// any order and any number of repeats.
func TestMedianOfEqualsTheSortedQuantile(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 5))
	for _, tc := range []struct {
		name      string
		n, spread int
	}{{"one", 1, 10}, {"two", 2, 10}, {"small", 7, 3}, {"repeats", 1000, 4}, {"all equal", 500, 1}, {"wide", 3301, 1 << 30}} {
		for round := range 20 {
			vals := make([]int64, tc.n)
			for i := range vals {
				vals[i] = rng.Int64N(int64(tc.spread))
			}
			if round%5 == 0 {
				slices.Sort(vals) // sorted input, a classic worst case
			}
			want := quantile(slices.Sorted(slices.Values(vals)), 50)
			if got := medianOf(slices.Clone(vals)); got != want {
				t.Fatalf("%s round %d: medianOf = %d, sorted quantile = %d", tc.name, round, got, want)
			}
		}
	}
}
