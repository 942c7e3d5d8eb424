package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/sqlite"
)

// usageOrg: platform has six people (enough for a distribution), data two.
var usageOrg = allot.Org{Name: "acme", Teams: []allot.Team{{Name: "platform"}, {Name: "data"}}, Users: []allot.User{
	{Name: "ada", Team: "platform", Role: allot.RoleAdmin},
	{Name: "linus", Team: "platform", Role: allot.RoleLead},
	{Name: "grace", Team: "platform"}, {Name: "ken", Team: "platform"}, {Name: "dennis", Team: "platform"},
	{Name: "bjarne", Team: "platform"}, // no spend at all
	{Name: "barbara", Team: "data", Role: allot.RoleLead}, {Name: "edsger", Team: "data"},
}}

type usageWorld struct {
	srv    *httptest.Server
	db     *sqlite.DB
	events []allot.Event
	now    time.Time
}

func newUsageWorld(t *testing.T, visibility string) *usageWorld {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	if _, err := db.ApplyOrg(ctx, usageOrg); err != nil {
		t.Fatal(err)
	}
	roles := map[string]allot.User{}
	for _, u := range usageOrg.Users {
		roles[u.Name] = u
		if _, _, err := db.CreateKey(ctx, u.Name, "laptop"); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	spenders := []string{"ada", "linus", "grace", "ken", "dennis", "barbara", "edsger"}
	models := []string{"gpt-4o", "claude-sonnet-4-5", "mystery-model"}
	var evs []allot.Event
	for i := range 700 {
		u := roles[spenders[i%len(spenders)]]
		m := models[i%3]
		e := allot.Event{
			ID: fmt.Sprintf("u%04d", i), Time: now.Add(-time.Duration(i) * 37 * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: u.Team, User: u.Name, KeyLabel: "laptop", Role: u.Role},
			Provider:  "openai", RequestedModel: m, ServedModel: m, Route: allot.RouteChat,
			Task: []string{"chat", "code-review", "summarize", "triage"}[i%4], App: "openai-go", Source: allot.SourceGateway,
			Status: 200, Latency: time.Duration(i) * time.Millisecond,
			Tokens: allot.Tokens{Input: int64(100 + i), CacheRead: int64(i % 50), Output: int64(3 * i)},
		}
		if m != "mystery-model" {
			e.Cost, e.CostKnown = allot.Money(1_000_000*int64(1+i%9)*int64(1+i%len(spenders))+int64(i)), true
		}
		evs = append(evs, e)
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	u := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			name := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			x, ok := roles[name]
			if !ok {
				return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
			}
			return allot.Principal{Org: "acme", User: x.Name, Team: x.Team, Role: x.Role}, nil
		},
		Reports: db, Events: db, People: db, Unpriced: db.Unpriced, Policy: db,
		PeerVisibility: visibility,
		Now:            func() time.Time { return now },
	}
	mux := http.NewServeMux()
	u.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &usageWorld{srv: srv, db: db, events: evs, now: now}
}

// call GETs path as user and decodes the JSON answer into out (if the status is 200).
func (w *usageWorld) call(t *testing.T, user, path string, out any) int {
	t.Helper()
	resp := get(t, w.srv.URL+path, user)
	if resp.StatusCode == 200 && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (w *usageWorld) sum(filter func(allot.Event) bool, from, to time.Time) (cost allot.Money, requests int64) {
	for _, e := range w.events {
		if !e.Time.Before(from) && e.Time.Before(to) && filter(e) {
			cost += e.Cost
			requests++
		}
	}
	return cost, requests
}

func TestUsageAccess(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	cases := []struct {
		user, path string
		status     int
	}{
		{"grace", "/api/v1/whoami", 200},
		{"nobody", "/api/v1/whoami", 401},
		{"grace", "/api/v1/overview", 200},
		{"grace", "/api/v1/overview?user=grace", 200},
		{"grace", "/api/v1/overview?user=ken", 403},
		{"grace", "/api/v1/overview?scope=team", 403},
		{"grace", "/api/v1/overview?scope=org", 403},
		{"grace", "/api/v1/overview?scope=planet", 400},
		{"grace", "/api/v1/overview?stack=colour", 400},
		{"grace", "/api/v1/overview?from=2026-13-01", 400},
		{"grace", "/api/v1/peers", 200},
		{"grace", "/api/v1/peers?user=ken", 403},
		{"grace", "/api/v1/requests", 200},
		{"grace", "/api/v1/requests?user=ken", 403},
		{"grace", "/api/v1/requests?team=data", 403},
		{"grace", "/api/v1/requests?limit=0", 400},
		{"grace", "/api/v1/requests?before=nope", 400},
		{"grace", "/api/v1/keys", 200},
		{"grace", "/api/v1/keys?user=ken", 403},
		{"grace", "/api/v1/grants", 404},
		{"grace", "/api/v1/policy", 403},
		{"linus", "/api/v1/overview?scope=team", 200},
		{"linus", "/api/v1/overview?scope=team&team=data", 403},
		{"linus", "/api/v1/overview?user=grace", 403}, // anonymous: a lead does not see members by name
		{"linus", "/api/v1/overview?user=edsger", 403},
		{"linus", "/api/v1/overview?scope=team&stack=user", 403},
		{"linus", "/api/v1/overview?scope=org", 403},
		{"linus", "/api/v1/requests?user=grace", 403},
		{"linus", "/api/v1/peers?user=grace", 403},
		{"linus", "/api/v1/requests?user=edsger", 403},
		{"linus", "/api/v1/requests?team=data", 403},
		{"ada", "/api/v1/overview?scope=org", 200},
		{"ada", "/api/v1/overview?scope=org&stack=user", 200},
		{"ada", "/api/v1/overview?scope=team&team=data", 200},
		{"ada", "/api/v1/overview?user=edsger", 200},
		{"ada", "/api/v1/requests?team=data", 200},
		{"ada", "/api/v1/keys?user=ken", 200},
		{"ada", "/api/v1/policy", 200},
	}
	for _, c := range cases {
		if got := w.call(t, c.user, c.path, nil); got != c.status {
			t.Errorf("%s GET %s: %d, want %d", c.user, c.path, got, c.status)
		}
	}
}

func TestOverviewEqualsTheLedger(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	from, to := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	rng := "&from=2026-11-10&to=2026-11-19"
	cases := []struct {
		name, user, query string
		match             func(allot.Event) bool
		people            []string
	}{
		{"member", "grace", "scope=user", func(e allot.Event) bool { return e.User == "grace" }, nil},
		{"member, one model", "grace", "scope=user&model=gpt-4o", func(e allot.Event) bool { return e.User == "grace" && e.ServedModel == "gpt-4o" }, nil},
		{"lead, team", "linus", "scope=team", func(e allot.Event) bool { return e.Team == "platform" }, []string{"linus", "person", "person", "person", "person"}},
		{"admin, org", "ada", "scope=org&top=3", func(allot.Event) bool { return true }, nil},
		{"admin, a small team", "ada", "scope=team&team=data", func(e allot.Event) bool { return e.Team == "data" }, []string{"barbara", "edsger"}},
		{"lead of a small team", "barbara", "scope=team", func(e allot.Event) bool { return e.Team == "data" }, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var ov api.Overview
			if st := w.call(t, c.user, "/api/v1/overview?"+c.query+rng, &ov); st != 200 {
				t.Fatalf("status %d", st)
			}
			cost, reqs := w.sum(c.match, from, to)
			if ov.Totals.CostUSD != cost || ov.Totals.Requests != reqs {
				t.Fatalf("totals %s/%d, want %s/%d", ov.Totals.CostUSD, ov.Totals.Requests, cost, reqs)
			}
			if !ov.From.Equal(from) || !ov.To.Equal(to) {
				t.Errorf("range %s..%s", ov.From, ov.To)
			}
			for dim, rows := range ov.By {
				var sum allot.Money
				for _, r := range rows {
					sum += r.CostUSD
				}
				if sum != cost {
					t.Errorf("by %s sums to %s, want %s", dim, sum, cost)
				}
			}
			if len(ov.Daily) != 10 {
				t.Errorf("%d days, want 10", len(ov.Daily))
			}
			var daily allot.Money
			for _, d := range ov.Daily {
				var parts allot.Money
				for _, p := range d.Parts {
					parts += p.CostUSD
				}
				if parts != d.CostUSD {
					t.Errorf("day %s: parts %s, total %s", d.Day, parts, d.CostUSD)
				}
				daily += d.CostUSD
			}
			if daily != cost {
				t.Errorf("days sum to %s, want %s", daily, cost)
			}
			if c.people != nil {
				var names []string
				for _, p := range ov.People {
					name, _, _ := strings.Cut(p.Name, " ") // "person 3": ranks are labels
					names = append(names, name)
				}
				slices.Sort(names)
				want := slices.Clone(c.people)
				slices.Sort(want)
				if !slices.Equal(names, want) && !(len(names) == 0 && len(want) == 0) {
					t.Errorf("people %v, want %v (note %q)", names, want, ov.PeopleNote)
				}
			}
			if c.user == "ada" && ov.Scope == api.ScopeOrg {
				if len(ov.People) != 3 || ov.People[0].CostUSD < ov.People[1].CostUSD || !ov.PeopleNamed {
					t.Errorf("top people %+v", ov.People)
				}
				if len(ov.Unpriced) != 1 || ov.Unpriced[0].Model != "mystery-model" {
					t.Errorf("unpriced %+v", ov.Unpriced)
				}
			}
			if ov.Forecast == nil || ov.Forecast.Projected < ov.Forecast.Spent {
				t.Errorf("forecast %+v", ov.Forecast)
			}
		})
	}
}

func TestPeers(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	from, to, _ := api.ParseRange("", "", w.now)
	spend := map[string]allot.Money{"bjarne": 0}
	for _, e := range w.events {
		if !e.Time.Before(from) && e.Time.Before(to) {
			spend[e.User] += e.Cost
		}
	}
	for _, user := range []string{"grace", "ken", "bjarne", "edsger"} {
		var p api.Peers
		if st := w.call(t, user, "/api/v1/peers", &p); st != 200 {
			t.Fatalf("%s: %d", user, st)
		}
		if p.YouUSD != spend[user] {
			t.Errorf("%s: you %s, want %s", user, p.YouUSD, spend[user])
		}
		org := p.OrgGroup
		if org == nil || org.People != 8 {
			t.Fatalf("%s: org group %+v, want all 8 people", user, org)
		}
		below := 0
		for name, v := range spend {
			if name != user && v < spend[user] {
				below++
			}
		}
		if want := float64(int(1000*float64(below)/7+0.5)) / 10; org.Percentile != want {
			t.Errorf("%s: percentile %v, want %v", user, org.Percentile, want)
		}
		n := 0
		for _, b := range org.Histogram {
			n += b.Count
		}
		if n != 8 || org.Histogram[org.YouBin].LoUSD > p.YouUSD {
			t.Errorf("%s: histogram %+v, you in bin %d", user, org.Histogram, org.YouBin)
		}
		if team := p.TeamGroup; (user == "edsger") != (team == nil) {
			t.Errorf("%s: team group %+v (platform has 6 people, data 2)", user, team)
		}
	}
}

func TestRequestsLog(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	var all []api.RequestRow
	path := "/api/v1/requests?from=2026-11-01&limit=40"
	for page := 0; ; page++ {
		var p api.RequestPage
		if st := w.call(t, "grace", path, &p); st != 200 {
			t.Fatalf("page %d: %d", page, st)
		}
		all = append(all, p.Requests...)
		if p.NextBefore == "" {
			break
		}
		path = "/api/v1/requests?from=2026-11-01&limit=40&before=" + p.NextBefore
	}
	var want []string
	for _, e := range w.events { // appended newest first
		if e.User == "grace" && !e.Time.Before(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
			want = append(want, e.ID)
		}
	}
	var got []string
	for _, r := range all {
		got = append(got, r.ID)
		if r.User != "grace" {
			t.Fatalf("a member sees %s's call", r.User)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d calls, want %d", len(got), len(want))
	}

	var lead api.RequestPage
	w.call(t, "linus", "/api/v1/requests?limit=1000", &lead)
	for _, r := range lead.Requests {
		if r.User != "linus" {
			t.Fatalf("under anonymous a lead sees %s's call", r.User)
		}
	}
	resp := get(t, w.srv.URL+"/api/v1/requests?format=csv&limit=5", "ada")
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(recs) != 6 || recs[0][0] != "id" || resp.Header.Get("X-Allot-Next-Before") == "" {
		t.Fatalf("csv: %v %d rows %v", err, len(recs), resp.Header)
	}
}

func TestNamedPeers(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, allot.PeerNamed)
	var ov api.Overview
	w.call(t, "linus", "/api/v1/overview?scope=team", &ov)
	if !ov.PeopleNamed || len(ov.People) != 5 || !slices.ContainsFunc(ov.People, func(p api.PersonRow) bool { return p.Name == "grace" }) {
		t.Fatalf("named policy: %+v", ov.People)
	}
	if st := w.call(t, "linus", "/api/v1/overview?scope=team&stack=user", nil); st != 200 {
		t.Fatalf("stack by user with names allowed: %d", st)
	}
	for _, c := range []struct {
		user, path string
		status     int
	}{
		{"linus", "/api/v1/overview?user=grace", 200},
		{"linus", "/api/v1/peers?user=grace", 200},
		{"linus", "/api/v1/requests?user=grace", 200},
		{"linus", "/api/v1/overview?user=edsger", 403},
		{"barbara", "/api/v1/overview?user=edsger", 403}, // data has two people: never by name
		{"barbara", "/api/v1/requests?user=edsger", 403},
		{"barbara", "/api/v1/overview?scope=team&stack=user", 403},
	} {
		if got := w.call(t, c.user, c.path, nil); got != c.status {
			t.Errorf("named: %s GET %s: %d, want %d", c.user, c.path, got, c.status)
		}
	}
	var lead api.RequestPage
	w.call(t, "linus", "/api/v1/requests?limit=1000", &lead)
	callers := map[string]bool{}
	for _, r := range lead.Requests {
		callers[r.User] = true
	}
	if len(callers) != 5 { // linus, grace, ken, dennis and the admin ada spend in platform
		t.Errorf("named: the lead's log has the calls of %v, want the team's five spenders", callers)
	}
}

func TestKeysNeverShowHashes(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	resp := get(t, w.srv.URL+"/api/v1/keys", "grace")
	var keys []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil || len(keys) != 1 {
		t.Fatalf("%v %v", err, keys)
	}
	if _, ok := keys[0]["hash"]; ok || keys[0]["user"] != "grace" || keys[0]["active"] != true {
		t.Fatalf("key %v", keys[0])
	}
}
