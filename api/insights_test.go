package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
)

// insightsServer serves /api/v1/insights over a ledger of six people in
// team data (lead: dana) and one in ops; the bearer token is the caller's
// user name.
func insightsServer(t *testing.T, visibility string) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	org := allot.Org{Name: "acme", Teams: []allot.Team{{Name: "data"}, {Name: "ops"}}, Users: []allot.User{
		{Name: "dana", Team: "data", Role: allot.RoleLead}, {Name: "bob", Team: "data", Role: allot.RoleMember},
		{Name: "cara", Team: "data", Role: allot.RoleMember}, {Name: "dave", Team: "data", Role: allot.RoleMember},
		{Name: "erin", Team: "data", Role: allot.RoleMember}, {Name: "finn", Team: "data", Role: allot.RoleMember},
		{Name: "olga", Team: "ops", Role: allot.RoleMember}, {Name: "root", Team: "ops", Role: allot.RoleAdmin},
	}}
	if _, err := db.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	var evs []allot.Event
	for i, u := range org.Users {
		for j := range 10 * (i + 1) {
			tok := allot.Tokens{Input: 20_000, Output: 300}
			cost, _ := pricing.Default().Cost("openai", "gpt-4o", now, tok)
			status := 200
			if j == 0 {
				status = 500 // everyone has a failed call to fix
			}
			evs = append(evs, allot.Event{
				ID: fmt.Sprintf("%s-%d", u.Name, j), Time: now.Add(-time.Duration(j+1) * time.Hour),
				Principal: allot.Principal{Org: "acme", Team: u.Team, User: u.Name, KeyID: "k-" + u.Name, Role: u.Role},
				Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
				Task: "review", App: "codex", Source: allot.SourceGateway, Status: status, MaxTokens: 1000,
				Tokens: tok, Cost: cost, CostKnown: true,
			})
		}
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	roles := map[string]allot.Principal{}
	for _, u := range org.Users {
		roles[u.Name] = allot.Principal{Org: "acme", Team: u.Team, User: u.Name, Role: u.Role}
	}
	h := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			p, ok := roles[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
			}
			return p, nil
		},
		Source: db,
		People: db,
		Pricer: func() allot.Pricer { return pricing.Default() },
		Options: func() insights.Options {
			o := insights.DefaultOptions()
			o.Visibility, o.Floor = visibility, 0
			return o
		},
		Now: func() time.Time { return now },
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestInsightsAPIAccess(t *testing.T) {
	t.Parallel()
	anon := insightsServer(t, allot.PeerAnonymous)
	named := insightsServer(t, allot.PeerNamed)
	names := []string{"dana", "bob", "cara", "dave", "erin", "finn", "olga"}
	tests := []struct {
		name    string
		srv     *httptest.Server
		key     string
		query   string
		status  int
		scope   string
		visible []string
	}{
		{"member's own view", anon, "bob", "", 200, "user:bob", []string{"bob"}},
		{"member names themselves", anon, "bob", "?user=bob&days=7d", 200, "user:bob", []string{"bob"}},
		{"member asks for a peer", named, "bob", "?user=cara", 403, "", nil},
		{"member asks for the team", named, "bob", "?team=data", 403, "", nil},
		{"lead's team, anonymous", anon, "dana", "?team=data", 200, "team:data", nil},
		{"lead's team, named", named, "dana", "?team=data", 200, "team:data", []string{"dana", "bob", "cara", "dave", "erin", "finn"}},
		{"lead asks for a member, anonymous", anon, "dana", "?user=bob", 403, "", nil},
		{"lead asks for a member, named", named, "dana", "?user=bob", 200, "user:bob", []string{"bob"}},
		{"lead asks for another team", named, "dana", "?team=ops", 403, "", nil},
		{"admin's org view", anon, "root", "", 200, "org", names},
		{"admin asks for olga", anon, "root", "?user=olga&limit_usd=5", 200, "user:olga", []string{"olga"}},
		{"unknown key", anon, "mallory", "", 401, "", nil},
		{"bad period", anon, "bob", "?days=forever", 400, "", nil},
		{"bad limit", anon, "bob", "?limit_usd=-3", 400, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tt.srv.URL+"/api/v1/insights"+tt.query, tt.key)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
					t.Errorf("error body %s", body)
				}
				return
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"scope", "period", "spend_usd", "percentile_team", "percentile_org", "top_tasks", "recommendations", "forecast"} {
				if _, ok := v[k]; !ok {
					t.Errorf("response lacks %q", k)
				}
			}
			if v["scope"] != tt.scope {
				t.Errorf("scope %v, want %s", v["scope"], tt.scope)
			}
			recs, _ := v["recommendations"].([]any)
			if len(recs) == 0 {
				t.Errorf("no recommendations: %s", body)
			}
			for _, r := range recs {
				m := r.(map[string]any)
				for _, k := range []string{"kind", "title", "detail", "monthly_savings_usd"} {
					if _, ok := m[k]; !ok {
						t.Errorf("recommendation lacks %q: %v", k, m)
					}
				}
			}
			allowed := map[string]bool{}
			for _, n := range tt.visible {
				allowed[n] = true
			}
			for _, n := range names {
				if !allowed[n] && strings.Contains(string(body), `"`+n+`"`) {
					t.Errorf("%s sees %s's name", tt.key, n)
				}
			}
		})
	}
}

// TestInsightsAPIGroups: org and team views group their recommendations
// per change, naming people for admins and for leads under
// peer_visibility: named, counting them otherwise; a member's view keeps
// their own recommendations, addressed to them.
func TestInsightsAPIGroups(t *testing.T) {
	t.Parallel()
	anon := insightsServer(t, allot.PeerAnonymous)
	named := insightsServer(t, allot.PeerNamed)
	everyone := []string{"bob", "cara", "dana", "dave", "erin", "finn", "olga", "root"}
	data := []string{"bob", "cara", "dana", "dave", "erin", "finn"}
	tests := []struct {
		name   string
		srv    *httptest.Server
		key    string
		query  string
		count  int
		people []string // nil: counted, not named
	}{
		{"admin, the org", anon, "root", "", 8, everyone},
		{"admin, a team", anon, "root", "?team=data", 6, data},
		{"lead, named", named, "dana", "?team=data", 6, data},
		{"lead, anonymous", anon, "dana", "?team=data", 6, nil},
		{"member", named, "bob", "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tt.srv.URL+"/api/v1/insights"+tt.query, tt.key)
			var v struct {
				Recommendations []struct {
					Kind, User, Title, Detail string
				} `json:"recommendations"`
				Groups []map[string]any `json:"recommendation_groups"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			if tt.count == 0 { // a person's view: their own recommendations, to them
				if len(v.Groups) != 0 || len(v.Recommendations) == 0 {
					t.Fatalf("groups %v, recommendations %v", v.Groups, v.Recommendations)
				}
				for _, r := range v.Recommendations {
					if r.User != tt.key || !strings.Contains(strings.ToLower(r.Detail+r.Title), "your ") {
						t.Errorf("recommendation %+v is not addressed to %s", r, tt.key)
					}
				}
				return
			}
			var failed map[string]any
			for _, g := range v.Groups {
				for _, k := range []string{"kind", "task", "model", "to_model", "title", "detail", "monthly_savings_usd", "people_count"} {
					if _, ok := g[k]; !ok {
						t.Errorf("group lacks %q: %v", k, g)
					}
				}
				if strings.Contains(g["title"].(string)+g["detail"].(string), "Your") {
					t.Errorf("group %v addresses one person", g)
				}
				if g["kind"] == insights.KindFailed {
					failed = g
				}
			}
			if failed == nil {
				t.Fatalf("no failed_requests group in %v", v.Groups)
			}
			if failed["people_count"] != float64(tt.count) || failed["task"] != "review" || failed["model"] != "gpt-4o" {
				t.Errorf("group %v, want %d people", failed, tt.count)
			}
			got, listed := failed["people"]
			switch {
			case tt.people == nil && listed:
				t.Errorf("names %v shown to %s", got, tt.key)
			case tt.people != nil && fmt.Sprint(got) != fmt.Sprint(tt.people):
				t.Errorf("people %v, want %v", got, tt.people)
			}
		})
	}
}
