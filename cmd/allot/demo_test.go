package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

// TestDemoShowsEverything starts the demo as `allot demo` does and checks
// that every page of the dashboard has something real to show: every
// recommendation kind fires for someone (grouped for the org, the
// member's own for grace), 30 days of charts, trends against the period
// before, budgets that downgrade and refuse, alerts of each kind, a grant
// in force, requests, peers and keys.
func TestDemoShowsEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, "127.0.0.1:0", filepath.Join(t.TempDir(), "allot.db"), "", 30)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo seeded in %s", d.took)
	defer d.sim.Close()
	defer func() { _ = d.srv.shutdown() }()
	base := "http://" + d.srv.addr
	get := func(user, path string, out any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+d.keys[user])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s as %s: %s", path, user, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s as %s: %v", path, user, err)
		}
	}

	t.Run("insights", func(t *testing.T) {
		var org insights.Insights
		get("ada", "/api/v1/insights", &org)
		grouped := map[string]bool{}
		for _, g := range org.RecommendationGroups {
			grouped[g.Kind] = true
			if len(g.People) != g.PeopleCount || g.PeopleCount == 0 {
				t.Errorf("the admin's group %+v does not name its people", g)
			}
		}
		for _, kind := range insights.Kinds {
			if !grouped[kind] || org.SavingsByKind[kind] <= 0 {
				t.Errorf("no %s recommendation in the demo (groups: %v)", kind, grouped)
			}
		}
		for _, top := range [][]insights.TopRow{org.TopTasks, org.TopModels} {
			trends := 0
			for _, r := range top {
				if r.Trend != nil {
					trends++
				}
			}
			if trends*2 < len(top) {
				t.Errorf("%d of %d rows have a trend: %+v", trends, len(top), top)
			}
		}
		if org.Forecast.Spent <= 0 && time.Now().UTC().Day() > 1 || len(org.GoodPractice) == 0 {
			t.Errorf("forecast %+v, good practice %+v", org.Forecast, org.GoodPractice)
		}
		var grace insights.Insights
		get("grace", "/api/v1/insights", &grace)
		kinds := map[string]bool{}
		for _, r := range grace.Recommendations {
			kinds[r.Kind] = true
		}
		if !kinds[insights.KindCheaperModel] || !kinds[insights.KindFailed] || grace.Peers == nil {
			t.Errorf("grace's insights: %v, peers %v", kinds, grace.Peers)
		}
		var team insights.Insights
		get("barbara", "/api/v1/insights?team=data", &team)
		if len(team.RecommendationGroups) == 0 {
			t.Errorf("the data team's lead sees no recommendations")
		}
	})

	t.Run("charts", func(t *testing.T) {
		from := time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02")
		for _, v := range []struct{ user, query string }{{"ada", "scope=org"}, {"barbara", "scope=team"}, {"grace", "scope=user"}} {
			var ov struct {
				Daily []struct {
					CostUSD allot.Money `json:"cost_usd"`
				} `json:"daily"`
				People []any `json:"people"`
			}
			get(v.user, "/api/v1/overview?from="+from+"&"+v.query, &ov)
			days := 0
			for _, d := range ov.Daily {
				if d.CostUSD > 0 {
					days++
				}
			}
			if days < 20 || v.query != "scope=user" && len(ov.People) < 4 {
				t.Errorf("%s: %d of %d days with spend, %d people", v.query, days, len(ov.Daily), len(ov.People))
			}
		}
		var peers struct {
			YouUSD   allot.Money           `json:"you_usd"`
			OrgGroup *struct{ People int } `json:"org_group"`
		}
		get("grace", "/api/v1/peers", &peers)
		if peers.YouUSD <= 0 || peers.OrgGroup == nil || peers.OrgGroup.People < 10 {
			t.Errorf("peers %+v", peers)
		}
	})

	t.Run("budgets", func(t *testing.T) {
		var st []struct {
			Name      string      `json:"name"`
			Spent     allot.Money `json:"spent_usd"`
			Limit     allot.Money `json:"limit_usd"`
			Projected allot.Money `json:"projected_usd"`
		}
		get("ada", "/api/v1/budgets", &st)
		byName := map[string]int{}
		for i, s := range st {
			byName[s.Name] = i
		}
		for _, name := range []string{"data-premium", "radia-agents"} {
			i, ok := byName[name]
			if !ok || st[i].Spent < st[i].Limit {
				t.Errorf("budget %s has not kicked in: %+v", name, st)
			}
		}
		var me struct {
			Budgets  []any `json:"budgets"`
			Forecast struct {
				Basis string `json:"basis"`
			} `json:"forecast"`
		}
		get("grace", "/api/v1/me", &me)
		if len(me.Budgets) < 3 || me.Forecast.Basis == "" {
			t.Errorf("grace's me: %+v", me)
		}
		var grants []allot.Grant
		get("ada", "/api/v1/grants", &grants)
		if len(grants) != 1 || grants[0].Budget != "platform-monthly" {
			t.Errorf("grants %+v", grants)
		}
	})

	t.Run("alerts", func(t *testing.T) {
		want := []string{"downgrade", "refusal", "threshold"}
		if now := time.Now().UTC(); now.Day() == 1 && now.Hour() < 2 {
			want = want[:2] // nothing spent this month yet: no monthly threshold to cross
		}
		var kinds []string
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var page struct {
				Alerts []struct{ Kind string } `json:"alerts"`
			}
			get("ada", "/api/v1/alerts", &page)
			kinds = kinds[:0]
			for _, a := range page.Alerts {
				if !slices.Contains(kinds, a.Kind) {
					kinds = append(kinds, a.Kind)
				}
			}
			slices.Sort(kinds)
			if fmt.Sprint(kinds) == fmt.Sprint(want) || time.Now().After(deadline) {
				break
			}
		}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("alert kinds %v, want %v", kinds, want)
		}
	})

	t.Run("requests and keys", func(t *testing.T) {
		var page struct {
			Requests []struct{ ServedModel, RequestedModel string } `json:"requests"`
		}
		get("ada", "/api/v1/requests?user=barbara&limit=5", &page)
		if len(page.Requests) == 0 {
			t.Errorf("no requests")
		}
		var keys []any
		get("grace", "/api/v1/keys", &keys)
		var pol allot.Policy
		get("ada", "/api/v1/policy", &pol)
		if len(keys) == 0 || len(pol.Budgets) < 4 {
			t.Errorf("keys %v, policy %+v", keys, pol)
		}
	})
}
