package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// World is what generated events are drawn from.
type World struct {
	Teams     []string
	Users     map[string][]string // team -> users
	Providers map[string][]string // provider -> models
	Tasks     []string
	Apps      []string
}

// SmallWorld is a handful of teams, people, models, tasks and apps: groups
// repeat often, so rollups are updated, not only created.
var SmallWorld = World{
	Teams: []string{"platform", "data", "web"},
	Users: map[string][]string{
		"platform": {"alice", "arno"},
		"data":     {"bob", "bea", "björn"},
		"web":      {"carol"},
	},
	Providers: map[string][]string{
		"openai":    {"gpt-4o", "gpt-4o-mini", "o3"},
		"anthropic": {"claude-sonnet-4-5", "claude-haiku-4-5"},
	},
	Tasks: []string{"untagged", "review", "chat", "Refactor"},
	Apps:  []string{"claude-cli", "codex", "openai-python", ""},
}

// GenEvents returns n events, deterministic for a seed, with distinct times
// (whole microseconds) in [start, start+span) and every field set: ids of
// both forms (32 hex characters and free text), unpriced and estimated
// calls, downgrades (served differs from requested), empty sessions and
// apps. Unpriced calls use models named "custom-*" or "local-*".
func GenEvents(seed uint64, n int, start time.Time, span time.Duration, w World) []allot.Event {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	providers := make([]string, 0, len(w.Providers))
	for p := range w.Providers {
		providers = append(providers, p)
	}
	slices.Sort(providers)
	usedTimes := map[int64]bool{}
	out := make([]allot.Event, n)
	for i := range out {
		team := pick(w.Teams)
		user := pick(w.Users[team])
		prov := pick(providers)
		model := pick(w.Providers[prov])
		served := model
		if r.IntN(10) == 0 {
			served = pick(w.Providers[prov]) // a downgrade or an alias
		}
		known := true
		switch r.IntN(25) {
		case 0:
			model, served, known = "custom-"+user, "custom-"+user, false
		case 1:
			model, served, known = "local-llm", "", false // the provider named no model
		}
		var off int64
		for {
			off = r.Int64N(span.Microseconds())
			if !usedTimes[off] {
				usedTimes[off] = true
				break
			}
		}
		in := r.Int64N(20000)
		cr := r.Int64N(in/2 + 1)
		cw5 := r.Int64N((in-cr)/4 + 1)
		cw1 := r.Int64N((in-cr-cw5)/4 + 1)
		outTok := r.Int64N(4000)
		reasoning := r.Int64N(outTok/2 + 1)
		cost := allot.Money(in*2500+outTok*10000+r.Int64N(1000)) * allot.NanoUSD
		if !known {
			cost = 0
		}
		id := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		switch r.IntN(8) {
		case 0:
			id = fmt.Sprintf("otlp-%d-%d", seed, i) // free text
		case 1:
			id = fmt.Sprintf("imp:%011d", i) // free text, exactly 16 bytes
		}
		session := ""
		if r.IntN(3) > 0 {
			session = fmt.Sprintf("s-%s-%d", user, r.IntN(5))
		}
		status := 200
		switch r.IntN(20) {
		case 0:
			status = 429
		case 1:
			status = 500
		case 2:
			status = allot.StatusClientGone
		}
		role := allot.RoleMember
		if strings.HasPrefix(user, "a") {
			role = allot.RoleAdmin
		}
		route := allot.RouteChat
		if prov == "anthropic" {
			route = allot.RouteMessages
		}
		source := allot.SourceGateway
		if strings.HasPrefix(id, "otlp") {
			source = allot.SourceOTLP
		}
		out[i] = allot.Event{
			ID:   id,
			Time: start.Add(time.Duration(off) * time.Microsecond).UTC(),
			Principal: allot.Principal{Org: "acme", Team: team, User: user, KeyID: "k" + user[:1] + "0000001",
				KeyLabel: pick([]string{"laptop", "ci"}), Role: role},
			Provider: prov, RequestedModel: model, ServedModel: served, Route: route,
			Task: pick(w.Tasks), Session: session, App: pick(w.Apps), Source: source,
			Status: status, Stream: r.IntN(2) == 0,
			Latency: time.Duration(r.Int64N(90_000_000)) * time.Microsecond, TTFT: time.Duration(r.Int64N(2_000_000)) * time.Microsecond,
			RequestBytes: r.Int64N(1 << 20), MaxTokens: r.Int64N(3) * 4096, Messages: r.IntN(40),
			SystemFP: r.Uint64() >> uint(r.IntN(2)*64/2), RequestFP: r.Uint64(),
			Tokens: allot.Tokens{Input: in, CacheRead: cr, CacheWrite5m: cw5, CacheWrite1h: cw1, Output: outTok, Reasoning: reasoning},
			Cost:   cost, CostKnown: known, Estimated: r.IntN(15) == 0,
		}
	}
	return out
}

// ExpectedReport is the specification of Report: it sums the events whose
// hour lies in the query's hour-widened range, in Go, one by one, each sum
// saturated at the int64 range (allot.SatAdd, Money.Plus).
func ExpectedReport(events []allot.Event, q allot.ReportQuery) []allot.ReportRow {
	from := q.From.Truncate(time.Hour)
	to := q.To.Truncate(time.Hour)
	if !to.Equal(q.To) {
		to = to.Add(time.Hour)
	}
	groups := map[string]*allot.ReportRow{}
	for _, e := range events {
		if e.Time.Before(from) || !e.Time.Before(to) {
			continue
		}
		values := map[allot.Dimension]string{
			allot.DimUser: e.User, allot.DimTeam: e.Team, allot.DimModel: e.ServedModel, allot.DimTask: e.Task,
			allot.DimApp: e.App, allot.DimProvider: e.Provider,
			allot.DimDay: e.Time.UTC().Format("2006-01-02"), allot.DimHour: e.Time.UTC().Format("2006-01-02T15"),
		}
		match := true
		for d, v := range q.Filter {
			match = match && values[d] == v
		}
		if !match {
			continue
		}
		dims := make([]string, len(q.By))
		for i, d := range q.By {
			dims[i] = values[d]
		}
		k := strings.Join(dims, "\x00")
		r := groups[k]
		if r == nil {
			r = &allot.ReportRow{Dims: dims}
			groups[k] = r
		}
		r.Requests++
		r.Tokens = r.Tokens.Add(e.Tokens)
		r.Cost = r.Cost.Plus(e.Cost)
		if e.Estimated {
			r.EstimatedRequests++
		}
	}
	out := []allot.ReportRow{}
	for _, r := range groups {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b allot.ReportRow) int {
		if a.Cost != b.Cost {
			if a.Cost > b.Cost {
				return -1
			}
			return 1
		}
		return slices.Compare(a.Dims, b.Dims)
	})
	return out
}

// ExpectedUnpriced is the specification of Unpriced for events.
func ExpectedUnpriced(events []allot.Event) []allot.UnpricedModel {
	type key struct{ provider, model string }
	byKey := map[key]*allot.UnpricedModel{}
	for _, e := range events {
		if e.CostKnown {
			continue
		}
		k := key{e.Provider, e.ServedModel}
		if k.model == "" {
			k.model = e.RequestedModel
		}
		u := byKey[k]
		if u == nil {
			u = &allot.UnpricedModel{Provider: k.provider, Model: k.model}
			byKey[k] = u
		}
		u.Requests++
		u.Tokens = u.Tokens.Add(e.Tokens)
		if e.Time.After(u.LastSeen) {
			u.LastSeen = e.Time.UTC()
		}
	}
	var out []allot.UnpricedModel
	for _, u := range byKey {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b allot.UnpricedModel) int {
		if a.Requests != b.Requests {
			if a.Requests > b.Requests {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Provider, b.Provider); c != 0 {
			return c
		}
		return strings.Compare(a.Model, b.Model)
	})
	return out
}

// NamedQuery is a report query with a name for subtests.
type NamedQuery struct {
	Name string
	Q    allot.ReportQuery
}

// ReportQueries returns report queries over events generated in [start,
// start+span): every dimension alone, several sets of them, filters, and
// ranges that start and end inside hours and days. span should be several
// days.
func ReportQueries(start time.Time, span time.Duration) []NamedQuery {
	all := func(by ...allot.Dimension) allot.ReportQuery {
		return allot.ReportQuery{By: by, From: start, To: start.Add(span)}
	}
	filtered := func(f map[allot.Dimension]string, by ...allot.Dimension) allot.ReportQuery {
		q := all(by...)
		q.Filter = f
		return q
	}
	qs := []NamedQuery{
		{"grand total", all()},
		{"user and model", all(allot.DimUser, allot.DimModel)},
		{"team, task, app", all(allot.DimTeam, allot.DimTask, allot.DimApp)},
		{"day then provider", all(allot.DimDay, allot.DimProvider)},
		{"hour then team", all(allot.DimHour, allot.DimTeam)},
		{"model then day", all(allot.DimModel, allot.DimDay)},
		{"user and day", all(allot.DimUser, allot.DimDay)},
		{"day and hour", all(allot.DimDay, allot.DimHour)},
		{"a dimension twice", all(allot.DimUser, allot.DimTeam, allot.DimUser)},
		{"every dimension", all(allot.Dimensions...)},
		{"filter team", filtered(map[allot.Dimension]string{allot.DimTeam: "data"}, allot.DimUser)},
		{"filter model and provider", filtered(map[allot.Dimension]string{allot.DimModel: "gpt-4o", allot.DimProvider: "openai"}, allot.DimDay, allot.DimTask)},
		{"filter user", filtered(map[allot.Dimension]string{allot.DimUser: "björn"}, allot.DimHour)},
		{"filter empty app", filtered(map[allot.Dimension]string{allot.DimApp: ""}, allot.DimUser)},
		{"filter task by time only", filtered(map[allot.Dimension]string{allot.DimTask: "review"}, allot.DimDay)},
		{"filter never recorded", filtered(map[allot.Dimension]string{allot.DimUser: "nobody"}, allot.DimUser)},
		{"filter unpriced model", filtered(map[allot.Dimension]string{allot.DimModel: ""})},
		{"within one hour", allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start.Add(30*time.Hour + 10*time.Minute), To: start.Add(30*time.Hour + 20*time.Minute)}},
		{"within one day", allot.ReportQuery{By: []allot.Dimension{allot.DimDay}, From: start.Add(30 * time.Hour), To: start.Add(47 * time.Hour)}},
		{"across a day boundary", allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start.Add(30 * time.Hour), To: start.Add(50 * time.Hour)}},
		{"whole days and partial ends", allot.ReportQuery{By: []allot.Dimension{allot.DimDay, allot.DimTeam}, From: start.Add(10 * time.Hour), To: start.Add(110*time.Hour + 30*time.Minute)}},
		{"whole days and partial ends, no time", allot.ReportQuery{By: []allot.Dimension{allot.DimModel}, From: start.Add(10*time.Hour + 5*time.Minute), To: start.Add(110*time.Hour + 30*time.Minute)}},
		{"whole days and partial ends by hour", allot.ReportQuery{By: []allot.Dimension{allot.DimHour}, From: start.Add(10 * time.Hour), To: start.Add(110 * time.Hour)}},
		{"before any event", allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start.Add(-72 * time.Hour), To: start.Add(-time.Hour)}},
		{"wider than the events", allot.ReportQuery{By: []allot.Dimension{allot.DimProvider, allot.DimDay}, From: start.Add(-72 * time.Hour), To: start.Add(span + 72*time.Hour)}},
	}
	for _, d := range allot.Dimensions {
		qs = append(qs, NamedQuery{"by " + string(d), all(d)})
	}
	return qs
}
