package insights

import (
	"context"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// Authorize decides the scope viewer may see when asking for want (an
// empty want is the viewer's default: themselves, or the org for admins).
// A person's insights are shown as allot.CanSee allows (members
// themselves; leads a member of their team by name only under
// allot.PeerNamed in a team of at least allot.MinPeerGroup; admins
// everyone), a team's as allot.CanSeeTeam (its lead, admins), the org's
// to admins. Refusals are EForbidden, unknown people and teams ENotFound.
func Authorize(viewer allot.Principal, want Scope, users []allot.User, visibility string) (Scope, error) {
	if want.User != "" && want.Team != "" {
		return Scope{}, allot.Errorf(allot.EInvalid, "ask for one user or one team, not both")
	}
	roster := allot.NewRoster(users)
	if want == (Scope{}) {
		if viewer.Role == allot.RoleAdmin {
			return Scope{}, nil
		}
		return Scope{User: viewer.User}, nil
	}
	if want.User != "" {
		who := roster.Subject(want.User)
		if who.Team == "" && viewer.Role == allot.RoleAdmin {
			return Scope{}, allot.Errorf(allot.ENotFound, "no active user %q; see allot apply for the people allot knows", want.User)
		}
		if allot.CanSee(viewer, who, visibility) {
			return want, nil
		}
		switch {
		case viewer.Role != allot.RoleLead:
			return Scope{}, allot.Errorf(allot.EForbidden, "members see only their own insights; leave out --user and --team (or ask for user %q)", viewer.User)
		case who.Team != viewer.Team || viewer.Team == "":
			return Scope{}, allot.Errorf(allot.EForbidden, "a lead sees only the people of their own team (%s)", viewer.Team)
		}
		return Scope{}, allot.Errorf(allot.EForbidden, "team members' own insights are shown to leads only when the org sets peer_visibility: named and the team has at least %d people; ask for --team %s instead", allot.MinPeerGroup, viewer.Team)
	}
	if roster.Size(want.Team) == 0 && viewer.Role == allot.RoleAdmin {
		return Scope{}, allot.Errorf(allot.ENotFound, "no team %q with active users", want.Team)
	}
	if allot.CanSeeTeam(viewer, want.Team) {
		return want, nil
	}
	if viewer.Role == allot.RoleLead {
		return Scope{}, allot.Errorf(allot.EForbidden, "a lead sees only their own team (%s), not %q", viewer.Team, want.Team)
	}
	return Scope{}, allot.Errorf(allot.EForbidden, "members see only their own insights; leave out --user and --team (or ask for user %q)", viewer.User)
}

// NamesVisible reports whether viewer may see every one of people by name
// (allot.CanSee under opts.Visibility): a view names its people only when
// it may name them all, so no one stands out as the one left unnamed.
func NamesVisible(viewer allot.Principal, people []string, users []allot.User, opts Options) bool {
	roster := allot.NewRoster(users)
	for _, name := range people {
		if !allot.CanSee(viewer, roster.Subject(name), opts.Visibility) {
			return false
		}
	}
	return true
}

func teamSize(users []allot.User, team string) int {
	n := 0
	for _, u := range users {
		if u.Team == team {
			n++
		}
	}
	return n
}

// Request asks for insights.
type Request struct {
	Scope Scope        // wanted; empty for the viewer's default
	Days  int          // period length (default 30)
	Limit *allot.Money // optional: when would spend reach this this month
	// LimitFor, when Limit is unset, gives the limit of the scope's own
	// monthly budget ("user:NAME", "team:NAME", "org"), as
	// budget.Rationer.MonthLimit does; nil: no limit.
	LimitFor func(scope string) *allot.Money
}

// Insights is the answer to `allot insights` and GET /api/v1/insights.
type Insights struct {
	Scope           string           `json:"scope"` // user:NAME, team:NAME or org
	Period          Period           `json:"period"`
	SpendUSD        allot.Money      `json:"spend_usd"`
	Requests        int64            `json:"requests"`
	Tokens          int64            `json:"tokens"`
	PercentileTeam  *int             `json:"percentile_team"` // of spend; null outside a person's view or in a team under the minimum size
	PercentileOrg   *int             `json:"percentile_org"`
	TopTasks        []TopRow         `json:"top_tasks"`
	TopModels       []TopRow         `json:"top_models"`
	Untagged        *TopRow          `json:"untagged,omitempty"` // spend on calls without a task
	Peers           *PeerView        `json:"peers,omitempty"`
	Members         []Member         `json:"members,omitempty"` // only where names may be shown
	Recommendations []Recommendation `json:"recommendations"`
	// RecommendationGroups (team and org views; empty for a person's):
	// one item per kind, task and model change, people named only where
	// the viewer may see them all.
	RecommendationGroups []RecommendationGroup  `json:"recommendation_groups"`
	SavingsByKind        map[string]allot.Money `json:"savings_by_kind"`
	Forecast             Forecast               `json:"forecast"`
	GoodPractice         []Practice             `json:"good_practice"`
}

// Build authorizes viewer, loads the aggregates and computes the insights.
func Build(ctx context.Context, src allot.InsightSource, users []allot.User, pricer allot.Pricer, viewer allot.Principal, req Request, opts Options, now time.Time) (*Insights, error) {
	scope, err := Authorize(viewer, req.Scope, users, opts.Visibility)
	if err != nil {
		return nil, err
	}
	days := req.Days
	if days <= 0 {
		days = 30
	}
	d, err := Load(ctx, src, users, scope, LastDays(now, days), now)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == nil && req.LimitFor != nil {
		limit = req.LimitFor(scope.String())
	}
	return Compute(d, pricer, viewer, limit, opts), nil
}

// Compute assembles the insights of d's scope (already authorized) as
// viewer may see them.
func Compute(d *Data, pricer allot.Pricer, viewer allot.Principal, limit *allot.Money, opts Options) *Insights {
	mine := scoped(d.Usage, d.Scope)
	ins := &Insights{Scope: d.Scope.String(), Period: d.Period, SavingsByKind: map[string]allot.Money{}, Recommendations: []Recommendation{},
		RecommendationGroups: []RecommendationGroup{}}
	for _, u := range mine {
		ins.SpendUSD = ins.SpendUSD.Plus(u.Cost)
		ins.Requests = allot.SatAdd(ins.Requests, u.Requests)
		ins.Tokens = allot.SatAdd(ins.Tokens, u.Tokens.Total())
	}
	prev := scoped(d.Previous, d.Scope)
	ins.TopTasks, _ = Top(mine, prev, allot.DimTask, 10)
	ins.TopModels, _ = Top(mine, prev, allot.DimModel, 10)
	for _, t := range ins.TopTasks {
		if t.Name == allot.UntaggedTask {
			ins.Untagged = &t
		}
	}

	var tasks []string
	if d.Scope.User != "" || d.Scope.Team != "" {
		seen := map[string]bool{}
		for _, u := range mine {
			if !seen[u.Task] {
				seen[u.Task] = true
				tasks = append(tasks, u.Task)
			}
		}
		slices.Sort(tasks)
		if tasks == nil {
			tasks = []string{}
		}
	}
	ins.GoodPractice = GoodPractice(d.Usage, tasks, opts)
	if ins.GoodPractice == nil {
		ins.GoodPractice = []Practice{}
	}

	named := false
	if d.Scope.User != "" {
		p := Peers(d.Usage, d.Users, d.Scope.User, opts)
		ins.Peers = &p
		ins.PercentileTeam, ins.PercentileOrg = p.TeamGroup.SpendPercentile, p.OrgGroup.SpendPercentile
	} else {
		members := Members(d.Usage, d.Users, d.Scope.Team)
		who := make([]string, len(members))
		for i, m := range members {
			who[i] = m.User
		}
		if named = NamesVisible(viewer, who, d.Users, opts); named {
			ins.Members = members[:min(len(members), 50)]
		}
	}

	recs := Recommend(d, pricer, opts)
	for _, r := range recs {
		ins.SavingsByKind[r.Kind] = ins.SavingsByKind[r.Kind].Plus(r.MonthlySavings)
	}
	if d.Scope.User == "" {
		if !named && teamSize(d.Users, d.Scope.Team) < opts.minGroup() && d.Scope.Team != "" {
			recs = nil // a small team's recommendations would point at its people
		}
		ins.RecommendationGroups = GroupRecommendations(recs, named)
		if len(recs) > opts.TopRecommend && opts.TopRecommend > 0 {
			recs = recs[:opts.TopRecommend]
		}
		if !named {
			for i := range recs {
				recs[i].User = "" // anonymous: the lead sees the change, not who
			}
		}
	}
	ins.Recommendations = append(ins.Recommendations, recs...)
	ins.Forecast = ForecastSpend(d.Daily, d.Now, limit, opts.AnomalyFactor)
	return ins
}
