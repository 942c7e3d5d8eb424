package insights

import (
	"maps"
	"slices"

	"github.com/allot-dev/allot"
)

// person is one person's totals over a period (for one task, or all).
type person struct {
	user, team                         string
	spend                              allot.Money
	requests, input, output, cacheRead int64
	noMax                              int64
	models                             map[string]int64 // requests per model
	hasUsage, inDirectory              bool
}

func (p *person) tokens() int64           { return allot.SatAdd(p.input, p.output) }
func (p *person) tokensPerRequest() int64 { return perRequest(p.tokens(), p.requests) }
func (p *person) inputPerRequest() int64  { return perRequest(p.input, p.requests) }

// people sums usage per person, keeping the rows keep accepts (nil: all).
// Active users of the directory without usage are included (with zero
// spend) when withIdle; a person's team is the directory's.
func people(usage []allot.InsightUsage, users []allot.User, keep func(allot.InsightKey) bool, withIdle bool) map[string]*person {
	out := map[string]*person{}
	teamOf := map[string]string{}
	for _, u := range users {
		teamOf[u.Name] = u.Team
		if withIdle {
			out[u.Name] = &person{user: u.Name, team: u.Team, inDirectory: true}
		}
	}
	for _, u := range usage {
		if keep != nil && !keep(u.InsightKey) {
			continue
		}
		p := out[u.User]
		if p == nil {
			team, ok := teamOf[u.User]
			if !ok {
				team = u.Team
			}
			p = &person{user: u.User, team: team, inDirectory: ok}
			out[u.User] = p
		}
		p.hasUsage = true
		p.spend = p.spend.Plus(u.Cost)
		p.requests = allot.SatAdd(p.requests, u.Requests)
		p.input = allot.SatAdd(p.input, u.Tokens.Input)
		p.output = allot.SatAdd(p.output, u.Tokens.Output)
		p.cacheRead = allot.SatAdd(p.cacheRead, u.Tokens.CacheRead)
		p.noMax = allot.SatAdd(p.noMax, u.NoMaxTokens)
		if p.models == nil {
			p.models = map[string]int64{}
		}
		p.models[u.Model] = allot.SatAdd(p.models[u.Model], u.Requests)
	}
	return out
}

// quantile returns the nearest-rank p-th percentile of sorted values.
func quantile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}

// medianOf returns quantile(sorted values, 50) without sorting them all:
// a selection in place (it reorders values), linear on average, which
// matters for people with thousands of sessions.
func medianOf(values []int64) int64 {
	if len(values) == 0 {
		return 0
	}
	k := max((50*len(values)+99)/100, 1) - 1 // the nearest rank, as quantile
	lo, hi := 0, len(values)-1
	for lo < hi {
		// Median of three as the pivot; Hoare partition around its value.
		mid := lo + (hi-lo)/2
		a, b, c := values[lo], values[mid], values[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for values[i] < pivot {
				i++
			}
			for values[j] > pivot {
				j--
			}
			if i <= j {
				values[i], values[j] = values[j], values[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return values[k] // between j and i every value equals the pivot
		}
	}
	return values[k]
}

// percentileOf is the percentile rank of v among values: the percent of
// values below it, counting equal ones half, rounded.
func percentileOf(values []int64, v int64) int {
	if len(values) == 0 {
		return 0
	}
	var below, equal int
	for _, x := range values {
		switch {
		case x < v:
			below++
		case x == v:
			equal++
		}
	}
	return int(mulDiv(int64(2*below+equal), 50, int64(len(values))))
}

// MoneySpread is an anonymous distribution of spend in a group.
type MoneySpread struct {
	Median allot.Money `json:"median_usd"`
	P75    allot.Money `json:"p75_usd"`
	P90    allot.Money `json:"p90_usd"`
}

// TokenSpread is an anonymous distribution of a per-call size in a group.
type TokenSpread struct {
	Median int64 `json:"median"`
	P75    int64 `json:"p75"`
	P90    int64 `json:"p90"`
}

func moneySpread(values []int64) *MoneySpread {
	s := slices.Sorted(slices.Values(values))
	return &MoneySpread{Median: allot.Money(quantile(s, 50)), P75: allot.Money(quantile(s, 75)), P90: allot.Money(quantile(s, 90))}
}

func tokenSpread(values []int64) *TokenSpread {
	s := slices.Sorted(slices.Values(values))
	return &TokenSpread{Median: quantile(s, 50), P75: quantile(s, 75), P90: quantile(s, 90)}
}

// PeerGroup compares a person with a group (their team or the org). A
// group under the minimum size shows only its size: no distribution and
// no percentile, which would identify its members.
type PeerGroup struct {
	Group                      string       `json:"group"` // "team:NAME" or "org"
	People                     int          `json:"people"`
	SpendPercentile            *int         `json:"spend_percentile"`
	TokensPerRequestPercentile *int         `json:"tokens_per_request_percentile"`
	Spend                      *MoneySpread `json:"spend,omitempty"`
	TokensPerRequest           *TokenSpread `json:"tokens_per_request,omitempty"`
}

// TaskPeers compares a person's calls of one task with the others doing it.
type TaskPeers struct {
	Task             string      `json:"task"`
	Spend            allot.Money `json:"spend_usd"`
	Requests         int64       `json:"requests"`
	InputPerRequest  int64       `json:"input_per_request"`
	TokensPerRequest int64       `json:"tokens_per_request"`
	Team             *TaskGroup  `json:"team,omitempty"` // nil when under the minimum size
	Org              *TaskGroup  `json:"org,omitempty"`
}

// TaskGroup is the anonymous distribution of a task's per-call input in a
// group, and where the person stands against its median.
type TaskGroup struct {
	People          int          `json:"people"`
	InputPerRequest *TokenSpread `json:"input_per_request"`
	VsMedian        float64      `json:"vs_median"` // the person's input per call ÷ the median, e.g. 3.1
	SpendPercentile int          `json:"spend_percentile"`
}

// PeerView is one person against their team and the org, overall and per task.
type PeerView struct {
	User             string      `json:"user"`
	Team             string      `json:"team"`
	Spend            allot.Money `json:"spend_usd"`
	Requests         int64       `json:"requests"`
	TokensPerRequest int64       `json:"tokens_per_request"`
	TeamGroup        PeerGroup   `json:"team_group"`
	OrgGroup         PeerGroup   `json:"org_group"`
	Tasks            []TaskPeers `json:"tasks"`
}

// peerGroup compares me with group.
func peerGroup(name string, group []*person, me *person, minGroup int) PeerGroup {
	g := PeerGroup{Group: name, People: len(group)}
	if len(group) < minGroup {
		return g
	}
	var spend, tpr []int64
	for _, p := range group {
		spend = append(spend, int64(p.spend))
		if p.requests > 0 {
			tpr = append(tpr, p.tokensPerRequest())
		}
	}
	sp := percentileOf(spend, int64(me.spend))
	g.SpendPercentile, g.Spend = &sp, moneySpread(spend)
	if len(tpr) >= minGroup && me.requests > 0 {
		tp := percentileOf(tpr, me.tokensPerRequest())
		g.TokensPerRequestPercentile, g.TokensPerRequest = &tp, tokenSpread(tpr)
	}
	return g
}

// Peers compares user with their team and the org over usage (the whole
// org's), overall and for each task they did, most spend first.
func Peers(usage []allot.InsightUsage, users []allot.User, user string, opts Options) PeerView {
	all := people(usage, users, nil, true)
	me := all[user]
	if me == nil {
		me = &person{user: user}
	}
	v := PeerView{User: user, Team: me.team, Spend: me.spend, Requests: me.requests, TokensPerRequest: me.tokensPerRequest()}
	var team, org []*person
	for _, p := range sortedPeople(all) {
		org = append(org, p)
		if p.team == me.team {
			team = append(team, p)
		}
	}
	v.TeamGroup = peerGroup("team:"+me.team, team, me, opts.minGroup())
	v.OrgGroup = peerGroup("org", org, me, opts.minGroup())

	tasks := map[string]bool{}
	for _, u := range usage {
		if u.User == user {
			tasks[u.Task] = true
		}
	}
	for _, task := range slices.Sorted(maps.Keys(tasks)) {
		doing := people(usage, users, func(k allot.InsightKey) bool { return k.Task == task }, false)
		mine := doing[user]
		tp := TaskPeers{Task: task, Spend: mine.spend, Requests: mine.requests, InputPerRequest: mine.inputPerRequest(), TokensPerRequest: mine.tokensPerRequest()}
		var inTeam, inOrg []*person
		for _, p := range sortedPeople(doing) {
			if p.requests == 0 {
				continue
			}
			inOrg = append(inOrg, p)
			if p.team == me.team {
				inTeam = append(inTeam, p)
			}
		}
		tp.Team = taskGroup(inTeam, mine, opts.minGroup())
		tp.Org = taskGroup(inOrg, mine, opts.minGroup())
		v.Tasks = append(v.Tasks, tp)
	}
	slices.SortStableFunc(v.Tasks, func(a, b TaskPeers) int { return cmpDesc(int64(a.Spend), int64(b.Spend)) })
	return v
}

func taskGroup(group []*person, me *person, minGroup int) *TaskGroup {
	if len(group) < minGroup {
		return nil
	}
	var input, spend []int64
	for _, p := range group {
		input = append(input, p.inputPerRequest())
		spend = append(spend, int64(p.spend))
	}
	g := &TaskGroup{People: len(group), InputPerRequest: tokenSpread(input), SpendPercentile: percentileOf(spend, int64(me.spend))}
	if g.InputPerRequest.Median > 0 {
		g.VsMedian = float64(mulDiv(me.inputPerRequest(), 10, g.InputPerRequest.Median)) / 10
	}
	return g
}

// Member is one person of a team as their lead or an admin sees them.
type Member struct {
	User             string      `json:"user"`
	Spend            allot.Money `json:"spend_usd"`
	Requests         int64       `json:"requests"`
	TokensPerRequest int64       `json:"tokens_per_request"`
	SpendPercentile  int         `json:"spend_percentile"` // within the listed group
}

// Members lists the people of team (every team when ""), most spend first.
func Members(usage []allot.InsightUsage, users []allot.User, team string) []Member {
	var group []*person
	for _, p := range sortedPeople(people(usage, users, nil, true)) {
		if team == "" || p.team == team {
			group = append(group, p)
		}
	}
	var spend []int64
	for _, p := range group {
		spend = append(spend, int64(p.spend))
	}
	out := make([]Member, 0, len(group))
	for _, p := range group {
		out = append(out, Member{User: p.user, Spend: p.spend, Requests: p.requests, TokensPerRequest: p.tokensPerRequest(), SpendPercentile: percentileOf(spend, int64(p.spend))})
	}
	slices.SortStableFunc(out, func(a, b Member) int { return cmpDesc(int64(a.Spend), int64(b.Spend)) })
	return out
}

// sortedPeople lists people by name, for deterministic output.
func sortedPeople(m map[string]*person) []*person {
	out := make([]*person, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[name])
	}
	return out
}
