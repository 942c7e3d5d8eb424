package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// Totals are the sums of a group of events, as the usage views show them.
type Totals struct {
	Requests          int64       `json:"requests"`
	InputTokens       int64       `json:"input_tokens"`
	CacheReadTokens   int64       `json:"cache_read_tokens"`
	CacheWriteTokens  int64       `json:"cache_write_tokens"`
	OutputTokens      int64       `json:"output_tokens"`
	ReasoningTokens   int64       `json:"reasoning_tokens"`
	EstimatedRequests int64       `json:"estimated_requests"`
	CostUSD           allot.Money `json:"cost_usd"`
}

func (t *Totals) add(r allot.ReportRow) {
	t.Requests = allot.SatAdd(t.Requests, r.Requests)
	t.InputTokens = allot.SatAdd(t.InputTokens, r.Tokens.Input)
	t.CacheReadTokens = allot.SatAdd(t.CacheReadTokens, r.Tokens.CacheRead)
	t.CacheWriteTokens = allot.SatAdd(t.CacheWriteTokens, r.Tokens.CacheWrite())
	t.OutputTokens = allot.SatAdd(t.OutputTokens, r.Tokens.Output)
	t.ReasoningTokens = allot.SatAdd(t.ReasoningTokens, r.Tokens.Reasoning)
	t.EstimatedRequests = allot.SatAdd(t.EstimatedRequests, r.EstimatedRequests)
	t.CostUSD = t.CostUSD.Plus(r.Cost)
}

// ShareRow is one value of a dimension with its totals and its share of
// the view's cost (0..1, for display only; money stays exact in cost_usd).
type ShareRow struct {
	Name string `json:"name"`
	Totals
	Share float64 `json:"share"`
}

// DayPart is one stacked segment of a day's spend.
type DayPart struct {
	Name    string      `json:"name"`
	CostUSD allot.Money `json:"cost_usd"`
}

// DayRow is one UTC day of the view: its totals and its spend split by
// the stacking dimension.
type DayRow struct {
	Day      string      `json:"day"`
	Requests int64       `json:"requests"`
	Tokens   int64       `json:"tokens"` // input + output
	CostUSD  allot.Money `json:"cost_usd"`
	Parts    []DayPart   `json:"parts"`
}

// PersonRow is one person of a team or org view; Name is a rank label
// ("person 3") when names are not shown, and You marks the caller.
type PersonRow struct {
	Name string `json:"name"`
	Team string `json:"team,omitempty"`
	Totals
	Share float64 `json:"share"`
	You   bool    `json:"you,omitempty"`
}

// Overview is GET /api/v1/overview: everything the My usage, Team and
// Organization pages show for a range, built from the Reporter.
type Overview struct {
	Scope       string                `json:"scope"`
	User        string                `json:"user,omitempty"`
	Team        string                `json:"team,omitempty"`
	From        time.Time             `json:"from"`
	To          time.Time             `json:"to"`
	Filter      map[string]string     `json:"filter"`
	Totals      Totals                `json:"totals"`
	Stack       string                `json:"stack"`
	Daily       []DayRow              `json:"daily"`
	By          map[string][]ShareRow `json:"by"`
	People      []PersonRow           `json:"people"`
	PeopleNamed bool                  `json:"people_named"`
	PeopleNote  string                `json:"people_note,omitempty"`
	Forecast    *allot.Forecast       `json:"forecast"` // this month's, by the one forecast (allot.ForecastMonth)
	Unpriced    []allot.UnpricedModel `json:"unpriced,omitempty"`
}

// Limits of an overview.
const (
	maxStackParts = 8   // the top parts of a stacked day; the rest is "other"
	maxShareRows  = 25  // rows per dimension; the rest is "other"
	maxDays       = 800 // days in one overview
	OtherName     = "(other)"
)

var shareDims = []allot.Dimension{allot.DimTeam, allot.DimModel, allot.DimTask, allot.DimApp}

// overview answers GET /api/v1/overview?scope=user|team|org&user=&team=
// &from=&to=&model=&task=&app=&provider=&stack=&top=.
func (u *Server) overview(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	q := r.URL.Query()
	ctx := r.Context()
	now := u.now().UTC()
	from, to, err := ParseRange(q.Get("from"), q.Get("to"), now)
	if err != nil {
		return err
	}
	if to.Sub(from) > maxDays*24*time.Hour {
		return allot.Errorf(allot.EInvalid, "an overview covers at most %d days; narrow from/to", maxDays)
	}
	roster, err := u.roster(ctx)
	if err != nil {
		return err
	}
	s, err := u.resolve(p, roster, q.Get("scope"), q.Get("user"), q.Get("team"))
	if err != nil {
		return err
	}
	stack := allot.Dimension(q.Get("stack"))
	if stack == "" {
		stack = map[string]allot.Dimension{ScopeUser: allot.DimModel, ScopeTeam: allot.DimTask, ScopeOrg: allot.DimTeam}[s.scope]
	}
	switch stack {
	case allot.DimTeam, allot.DimModel, allot.DimTask, allot.DimApp, allot.DimProvider, allot.DimUser:
	default:
		return allot.Errorf(allot.EInvalid, "stack %q is not team, model, task, app, provider or user", stack)
	}
	top := 10
	if v := q.Get("top"); v != "" {
		if top, err = strconv.Atoi(v); err != nil || top < 1 || top > 1000 {
			return allot.Errorf(allot.EInvalid, "top %q is not a number from 1 to 1000", v)
		}
	}
	filter := s.filter(r)
	ov := Overview{Scope: s.scope, User: s.user, Team: s.team, From: from, To: to, Filter: map[string]string{},
		Stack: string(stack), By: map[string][]ShareRow{}, People: []PersonRow{}}
	for d, v := range filter {
		ov.Filter[string(d)] = v
	}

	// The reports the view needs, run at once: totals by team, model, task,
	// app and person (shares and people come from this one), spend per day
	// stacked, and this month's spend when the range does not cover the
	// month so far. Each report reads every rollup of the range once, so
	// fewer reports is what keeps a big org's page fast.
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	monthInRange := !from.After(monthStart) && !to.Before(now)
	queries := []allot.ReportQuery{
		{By: append(slices.Clone(shareDims), allot.DimUser), From: from, To: to, Filter: filter},
		{By: []allot.Dimension{allot.DimDay, stack}, From: from, To: to, Filter: filter},
	}
	month := -1
	if now.After(monthStart) && !monthInRange {
		month = len(queries)
		queries = append(queries, allot.ReportQuery{By: []allot.Dimension{allot.DimDay}, From: monthStart, To: now, Filter: filter})
	}
	results, err := u.reports(ctx, queries)
	if err != nil {
		return fmt.Errorf("overview: %w", err)
	}
	for _, row := range results[0] {
		ov.Totals.add(row)
	}
	for i, d := range shareDims {
		ov.By[string(d)] = shares(results[0], i, ov.Totals.CostUSD)
	}
	if s.scope != ScopeUser {
		named := u.namesAll(p, roster, results[0], len(shareDims)) // the report is by shareDims, then user
		if stack == allot.DimUser && !named {
			return allot.Errorf(allot.EForbidden, "people are not shown by name to %q here (peer_visibility, or a group under %d people); stack by team, model, task, app or provider", p.User, allot.MinPeerGroup)
		}
		u.people(&ov, p, results[0], named, top)
	}
	ov.Daily = days(results[1], from, to)

	// This month's forecast, whatever the range, by the one rule; run out
	// against the scope's own monthly budget when the view is the whole
	// scope (no model, task, app or provider filter).
	if now.After(monthStart) {
		var spent allot.Money
		first := monthStart.Format("2006-01-02")
		if month >= 0 {
			for _, row := range results[month] {
				spent = spent.Plus(row.Cost)
			}
		} else {
			for _, row := range results[1] {
				if row.Dims[0] >= first {
					spent = spent.Plus(row.Cost)
				}
			}
		}
		var limit *allot.Money
		if !narrowed(filter) {
			limit = u.monthLimit(s.budgetScope(), now)
		}
		f := allot.ForecastMonth(spent, now, limit)
		ov.Forecast = &f
	}
	if s.scope == ScopeOrg && u.Unpriced != nil {
		if ov.Unpriced, err = u.Unpriced(ctx); err != nil {
			return fmt.Errorf("overview: %w", err)
		}
	}
	writeJSON(w, ov)
	return nil
}

// narrowed reports whether a view's filter narrows its scope to some
// models, tasks, apps or providers.
func narrowed(filter map[allot.Dimension]string) bool {
	for _, d := range []allot.Dimension{allot.DimModel, allot.DimTask, allot.DimApp, allot.DimProvider} {
		if filter[d] != "" {
			return true
		}
	}
	return false
}

// namesAll reports whether p may see by name (allot.CanSee) everyone
// whose usage rows hold at dimension position user: a view names its
// people only when it may name them all, so no one stands out as the one
// left unnamed.
func (u *Server) namesAll(p allot.Principal, roster allot.Roster, rows []allot.ReportRow, user int) bool {
	vis := u.peerVisibility()
	seen := map[string]bool{}
	for _, row := range rows {
		name := row.Dims[user]
		if seen[name] {
			continue
		}
		seen[name] = true
		if !allot.CanSee(p, roster.Subject(name), vis) {
			return false
		}
	}
	return true
}

// people fills ov.People from the (team, model, task, app, user) report: the team's members
// or the org's top spenders, by name when named, else by rank, and not at
// all for groups smaller than allot.MinPeerGroup.
func (u *Server) people(ov *Overview, p allot.Principal, rows []allot.ReportRow, named bool, top int) {
	ov.PeopleNamed = named
	byUser := map[string]*PersonRow{}
	var order []string
	const team, user = 0, 4 // positions in the report's dimensions
	for _, row := range rows {
		pr := byUser[row.Dims[user]]
		if pr == nil {
			pr = &PersonRow{Name: row.Dims[user], Team: row.Dims[team], You: row.Dims[user] == p.User}
			byUser[row.Dims[user]] = pr
			order = append(order, row.Dims[user])
		}
		pr.Totals.add(row)
	}
	list := make([]PersonRow, 0, len(order))
	for _, name := range order {
		pr := byUser[name]
		pr.Share = share(pr.CostUSD, ov.Totals.CostUSD)
		list = append(list, *pr)
	}
	slices.SortStableFunc(list, func(a, b PersonRow) int {
		if c := cmp.Compare(b.CostUSD, a.CostUSD); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if !named {
		if len(list) < allot.MinPeerGroup {
			ov.PeopleNote = fmt.Sprintf("fewer than %d people used AI here in this range, so they are not listed (it would identify them)", allot.MinPeerGroup)
			return
		}
		for i := range list {
			if list[i].You {
				list[i].Name = p.User
			} else {
				list[i].Name = fmt.Sprintf("person %d", i+1)
			}
			list[i].Team = ""
		}
		ov.PeopleNote = "names are hidden by the peer_visibility policy"
	}
	if ov.Scope == ScopeOrg && len(list) > top {
		list = list[:top]
	}
	ov.People = list
}

// reports runs the queries concurrently (the store's readers work in
// parallel) and returns their rows in order.
func (u *Server) reports(ctx context.Context, qs []allot.ReportQuery) ([][]allot.ReportRow, error) {
	out := make([][]allot.ReportRow, len(qs))
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() { out[i], errs[i] = u.Reports.Report(ctx, q) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// shares totals rows by the dimension at position i, highest cost first,
// folding the tail into OtherName.
func shares(rows []allot.ReportRow, i int, total allot.Money) []ShareRow {
	idx := map[string]int{}
	var out []ShareRow
	for _, row := range rows {
		k, ok := idx[row.Dims[i]]
		if !ok {
			k = len(out)
			idx[row.Dims[i]] = k
			out = append(out, ShareRow{Name: row.Dims[i]})
		}
		out[k].Totals.add(row)
	}
	slices.SortFunc(out, func(a, b ShareRow) int {
		if c := cmp.Compare(b.CostUSD, a.CostUSD); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if len(out) > maxShareRows {
		other := ShareRow{Name: OtherName}
		for _, r := range out[maxShareRows-1:] {
			other.Requests = allot.SatAdd(other.Requests, r.Requests)
			other.InputTokens = allot.SatAdd(other.InputTokens, r.InputTokens)
			other.CacheReadTokens = allot.SatAdd(other.CacheReadTokens, r.CacheReadTokens)
			other.CacheWriteTokens = allot.SatAdd(other.CacheWriteTokens, r.CacheWriteTokens)
			other.OutputTokens = allot.SatAdd(other.OutputTokens, r.OutputTokens)
			other.ReasoningTokens = allot.SatAdd(other.ReasoningTokens, r.ReasoningTokens)
			other.EstimatedRequests = allot.SatAdd(other.EstimatedRequests, r.EstimatedRequests)
			other.CostUSD = other.CostUSD.Plus(r.CostUSD)
		}
		out = append(out[:maxShareRows-1], other)
	}
	if out == nil {
		out = []ShareRow{}
	}
	for k := range out {
		out[k].Share = share(out[k].CostUSD, total)
	}
	return out
}

// days turns a (day, stack) report into one row per UTC day of [from,
// to), empty days included, with the top stack values as parts.
func days(rows []allot.ReportRow, from, to time.Time) []DayRow {
	cost := map[string]allot.Money{}
	for _, row := range rows {
		cost[row.Dims[1]] = cost[row.Dims[1]].Plus(row.Cost)
	}
	keys := make([]string, 0, len(cost))
	for k := range cost {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(cost[b], cost[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	kept := map[string]bool{}
	for i, k := range keys {
		kept[k] = i < maxStackParts || len(keys) == maxStackParts+1
	}
	byDay := map[string]*DayRow{}
	var out []DayRow
	first := from.UTC().Truncate(24 * time.Hour)
	last := to.UTC().Add(-time.Microsecond).Truncate(24 * time.Hour)
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		out = append(out, DayRow{Day: d.Format("2006-01-02"), Parts: []DayPart{}})
	}
	for i := range out {
		byDay[out[i].Day] = &out[i]
	}
	for _, row := range rows {
		d := byDay[row.Dims[0]]
		if d == nil { // an hour widened past the range's end
			continue
		}
		d.Requests = allot.SatAdd(d.Requests, row.Requests)
		d.Tokens = allot.SatAdd(d.Tokens, row.Tokens.Total())
		d.CostUSD = d.CostUSD.Plus(row.Cost)
		name := row.Dims[1]
		if !kept[name] {
			name = OtherName
		}
		found := false
		for j := range d.Parts {
			if d.Parts[j].Name == name {
				d.Parts[j].CostUSD = d.Parts[j].CostUSD.Plus(row.Cost)
				found = true
			}
		}
		if !found {
			d.Parts = append(d.Parts, DayPart{Name: name, CostUSD: row.Cost})
		}
	}
	rank := map[string]int{OtherName: len(keys)}
	for i, k := range keys {
		rank[k] = i
	}
	for i := range out {
		slices.SortFunc(out[i].Parts, func(a, b DayPart) int { return cmp.Compare(rank[a.Name], rank[b.Name]) })
	}
	if out == nil {
		out = []DayRow{}
	}
	return out
}

// share is part/total as a fraction for display; 0 when total is 0.
func share(part, total allot.Money) float64 {
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}
