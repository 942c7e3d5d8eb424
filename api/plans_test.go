package api_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// TestPricingPlansAPI: the seat-vs-consumption comparison of the scope
// the caller may see, with the break-even count per plan, naming people
// only where the caller may see them all.
func TestPricingPlansAPI(t *testing.T) {
	t.Parallel()
	anon := insightsServer(t, allot.PeerAnonymous)
	named := insightsServer(t, allot.PeerNamed)
	nine := "?seat_usd=1" + strings.Repeat("&plan=p", 1)
	for i := range 8 {
		nine += "&plan=p" + string(rune('a'+i)) + "=2"
	}
	tests := []struct {
		name      string
		srv       string
		key       string
		query     string
		status    int
		scope     string
		people    int // listed by name
		count     int
		planNames []string
	}{
		{"member", anon.URL, "bob", "?seat_usd=1", 200, "user:bob", 1, 1, []string{"seat"}},
		{"member asks for the team", anon.URL, "bob", "?seat_usd=1&team=data", 403, "", 0, 0, nil},
		{"lead, anonymous", anon.URL, "dana", "?seat_usd=1&team=data", 200, "team:data", 0, 6, []string{"seat"}},
		{"lead, named", named.URL, "dana", "?seat_usd=1&team=data&plan=max=100", 200, "team:data", 6, 6, []string{"seat", "max"}},
		{"admin's org", anon.URL, "root", "?seat_usd=1&plan=max=100&days=7d", 200, "org", 8, 8, []string{"seat", "max"}},
		{"no plan", anon.URL, "root", "", 400, "", 0, 0, nil},
		{"bad plan", anon.URL, "root", "?plan=consumption=3", 400, "", 0, 0, nil},
		{"too many plans", anon.URL, "root", nine, 400, "", 0, 0, nil},
		{"bad period", anon.URL, "root", "?seat_usd=1&days=0", 400, "", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tt.srv+"/api/v1/pricing-plans"+tt.query, tt.key)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			var v struct {
				Scope string
				Plans []struct {
					Name       string
					USD        json.Number `json:"usd_per_seat_month"`
					CheaperFor int         `json:"cheaper_for"`
				}
				People []struct {
					User        string
					Consumption json.Number `json:"consumption_usd"`
				}
				PeopleCount int `json:"people_count"`
				Totals      []struct{ Plan string }
			}
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if v.Scope != tt.scope || len(v.People) != tt.people || v.PeopleCount != tt.count || len(v.Plans) != len(tt.planNames) {
				t.Fatalf("scope %s, %d named of %d, %d plans: %s", v.Scope, len(v.People), v.PeopleCount, len(v.Plans), body)
			}
			for i, p := range v.Plans {
				if p.Name != tt.planNames[i] {
					t.Errorf("plan %d is %s, want %s", i, p.Name, tt.planNames[i])
				}
				if len(v.People) == 0 {
					continue
				}
				price, _ := allot.ParseUSD(p.USD.String())
				above := 0
				for _, pp := range v.People {
					if m, _ := allot.ParseUSD(pp.Consumption.String()); m > price {
						above++
					}
				}
				if p.CheaperFor != above {
					t.Errorf("plan %s is cheaper for %d, but %d people consume more than its price", p.Name, p.CheaperFor, above)
				}
			}
			if len(v.Totals) != len(tt.planNames)+2 {
				t.Errorf("%d totals: %s", len(v.Totals), body)
			}
		})
	}
}
