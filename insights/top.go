package insights

import (
	"slices"

	"github.com/allot-dev/allot"
)

// TopDimensions are the dimensions top consumers can be ranked by.
var TopDimensions = []allot.Dimension{allot.DimTask, allot.DimUser, allot.DimTeam, allot.DimModel, allot.DimApp, allot.DimProvider}

// TopRow is one consumer of a period: its spend and share of the total,
// its size per call, and how it moved against the period before.
type TopRow struct {
	Name             string      `json:"name"`
	Spend            allot.Money `json:"spend_usd"`
	Share            float64     `json:"share"` // of the period's total spend, 0..1
	Requests         int64       `json:"requests"`
	Tokens           int64       `json:"tokens"` // input + output
	TokensPerRequest int64       `json:"tokens_per_request"`
	PreviousSpend    allot.Money `json:"previous_spend_usd"`
	Trend            *float64    `json:"trend"` // relative change of spend, e.g. 0.25 for +25%; null when the previous period had none
}

// dimValue returns the value of dimension d in k.
func dimValue(k allot.InsightKey, d allot.Dimension) string {
	switch d {
	case allot.DimTask:
		return k.Task
	case allot.DimUser:
		return k.User
	case allot.DimTeam:
		return k.Team
	case allot.DimModel:
		return k.Model
	case allot.DimApp:
		return k.App
	case allot.DimProvider:
		return k.Provider
	}
	return ""
}

// Top ranks the consumers of current by dimension by, most spend first
// (ties by requests, then name), at most limit of them (0: all), with
// their trend against previous. An unknown dimension is EInvalid.
func Top(current, previous []allot.InsightUsage, by allot.Dimension, limit int) ([]TopRow, error) {
	if !slices.Contains(TopDimensions, by) {
		return nil, allot.Errorf(allot.EInvalid, "cannot rank by %q; use task, user, team, model, app or provider", by)
	}
	rows := map[string]*TopRow{}
	var total allot.Money
	for _, u := range current {
		name := dimValue(u.InsightKey, by)
		r := rows[name]
		if r == nil {
			r = &TopRow{Name: name}
			rows[name] = r
		}
		r.Spend = r.Spend.Plus(u.Cost)
		r.Requests = allot.SatAdd(r.Requests, u.Requests)
		r.Tokens = allot.SatAdd(r.Tokens, u.Tokens.Total())
		total = total.Plus(u.Cost)
	}
	prev := map[string]allot.Money{}
	for _, u := range previous {
		k := dimValue(u.InsightKey, by)
		prev[k] = prev[k].Plus(u.Cost)
	}
	out := make([]TopRow, 0, len(rows))
	for _, r := range rows {
		r.Share = ratio(int64(r.Spend), int64(total))
		r.TokensPerRequest = perRequest(r.Tokens, r.Requests)
		r.PreviousSpend = prev[r.Name]
		if r.PreviousSpend > 0 {
			t := ratio(int64(r.Spend-r.PreviousSpend), int64(r.PreviousSpend))
			r.Trend = &t
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b TopRow) int {
		switch {
		case a.Spend != b.Spend:
			return cmpDesc(int64(a.Spend), int64(b.Spend))
		case a.Requests != b.Requests:
			return cmpDesc(a.Requests, b.Requests)
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// cmpDesc orders larger values first.
func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
