package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestBudgetsPageAlerts: the Budgets page has its alerts section, its
// script draws it from GET /api/v1/alerts, and that answers the page's
// session with the alerts the person may see.
func TestBudgetsPageAlerts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := []struct {
		user    string
		budgets string // the alerts' budgets, newest first
		who     string // whose calls, as shown
		hint    string
	}{
		{"ada", "data-premium,platform-monthly,org-monthly", "edsger,ken,edsger", "of every budget"},
		{"linus", "platform-monthly,org-monthly", ",", "People you may not see are not named"}, // anonymous: not even his members
		{"grace", "platform-monthly,org-monthly", ",", "the budgets you can see"},
		{"edsger", "data-premium,org-monthly", "edsger,edsger", "the budgets you can see"},
	}
	for _, c := range cases {
		t.Run(c.user, func(t *testing.T) {
			t.Parallel()
			b := signIn(t, w.srv.URL, w.keys[c.user])
			resp, html := b.do(http.MethodGet, "/budgets", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(html, `id="alerts"`) || !strings.Contains(html, c.hint) {
				t.Fatalf("/budgets: %s without the alerts section (%q)", resp.Status, c.hint)
			}
			resp, body := b.do(http.MethodGet, "/api/v1/alerts", nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("/api/v1/alerts with the session: %s %s", resp.Status, body)
			}
			var page struct {
				Alerts []struct {
					Budget, User, Summary string
					UserHidden            bool `json:"user_hidden"`
				}
			}
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
			var budgets, who []string
			for _, a := range page.Alerts {
				budgets, who = append(budgets, a.Budget), append(who, a.User)
				if a.Summary == "" || a.UserHidden != (a.User == "") {
					t.Errorf("alert %+v", a)
				}
			}
			if got := strings.Join(budgets, ","); got != c.budgets {
				t.Errorf("alerts of %s, want %s", got, c.budgets)
			}
			if got := strings.Join(who, ","); got != c.who {
				t.Errorf("named %q, want %q", got, c.who)
			}
		})
	}
	b := newBrowser(t, w.srv.URL)
	if _, js := b.do(http.MethodGet, "/assets/app.js", nil, nil); !strings.Contains(js, `'/api/v1/alerts'`) || !strings.Contains(js, `table('alerts'`) {
		t.Error("app.js does not draw the alerts table from /api/v1/alerts")
	}
}
