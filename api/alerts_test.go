package api_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
)

// memNotices keeps notices in memory and, unlike the SQLite store, orders
// notices of the same instant by ascending id (as a PostgreSQL collation
// might), so the API must not rely on the store's order of ties.
type memNotices struct {
	mu    sync.Mutex
	ns    []allot.Notice
	reads int
}

func (m *memNotices) Notices(_ context.Context, from, to time.Time, limit int) ([]allot.Notice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	var out []allot.Notice
	for _, n := range m.ns {
		if (from.IsZero() || !n.Time.Before(from)) && (to.IsZero() || n.Time.Before(to)) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b allot.Notice) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// alertPeople is a directory of alertsOrg.
type alertPeople struct{}

var alertsOrg = []allot.User{
	{Name: "ada", Team: "platform", Role: allot.RoleAdmin},
	{Name: "linus", Team: "platform", Role: allot.RoleLead},
	{Name: "grace", Team: "platform", Role: allot.RoleMember},
	{Name: "ken", Team: "platform", Role: allot.RoleMember},
	{Name: "dennis", Team: "platform", Role: allot.RoleMember},
	{Name: "barbara", Team: "data", Role: allot.RoleLead},
	{Name: "edsger", Team: "data", Role: allot.RoleMember},
}

func (alertPeople) Users(context.Context) ([]allot.User, error) { return alertsOrg, nil }
func (alertPeople) Keys(context.Context, string) ([]allot.Key, error) {
	return nil, nil
}

// alertsPolicy: an org budget, one per team, and two people's own.
var alertsPolicy = allot.Policy{Budgets: []allot.Budget{
	{Name: "org-monthly", Scope: "org", LimitUSD: "5000", AlertAt: []int{50}},
	{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "900", AlertAt: []int{80}},
	{Name: "data-premium", Scope: "team:data", LimitUSD: "300", OnExceed: allot.OnExceedDowngrade, Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini"}},
	{Name: "grace-own", Scope: "user:grace", LimitUSD: "50"},
	{Name: "ken-own", Scope: "user:ken", LimitUSD: "50"},
	{Name: "edsger-own", Scope: "user:edsger", LimitUSD: "50"},
}}

var alertsNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

// alertsNotices: one notice of each situation the access rules tell apart.
func alertsNotices() []allot.Notice {
	at := func(h int) time.Time { return alertsNow.Add(-time.Duration(h) * time.Hour) }
	th := func(id, b, scope, user string, pct, h int) allot.Notice {
		return allot.Notice{ID: id, Time: at(h), Kind: allot.NoticeThreshold, Budget: b, Scope: scope, User: user,
			Message: fmt.Sprintf("budget %q (%s) reached %d%% of its limit.", b, scope, pct),
			Detail:  map[string]any{"threshold": pct, "spent_usd": "450.123", "limit_usd": "900"}}
	}
	return []allot.Notice{
		th("n1", "org-monthly", "org", "edsger", 50, 9),
		th("n2", "platform-monthly", "team:platform", "ken", 80, 8),
		{ID: "n3", Time: at(7), Kind: allot.NoticeRefusal, Budget: "platform-monthly", Scope: "team:platform", User: "ken",
			Message: `budget "platform-monthly" (team:platform) started refusing calls: its limit is $900 a month. The first refused was ken's call to gpt-4.1. Top it up with allot budgets grant --budget platform-monthly if the work must go on.`,
			Detail:  map[string]any{"model": "gpt-4.1", "limit_usd": "900"}},
		{ID: "n4", Time: at(6), Kind: allot.NoticeDowngrade, Budget: "data-premium", Scope: "team:data", User: "edsger",
			Message: `budget "data-premium" (team:data) is full and started downgrading calls. The first downgraded was edsger's call.`,
			Detail:  map[string]any{"requested_model": "gpt-4o", "served_model": "gpt-4o-mini"}},
		th("n5", "grace-own", "user:grace", "grace", 100, 5),
		th("n6", "ken-own", "user:ken", "ken", 80, 4),
		{ID: "n7", Time: at(3), Kind: allot.NoticeRefusal, Budget: "ci", Scope: "task:ci", User: "grace", Message: "budget \"ci\" (task:ci) started refusing calls."},
		th("n8", "edsger-own", "user:edsger", "edsger", 80, 2),
		// A budget no longer in the policy: its team's lead still sees it, a member (not its user) does not.
		th("n9", "old-platform", "team:platform", "dennis", 80, 1),
		// Older than the default range (30 days).
		th("n0", "org-monthly", "org", "ken", 50, 24*40),
	}
}

// alertsMux serves /api/v1/alerts over store under peer_visibility:
// anonymous; the bearer token names the caller.
func alertsMux(t testing.TB, store api.NoticeLister) *http.ServeMux {
	t.Helper()
	return alertsMuxWith(t, store, allot.PeerAnonymous)
}

// alertsMuxWith is alertsMux under the peer visibility vis.
func alertsMuxWith(t testing.TB, store api.NoticeLister, vis string) *http.ServeMux {
	t.Helper()
	rt, err := budget.New(alertsPolicy, budget.NewMemoryCounters(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			name := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			for _, u := range alertsOrg {
				if u.Name == name {
					return allot.Principal{Org: "acme", User: u.Name, Team: u.Team, Role: u.Role, KeyLabel: "laptop"}, nil
				}
			}
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
		},
		Notices:        store,
		Rationer:       func() *budget.Rationer { return rt },
		People:         alertPeople{},
		PeerVisibility: vis,
		Now:            func() time.Time { return alertsNow },
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	return mux
}

func getAlerts(t testing.TB, mux http.Handler, user, query string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/alerts"+query, nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func decodePage(t *testing.T, rec *httptest.ResponseRecorder) api.AlertPage {
	t.Helper()
	var p api.AlertPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return p
}

func alertIDs(as []api.Alert) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return strings.Join(ids, ",")
}

// TestAlertsVisibility: admins see every notice; leads their team's
// budgets, and their members' (budgets and calls) only where allot.CanSee
// shows them by name (peer_visibility: named, a team of at least five);
// members themselves and the budgets that apply to them, with other
// people's names left out; filters narrow that.
func TestAlertsVisibility(t *testing.T) {
	t.Parallel()
	mux := alertsMux(t, &memNotices{ns: alertsNotices()})
	named := alertsMuxWith(t, &memNotices{ns: alertsNotices()}, allot.PeerNamed)
	cases := []struct {
		name, user, query string
		want              string // ids, newest first
		named             bool   // under peer_visibility: named
	}{
		{"admin sees all", "ada", "", "n9,n8,n7,n6,n5,n4,n3,n2,n1", false},
		{"admin, a wider range", "ada", "?from=2026-09-01", "n9,n8,n7,n6,n5,n4,n3,n2,n1,n0", false},
		{"lead, anonymous: team budgets and org", "linus", "", "n9,n3,n2,n1", false},
		{"lead, named: team budgets, members, org", "linus", "", "n9,n7,n6,n5,n3,n2,n1", true},
		{"other lead", "barbara", "", "n4,n1", false},
		{"lead of a team of two, named", "barbara", "", "n4,n1", true},
		{"member: own and covering budgets", "grace", "", "n7,n5,n3,n2,n1", false},
		{"member of another team", "edsger", "", "n8,n4,n1", false},
		{"member with another's budget", "ken", "", "n6,n3,n2,n1", false},
		{"kind filter", "ada", "?kind=refusal", "n7,n3", false},
		{"several kinds", "edsger", "?kind=threshold,downgrade", "n8,n4,n1", false},
		{"budget filter", "grace", "?budget=platform-monthly", "n3,n2", false},
		{"budget the member may not see", "grace", "?budget=data-premium", "", false},
		{"kind and budget", "linus", "?kind=threshold&budget=platform-monthly", "n2", false},
		{"range", "ada", "?from=" + url.QueryEscape(alertsNow.Add(-6*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(alertsNow.Add(-3*time.Hour).Format(time.RFC3339)), "n6,n5,n4", false},
		{"limit", "ada", "?limit=2", "n9,n8", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := mux
			if c.named {
				m = named
			}
			rec := getAlerts(t, m, c.user, c.query)
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if got := alertIDs(decodePage(t, rec).Alerts); got != c.want {
				t.Fatalf("alerts %q, want %q", got, c.want)
			}
		})
	}

	// Whose call raised a notice is shown only to those who may see that person.
	byID := func(m http.Handler, user string) map[string]api.Alert {
		out := map[string]api.Alert{}
		for _, a := range decodePage(t, getAlerts(t, m, user, "")).Alerts {
			out[a.ID] = a
		}
		return out
	}
	grace, linus, barbara := byID(mux, "grace"), byID(mux, "linus"), byID(mux, "barbara")
	linusNamed, barbaraNamed := byID(named, "linus"), byID(named, "barbara")
	names := []struct {
		who   string
		a     api.Alert
		user  string
		shown bool
	}{
		{"grace sees ken's refusal", grace["n3"], "", false},
		{"grace sees edsger's org alert", grace["n1"], "", false},
		{"grace sees her own", grace["n5"], "grace", true},
		{"linus sees his member's refusal, anonymous", linus["n3"], "", false},
		{"linus sees his member's refusal, named", linusNamed["n3"], "ken", true},
		{"linus sees edsger's org alert", linusNamed["n1"], "", false},
		{"barbara sees her member's org alert, anonymous", barbara["n1"], "", false},
		{"barbara sees her member's org alert in a team of two, named", barbaraNamed["n1"], "", false},
	}
	for _, c := range names {
		if c.a.User != c.user || c.a.UserHidden == c.shown {
			t.Errorf("%s: user %q hidden %v, want %q hidden %v", c.who, c.a.User, c.a.UserHidden, c.user, !c.shown)
		}
	}
	if m := grace["n3"].Message; strings.Contains(m, "ken") || !strings.Contains(m, "started refusing") || !strings.Contains(m, "Top it up") {
		t.Errorf("the message shown to grace still names ken or lost the rest: %q", m)
	}
	if m := linus["n3"].Message; strings.Contains(m, "ken") || !strings.Contains(m, "Top it up") {
		t.Errorf("the message shown to ken's lead under anonymous still names him or lost the rest: %q", m)
	}
	if m := linusNamed["n3"].Message; !strings.Contains(m, "ken's call to gpt-4.1") {
		t.Errorf("the message shown to ken's lead lost his name: %q", m)
	}
	if got := grace["n3"].Summary; got != "refused gpt-4.1; limit $900.00" {
		t.Errorf("refusal summary %q", got)
	}
	if a := grace["n2"]; a.Threshold == nil || *a.Threshold != 80 || a.Summary != "80%: $450.12 of $900.00" {
		t.Errorf("threshold %v, summary %q", a.Threshold, a.Summary)
	}
	if a := linus["n9"]; a.Kind != allot.NoticeThreshold || a.Budget != "old-platform" || a.Detail["limit_usd"] != "900" {
		t.Errorf("notice as shown: %+v", a)
	}
}

// TestAlertsErrors: bad queries are 400 in the API's error shape, before
// anything is read.
func TestAlertsErrors(t *testing.T) {
	t.Parallel()
	store := &memNotices{ns: alertsNotices()}
	mux := alertsMux(t, store)
	noSpace := base64.RawURLEncoding.EncodeToString([]byte("2026-11-20T00:00:00Z"))
	badTime := base64.RawURLEncoding.EncodeToString([]byte("yesterday n1"))
	cases := []struct {
		name, user, query string
		status            int
		code, says        string
	}{
		{"no key", "", "", 401, "unauthorized", ""},
		{"unknown kind", "grace", "?kind=warning", 400, "invalid", "warning"},
		{"one unknown kind of two", "grace", "?kind=threshold,nope", 400, "invalid", "nope"},
		{"limit zero", "grace", "?limit=0", 400, "invalid", "limit"},
		{"limit too big", "ada", "?limit=1001", 400, "invalid", "1 to 1000"},
		{"limit not a number", "ada", "?limit=ten", 400, "invalid", "limit"},
		{"cursor not base64", "ada", "?before=%21%21", 400, "invalid", "next_before"},
		{"cursor without id", "ada", "?before=" + noSpace, 400, "invalid", "cursor"},
		{"cursor with a bad time", "ada", "?before=" + badTime, 400, "invalid", "cursor"},
		{"bad date", "ada", "?from=2026-13-01", 400, "invalid", "2026-13-01"},
		{"from after to", "ada", "?from=2026-11-10&to=2026-11-01", 400, "invalid", "before"},
		{"unknown format", "ada", "?format=xml", 400, "invalid", "xml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := getAlerts(t, mux, c.user, c.query)
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d: not the error JSON: %s", rec.Code, rec.Body)
			}
			if rec.Code != c.status || body.Error.Code != c.code || !strings.Contains(body.Error.Message, c.says) {
				t.Fatalf("%d %+v, want %d %s saying %q", rec.Code, body.Error, c.status, c.code, c.says)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.reads != 0 {
		t.Errorf("the store was read %d times for refused queries", store.reads)
	}

	// Without a notice store the endpoint is absent (the dashboard shows an empty state).
	none := &api.Server{Authenticate: func(*http.Request) (allot.Principal, error) { return allot.Principal{User: "x"}, nil }}
	m := http.NewServeMux()
	none.Routes(m)
	if rec := getAlerts(t, m, "x", ""); rec.Code != 404 {
		t.Errorf("without a store: %d", rec.Code)
	}
}

// TestAlertsPages: walking next_before returns every visible notice once,
// newest first, also with many notices at the same instant and pages
// spanning the store's read chunks.
func TestAlertsPages(t *testing.T) {
	t.Parallel()
	var ns []allot.Notice
	budgets := []struct{ name, scope string }{{"org-monthly", "org"}, {"platform-monthly", "team:platform"}, {"data-premium", "team:data"}}
	for i := range 700 {
		at := alertsNow.Add(-time.Duration(1+i/5) * time.Minute) // five notices per instant
		if i >= 400 {
			at = alertsNow.Add(-200 * time.Hour) // 300 at one instant: more than a page, and than a read of the store
		}
		b := budgets[i%3]
		ns = append(ns, allot.Notice{ID: fmt.Sprintf("p%03d", i), Time: at, Kind: allot.NoticeThreshold, Budget: b.name, Scope: b.scope,
			User: "ken", Detail: map[string]any{"threshold": 50}})
	}
	mux := alertsMux(t, &memNotices{ns: ns})
	for _, c := range []struct {
		user   string
		limit  int
		scopes string // the scopes of the notices the user sees
	}{
		{"ada", 7, "org,team:platform,team:data"},
		{"grace", 13, "org,team:platform"},
		{"edsger", 1000, "org,team:data"},
		{"barbara", 40, "org,team:data"},
	} {
		var want []allot.Notice
		for _, n := range ns {
			if slices.Contains(strings.Split(c.scopes, ","), n.Scope) {
				want = append(want, n)
			}
		}
		slices.SortFunc(want, func(a, b allot.Notice) int {
			if c := b.Time.Compare(a.Time); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		var got []string
		before, pages := "", 0
		for {
			q := fmt.Sprintf("?from=2026-10-01&limit=%d", c.limit)
			if before != "" {
				q += "&before=" + before
			}
			rec := getAlerts(t, mux, c.user, q)
			if rec.Code != 200 {
				t.Fatalf("%s page %d: %d %s", c.user, pages, rec.Code, rec.Body)
			}
			p := decodePage(t, rec)
			pages++
			for _, a := range p.Alerts {
				got = append(got, a.ID)
			}
			if p.NextBefore == "" {
				break
			}
			if len(p.Alerts) != c.limit {
				t.Fatalf("%s page %d: %d alerts and a next page, want %d", c.user, pages, len(p.Alerts), c.limit)
			}
			before = p.NextBefore
			if pages > 1000 {
				t.Fatal("endless pages")
			}
		}
		wantIDs := make([]string, len(want))
		for i, n := range want {
			wantIDs[i] = n.ID
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("%s (limit %d): %d alerts over %d pages, want %d in order", c.user, c.limit, len(got), pages, len(wantIDs))
		}
		if wantPages := max(1, (len(wantIDs)+c.limit-1)/c.limit); pages != wantPages {
			t.Errorf("%s (limit %d): %d pages, want %d", c.user, c.limit, pages, wantPages)
		}
	}
}

// TestAlertsCSV: the same rows as JSON, with the next page's cursor in a header.
func TestAlertsCSV(t *testing.T) {
	t.Parallel()
	mux := alertsMux(t, &memNotices{ns: alertsNotices()})
	rec := getAlerts(t, mux, "grace", "?format=csv&limit=3")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "allot-alerts.csv") {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "id,time,kind,budget,scope,user,threshold,summary,message" {
		t.Fatalf("header %s", got)
	}
	page := decodePage(t, getAlerts(t, mux, "grace", "?limit=3"))
	if len(rows) != 4 || rec.Header().Get("X-Allot-Next-Before") != page.NextBefore || page.NextBefore == "" {
		t.Fatalf("%d rows, next %q (JSON: %q)", len(rows)-1, rec.Header().Get("X-Allot-Next-Before"), page.NextBefore)
	}
	for i, a := range page.Alerts {
		r := rows[i+1]
		if r[0] != a.ID || r[1] != a.Time.Format(time.RFC3339Nano) || r[2] != string(a.Kind) || r[5] != a.User || r[7] != a.Summary || r[8] != a.Message {
			t.Errorf("row %d %q, JSON %+v", i, r, a)
		}
	}
	if rows[1][0] != "n7" || rows[2][0] != "n5" || rows[2][6] != "100" || rows[3][5] != "" {
		t.Errorf("rows %q", rows[1:])
	}
}

// TestAlertsFromSQLite: notices as the SQLite store keeps them (details
// read back from JSON) come out the same.
func TestAlertsFromSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	for _, n := range alertsNotices() {
		if _, err := db.AddNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	mem, lite := alertsMux(t, &memNotices{ns: alertsNotices()}), alertsMux(t, db)
	for _, user := range []string{"ada", "linus", "grace", "edsger"} {
		a, b := getAlerts(t, mem, user, "?limit=4"), getAlerts(t, lite, user, "?limit=4")
		if a.Code != 200 || a.Body.String() != b.Body.String() {
			t.Errorf("%s: in memory %d %s\nSQLite %d %s", user, a.Code, a.Body, b.Code, b.Body)
		}
	}
}

// FuzzAlertsQuery: any query is answered 200 or 400 in the API's shape,
// never a crash or a 500.
func FuzzAlertsQuery(f *testing.F) {
	f.Add("threshold", "10", "", "2026-11-01", "", "json")
	f.Add("refusal,downgrade", "1000", base64.RawURLEncoding.EncodeToString([]byte("2026-11-20T10:00:00Z n3")), "", "2026-11-20T12:00:00Z", "csv")
	f.Add("", "", base64.RawURLEncoding.EncodeToString([]byte("0001-01-01T00:00:00Z x")), "", "", "")
	f.Add("x,,", "-1", "!!", "2026-02-30", "2026-13-01", "xml")
	mux := alertsMux(f, &memNotices{ns: alertsNotices()})
	f.Fuzz(func(t *testing.T, kind, limit, before, from, to, format string) {
		q := url.Values{"kind": {kind}, "limit": {limit}, "before": {before}, "from": {from}, "to": {to}, "format": {format}}
		for k, v := range q {
			if v[0] == "" {
				delete(q, k)
			}
		}
		rec := getAlerts(t, mux, "linus", "?"+q.Encode())
		switch rec.Code {
		case 200:
		case 400:
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "invalid" {
				t.Fatalf("400 body %s", rec.Body)
			}
		default:
			t.Fatalf("%s: %d %s", q.Encode(), rec.Code, rec.Body)
		}
	})
}
