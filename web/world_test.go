package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/web"
)

// worldOrg is a small company like allot demo's: an admin, a lead per
// team and members; platform has six people so its peer distribution
// shows, the other teams are too small to.
var worldOrg = allot.Org{
	Name:  "acme",
	Teams: []allot.Team{{Name: "platform"}, {Name: "data"}, {Name: "product"}},
	Users: []allot.User{
		{Name: "ada", Team: "platform", Role: allot.RoleAdmin},
		{Name: "linus", Team: "platform", Role: allot.RoleLead},
		{Name: "grace", Team: "platform", Role: allot.RoleMember},
		{Name: "ken", Team: "platform", Role: allot.RoleMember},
		{Name: "dennis", Team: "platform", Role: allot.RoleMember},
		{Name: "bjarne", Team: "platform", Role: allot.RoleMember},
		{Name: "barbara", Team: "data", Role: allot.RoleLead},
		{Name: "edsger", Team: "data", Role: allot.RoleMember},
		{Name: "frances", Team: "data", Role: allot.RoleMember},
		{Name: "margaret", Team: "product", Role: allot.RoleLead},
		{Name: "alan", Team: "product", Role: allot.RoleMember},
		{Name: "radia", Team: "product", Role: allot.RoleMember},
	},
}

// worldPolicy rations the org so budget pages have something to show.
var worldPolicy = allot.Policy{
	Budgets: []allot.Budget{
		{Name: "org-monthly", Scope: "org", LimitUSD: "5000", Period: "month", OnExceed: allot.OnExceedNotify, AlertAt: []int{50, 80}},
		{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "900", Period: "month", AlertAt: []int{80, 100}},
		{Name: "data-premium", Scope: "team:data", Models: []string{"gpt-4o"}, LimitUSD: "300", Period: "week",
			OnExceed: allot.OnExceedDowngrade, Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini"}},
		// Tight enough that gauges show a projection past the limit and a limit reached.
		{Name: "grace-tight", Scope: "user:grace", LimitUSD: "3", Period: "month", OnExceed: allot.OnExceedNotify},
		{Name: "product-cap", Scope: "team:product", LimitUSD: "5", Period: "month", OnExceed: allot.OnExceedNotify},
	},
	Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "400", Period: "month"}},
}

// worldNotices are the budget alerts the world raised, newest first: a
// downgrade of data's premium budget, platform's 80% and the org's 50%.
func worldNotices(now time.Time) []allot.Notice {
	th := func(budget, scope, user string, pct int, ago time.Duration) allot.Notice {
		start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return allot.Notice{ID: fmt.Sprintf("threshold|%s|%d|%s", budget, pct, start.Format(time.RFC3339)), Time: now.Add(-ago),
			Kind: allot.NoticeThreshold, Budget: budget, Scope: scope, User: user,
			Message: fmt.Sprintf("budget %q (%s) reached %d%% of its limit.", budget, scope, pct),
			Detail:  map[string]any{"threshold": pct, "spent_usd": "720.5", "limit_usd": "900"}}
	}
	return []allot.Notice{
		{ID: "downgrade|data-premium|w", Time: now.Add(-time.Hour), Kind: allot.NoticeDowngrade, Budget: "data-premium", Scope: "team:data", User: "edsger",
			Message: `budget "data-premium" (team:data) is full and started downgrading calls. The first downgraded was edsger's call.`,
			Detail:  map[string]any{"requested_model": "gpt-4o", "served_model": "gpt-4o-mini"}},
		th("platform-monthly", "team:platform", "ken", 80, 3*time.Hour),
		th("org-monthly", "org", "edsger", 50, 5*time.Hour),
	}
}

var worldCalls = []struct{ task, app, provider, model string }{
	{"code-review", "claude-cli", "anthropic", "claude-sonnet-4-5"},
	{"code-review", "claude-cli", "anthropic", "claude-opus-4-1"},
	{"refactoring", "codex", "openai", "gpt-5"},
	{"chat", "openai-python", "openai", "gpt-4o"},
	{"chat", "openai-python", "openai", "gpt-4o-mini"},
	{"summarize", "anthropic-python", "anthropic", "claude-haiku-4-5"},
	{"data-analysis", "openai-go", "openai", "o4-mini"},
	{"experiments", "curl", "openai", "my-finetune"}, // no price
}

// world is an allot server as `allot serve` wires it, over a SQLite
// ledger in a temporary folder holding the org, a key per person and
// about ten days of events.
type world struct {
	db     *sqlite.DB
	srv    *httptest.Server
	keys   map[string]string // user -> secret key
	events []allot.Event
	from   string // first day with events (2006-01-02)
	to     string // today
}

// keyAuth authenticates an allot key like the gateway does (without its cache).
func keyAuth(db *sqlite.DB) func(*http.Request) (allot.Principal, error) {
	return func(r *http.Request) (allot.Principal, error) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" {
			key = r.Header.Get("X-Api-Key")
		}
		if key == "" {
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no allot key")
		}
		return db.PrincipalByKeyHash(r.Context(), allot.HashKey(key))
	}
}

// worldEvents makes about n events per person and day over the last days
// days, up to an hour ago.
func worldEvents(principals map[string]allot.Principal, days, n int, now time.Time) []allot.Event {
	rng := rand.New(rand.NewPCG(5, 8))
	var evs []allot.Event
	for d := days; d >= 0; d-- {
		day := now.AddDate(0, 0, -d).Truncate(24 * time.Hour)
		for i, u := range worldOrg.Users {
			calls := n/2 + rng.IntN(n) + i
			for c := range calls {
				at := day.Add(time.Duration(rng.IntN(86400)) * time.Second)
				if !at.Before(now.Add(-time.Hour)) {
					continue
				}
				wc := worldCalls[(i+rng.IntN(3))%len(worldCalls)]
				in := int64(500 + rng.IntN(20000))
				t := allot.Tokens{Input: in, CacheRead: in * int64(rng.IntN(60)) / 100, Output: int64(20 + rng.IntN(2000))}
				e := allot.Event{
					ID: fmt.Sprintf("w-%s-%d-%d", u.Name, d, c), Time: at, Principal: principals[u.Name],
					Provider: wc.provider, RequestedModel: wc.model, ServedModel: wc.model, Route: allot.RouteChat,
					Task: wc.task, Session: fmt.Sprintf("s-%s-%d", u.Name, c/5), App: wc.app, Source: allot.SourceGateway,
					Status: 200, Latency: time.Duration(300+rng.IntN(5000)) * time.Millisecond, Tokens: t,
					Estimated: rng.IntN(25) == 0,
				}
				if rng.IntN(30) == 0 {
					e.Status = 500
				}
				if wc.model != "my-finetune" {
					e.Cost, e.CostKnown = allot.Money(t.Uncached()*2500+t.CacheRead*250+t.Output*10000), true
				}
				evs = append(evs, e)
			}
		}
	}
	return evs
}

// worldPricer prices worst cases for the rationer: $2.50 per million
// input, $10 per million output tokens.
type worldPricer struct{}

func (worldPricer) Cost(_, _ string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	return allot.Money(t.Input*2500 + t.Output*10000), true
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	return newWorldWith(tb, allot.PeerAnonymous)
}

// newWorldWith is newWorld under the peer visibility vis.
func newWorldWith(tb testing.TB, vis string) *world {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "allot.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.ApplyOrg(ctx, worldOrg); err != nil {
		tb.Fatal(err)
	}
	w := &world{db: db, keys: map[string]string{}}
	principals := map[string]allot.Principal{}
	for _, u := range worldOrg.Users {
		secret, key, err := db.CreateKey(ctx, u.Name, "laptop")
		if err != nil {
			tb.Fatal(err)
		}
		w.keys[u.Name] = secret
		principals[u.Name] = allot.Principal{Org: "acme", Team: u.Team, User: u.Name, KeyID: key.ID, KeyLabel: key.Label, Role: u.Role}
	}
	now := time.Now().UTC()
	const days = 9
	w.events = worldEvents(principals, days, 12, now)
	// A runaway afternoon: ken's calls yesterday, many times his usual
	// day, so team platform's insights show an unusual day.
	for i := range 150 {
		at := now.Truncate(24 * time.Hour).Add(-24*time.Hour + 13*time.Hour + time.Duration(i)*time.Minute)
		tok := allot.Tokens{Input: 18000, Output: 900}
		w.events = append(w.events, allot.Event{
			ID: fmt.Sprintf("w-ken-spike-%d", i), Time: at, Principal: principals["ken"],
			Provider: "anthropic", RequestedModel: "claude-opus-4-1", ServedModel: "claude-opus-4-1", Route: allot.RouteChat,
			Task: "code-review", Session: "s-ken-spike", App: "claude-cli", Source: allot.SourceGateway, Status: 200,
			Latency: 4 * time.Second, Tokens: tok, Cost: allot.Money(tok.Input*2500 + tok.Output*10000), CostKnown: true,
		})
	}
	w.from, w.to = now.AddDate(0, 0, -days).Format("2006-01-02"), now.Format("2006-01-02")
	for i := 0; i < len(w.events); i += 1000 {
		if _, err := db.Append(ctx, w.events[i:min(i+1000, len(w.events))]); err != nil {
			tb.Fatal(err)
		}
	}
	for _, n := range worldNotices(now) {
		if _, err := db.AddNotice(ctx, n); err != nil {
			tb.Fatal(err)
		}
	}
	raw, _ := json.Marshal(worldPolicy)
	if err := db.SetSetting(ctx, allot.PolicySetting, raw); err != nil {
		tb.Fatal(err)
	}

	// The rationer, rebuilt from the stored policy and the ledger on every
	// change, as cmd/allot's live rationer does.
	var rt atomic.Pointer[budget.Rationer]
	rebuild := func(ctx context.Context) error {
		raw, err := db.Setting(ctx, allot.PolicySetting)
		if err != nil {
			return err
		}
		var pol allot.Policy
		if err := json.Unmarshal(raw, &pol); err != nil {
			return err
		}
		r, err := budget.New(pol, nil, worldPricer{}, nil)
		if err != nil {
			return err
		}
		if err := r.Replay(ctx, w.events); err != nil {
			return err
		}
		rt.Store(r)
		return nil
	}
	if err := rebuild(ctx); err != nil {
		tb.Fatal(err)
	}

	mux := http.NewServeMux()
	dash := web.New(web.Options{Keys: db, Users: db, PeerVisibility: vis})
	auth := dash.Authenticate(keyAuth(db))
	(&api.Server{Authenticate: auth, Reports: db, Events: db, People: db, Unpriced: db.Unpriced, Policy: db,
		Notices: db, Source: db, Rationer: rt.Load, Refresh: rebuild, PeerVisibility: vis,
		Pricer:  func() allot.Pricer { return pricing.Default() },
		Options: func() insights.Options { o := insights.DefaultOptions(); o.Visibility = vis; return o }}).Routes(mux)
	dash.Routes(mux)
	w.srv = httptest.NewServer(mux)
	tb.Cleanup(w.srv.Close)
	return w
}

// report asks the ledger for totals the way `allot report` does.
func (w *world) report(tb testing.TB, q allot.ReportQuery) allot.ReportRow {
	tb.Helper()
	rows, err := w.db.Report(context.Background(), q)
	if err != nil {
		tb.Fatal(err)
	}
	var sum allot.ReportRow
	for _, r := range rows {
		sum.Requests += r.Requests
		sum.Tokens = sum.Tokens.Add(r.Tokens)
		sum.Cost += r.Cost
		sum.EstimatedRequests += r.EstimatedRequests
	}
	return sum
}

// dayRange returns the RFC 3339 bounds of the world's date range as the
// API reads them (dates are whole UTC days, to inclusive).
func (w *world) dayRange(tb testing.TB) (time.Time, time.Time) {
	from, to, err := api.ParseRange(w.from, w.to, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return from, to
}
