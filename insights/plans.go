package insights

import (
	"slices"
	"strings"

	"github.com/allot-dev/allot"
)

// SeatPlan is a flat per-seat licence: USD per person per month.
type SeatPlan struct {
	Name string      `json:"name"`
	USD  allot.Money `json:"usd_per_seat_month"`
}

// ConsumptionPlan names paying for what is used, in comparisons.
const ConsumptionPlan = "consumption"

// ParsePlan reads "NAME=USD", e.g. "team=30" or "enterprise=60.50".
func ParsePlan(s string) (SeatPlan, error) {
	name, price, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || name == ConsumptionPlan || strings.ContainsAny(name, " \t,") {
		return SeatPlan{}, allot.Errorf(allot.EInvalid, "plan %q is not NAME=USD, e.g. team=30 (the name %q is reserved)", s, ConsumptionPlan)
	}
	m, err := allot.ParseUSD(price)
	if err != nil || m < 0 {
		return SeatPlan{}, allot.Errorf(allot.EInvalid, "plan %q: %q is not a dollar amount such as 30 or 24.99", s, strings.TrimSpace(price))
	}
	return SeatPlan{Name: name, USD: m}, nil
}

// PersonPlans is one person's month on consumption against each seat plan.
type PersonPlans struct {
	User        string      `json:"user"`
	Team        string      `json:"team"`
	Consumption allot.Money `json:"consumption_usd"` // the period's spend scaled to 30 days
	Cheapest    string      `json:"cheapest"`        // a plan name or "consumption"
	Saves       allot.Money `json:"saves_usd"`       // the cheapest against the dearest option
}

// PlanTotal is what the whole org would pay a month under one choice.
type PlanTotal struct {
	Plan  string      `json:"plan"` // a plan name, "consumption", or "cheapest per person"
	Total allot.Money `json:"total_usd"`
}

// PlanComparison compares, person by person and for the org, paying per
// use with per-seat plans.
type PlanComparison struct {
	Period Period        `json:"period"`
	Plans  []SeatPlan    `json:"plans"`
	People []PersonPlans `json:"people"`
	Totals []PlanTotal   `json:"totals"`
}

// CheapestPerPerson names the total where each person gets their cheapest option.
const CheapestPerPerson = "cheapest per person"

// ComparePlans compares consumption (the period's spend scaled to a 30-day
// month) with each seat plan for every active user and everyone with
// usage, dearest consumers first.
func ComparePlans(usage []allot.InsightUsage, users []allot.User, period Period, plans []SeatPlan) PlanComparison {
	c := PlanComparison{Period: period, Plans: plans}
	totals := map[string]allot.Money{}
	for _, p := range sortedPeople(people(usage, users, nil, true)) {
		pp := PersonPlans{User: p.user, Team: p.team, Consumption: monthly(p.spend, period.Days), Cheapest: ConsumptionPlan}
		best, worst := pp.Consumption, pp.Consumption
		for _, plan := range plans {
			totals[plan.Name] = totals[plan.Name].Plus(plan.USD)
			if plan.USD < best {
				best, pp.Cheapest = plan.USD, plan.Name
			}
			worst = max(worst, plan.USD)
		}
		pp.Saves = worst - best
		totals[ConsumptionPlan] = totals[ConsumptionPlan].Plus(pp.Consumption)
		totals[CheapestPerPerson] = totals[CheapestPerPerson].Plus(best)
		c.People = append(c.People, pp)
	}
	slices.SortStableFunc(c.People, func(a, b PersonPlans) int { return cmpDesc(int64(a.Consumption), int64(b.Consumption)) })
	c.Totals = append(c.Totals, PlanTotal{ConsumptionPlan, totals[ConsumptionPlan]})
	for _, plan := range plans {
		c.Totals = append(c.Totals, PlanTotal{plan.Name, totals[plan.Name]})
	}
	c.Totals = append(c.Totals, PlanTotal{CheapestPerPerson, totals[CheapestPerPerson]})
	return c
}

// ParsePlans reads several NAME=USD plans; names must differ.
func ParsePlans(specs []string) ([]SeatPlan, error) {
	var out []SeatPlan
	seen := map[string]bool{}
	for _, s := range specs {
		p, err := ParsePlan(s)
		if err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, allot.Errorf(allot.EInvalid, "plan %q is given twice; give each plan a different name", p.Name)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}
