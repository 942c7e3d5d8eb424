package api

import (
	"net/http"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

// maxPlans bounds the seat plans one comparison asks for.
const maxPlans = 8

// PlanView is GET /api/v1/pricing-plans: `allot pricing-plans compare`
// for the scope the caller may see, with how many people each seat plan
// would be cheaper for (those whose monthly consumption is above the
// seat price: the break-even is the seat price itself). People are
// listed by name only where the caller may see every one of them by name.
type PlanView struct {
	Scope       string                 `json:"scope"`
	Period      insights.Period        `json:"period"`
	Plans       []PlanBreakEven        `json:"plans"`
	People      []insights.PersonPlans `json:"people"`
	PeopleCount int                    `json:"people_count"`
	Totals      []insights.PlanTotal   `json:"totals"`
}

// PlanBreakEven is one seat plan and whom it would be cheaper for.
type PlanBreakEven struct {
	insights.SeatPlan
	CheaperFor int `json:"cheaper_for"` // people whose consumption is above the seat price
}

// pricingPlans answers GET /api/v1/pricing-plans?seat_usd=30&plan=max=100&days=30&user=NAME&team=NAME.
func (h *Server) pricingPlans(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	q := r.URL.Query()
	specs := q["plan"]
	if s := q.Get("seat_usd"); s != "" {
		specs = append([]string{"seat=" + s}, specs...)
	}
	if len(specs) == 0 {
		return allot.Errorf(allot.EInvalid, "give a seat price with seat_usd=30 or plans with plan=NAME=USD")
	}
	if len(specs) > maxPlans {
		return allot.Errorf(allot.EInvalid, "at most %d plans per comparison, not %d", maxPlans, len(specs))
	}
	plans, err := insights.ParsePlans(specs)
	if err != nil {
		return err
	}
	days := 30
	if s := q.Get("days"); s != "" {
		if days, err = insights.ParseDays(s); err != nil {
			return err
		}
	}
	if h.Source == nil || h.People == nil {
		return allot.Errorf(allot.ENotFound, "this store keeps no insights")
	}
	ctx := r.Context()
	users, err := h.People.Users(ctx)
	if err != nil {
		return err
	}
	opts := insights.DefaultOptions()
	if h.Options != nil {
		opts = h.Options()
	}
	scope, err := insights.Authorize(p, insights.Scope{User: allot.CapLabel(q.Get("user")), Team: allot.CapLabel(q.Get("team"))}, users, opts.Visibility)
	if err != nil {
		return err
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	period := insights.LastDays(now, days)
	usage, err := h.Source.InsightUsage(ctx, allot.InsightQuery{From: period.From, To: period.To, User: scope.User, Team: scope.Team, Totals: true})
	if err != nil {
		return err
	}
	var in []allot.User
	for _, u := range users {
		if (scope.User == "" || u.Name == scope.User) && (scope.Team == "" || u.Team == scope.Team) {
			in = append(in, u)
		}
	}
	c := insights.ComparePlans(usage, in, period, plans)
	v := PlanView{Scope: scope.String(), Period: c.Period, PeopleCount: len(c.People), Totals: c.Totals, People: []insights.PersonPlans{}}
	names := make([]string, len(c.People))
	for i, pp := range c.People {
		names[i] = pp.User
	}
	if insights.NamesVisible(p, names, users, opts) {
		v.People = c.People
	}
	for _, plan := range plans {
		be := PlanBreakEven{SeatPlan: plan}
		for _, pp := range c.People {
			if pp.Consumption > plan.USD {
				be.CheaperFor++
			}
		}
		v.Plans = append(v.Plans, be)
	}
	writeJSON(w, v)
	return nil
}
