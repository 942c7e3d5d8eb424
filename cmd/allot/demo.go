package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/upstreamsim"
)

// demoOrg is the sample organization: 12 people in two teams of six, so
// leads see their team's distributions and recommendations (groups under
// allot.MinPeerGroup are never shown).
var demoOrg = allot.Org{
	Name:  "acme",
	Teams: []allot.Team{{Name: "platform"}, {Name: "data"}},
	Users: []allot.User{
		{Name: "ada", Email: "ada@acme.test", Team: "platform", Role: allot.RoleAdmin},
		{Name: "linus", Email: "linus@acme.test", Team: "platform", Role: allot.RoleLead},
		{Name: "grace", Email: "grace@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "ken", Email: "ken@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "radia", Email: "radia@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "donald", Email: "donald@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "barbara", Email: "barbara@acme.test", Team: "data", Role: allot.RoleLead},
		{Name: "edsger", Email: "edsger@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "frances", Email: "frances@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "john", Email: "john@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "margaret", Email: "margaret@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "alan", Email: "alan@acme.test", Team: "data", Role: allot.RoleMember},
	},
}

// demoPolicy rations the sample org so budgets, alerts, a downgrade and
// a refusal show at once. Limits that must already be reached are set
// from the seeded history h: the data team's premium models over the last
// 7 days (downgrading), radia's last 7 days (refusing her), and the
// org's and platform's month so far (alerting, projected past the limit).
func demoPolicy(h *demoHistory) allot.Policy {
	now := h.now
	week := now.Add(-7 * 24 * time.Hour)
	monthStart, _ := allot.MonthOf(now)
	premium := func(e *allot.Event) bool {
		return e.Team == "data" && (e.ServedModel == "gpt-4o" || strings.HasPrefix(e.ServedModel, "claude-opus-"))
	}
	dollars := func(m allot.Money, pct int64) string { // pct % of m in whole dollars, at least $5
		return strconv.FormatInt(max(int64(m)*pct/100/int64(allot.USD), 5), 10)
	}
	orgMonth := h.spend(monthStart, func(*allot.Event) bool { return true })
	platformMonth := h.spend(monthStart, func(e *allot.Event) bool { return e.Team == "platform" })
	return allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org-monthly", Scope: "org", LimitUSD: dollars(orgMonth, 120), Period: "month", OnExceed: allot.OnExceedNotify, AlertAt: []int{50, 80, 100}},
			{Name: "platform-monthly", Scope: "team:platform", LimitUSD: dollars(platformMonth, 140), Period: "month", AlertAt: []int{50, 80, 100}},
			{Name: "data-premium", Scope: "team:data", Models: []string{"gpt-4o", "claude-opus-*"}, LimitUSD: dollars(h.spend(week, premium), 80), Period: "rolling:7d",
				OnExceed: allot.OnExceedDowngrade, Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini", "claude-opus-*": "claude-haiku-4-5"}, AlertAt: []int{80}},
			{Name: "radia-agents", Scope: "user:radia", LimitUSD: dollars(h.spend(week, func(e *allot.Event) bool { return e.User == "radia" }), 80), Period: "rolling:7d", AlertAt: []int{80, 100}},
		},
		Defaults:   allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "400", Period: "month", AlertAt: []int{80, 100}}},
		RateLimits: []allot.RateLimit{{Scope: "team:data", RequestsPerMinute: 600, MaxConcurrent: 32}},
		Access:     []allot.ModelAccess{{Scope: "team:data", DenyModels: []string{"o1*", "gpt-4.5*"}}},
	}
}

// demoCall is one kind of call the demo traffic makes.
type demoCall struct {
	task, app, userAgent string
	route                allot.Route
	model                string
	stream               bool
}

var demoCalls = []demoCall{
	{"code-review", "claude-cli", "claude-cli/2.0.14 (external, cli)", allot.RouteMessages, "claude-sonnet-4-5", true},
	{"code-review", "claude-cli", "claude-cli/2.0.14 (external, cli)", allot.RouteMessages, "claude-opus-4-1", true},
	{"refactoring", "codex", "codex_cli_rs/0.46.0", allot.RouteResponses, "gpt-5", true},
	{"chat", "openai-python", "OpenAI/Python 1.109.1", allot.RouteChat, "gpt-4o", false},
	{"chat", "openai-python", "OpenAI/Python 1.109.1", allot.RouteChat, "gpt-4o-mini", true},
	{"summarize", "anthropic-python", "Anthropic/Python 0.69.0", allot.RouteMessages, "claude-haiku-4-5", false},
	{"search-index", "openai-python", "OpenAI/Python 1.109.1", allot.RouteEmbeddings, "text-embedding-3-small", false},
	{"data-analysis", "openai-go", "OpenAI/Go 3.8.0", allot.RouteChat, "o4-mini", false},
}

func newDemoCmd(g *globals) *cobra.Command {
	var listen string
	var days int
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run allot with a provider simulator, a sample org and sample traffic; no config or keys needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "allot-demo-")
			if err != nil {
				return fmt.Errorf("make demo folder: %w", err)
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			d, err := startDemo(ctx, listen, filepath.Join(dir, "allot.db"), g.database, days)
			if err != nil {
				return err
			}
			defer d.sim.Close()
			base := "http://" + d.srv.addr
			keys, simURL, database := d.keys, d.simURL, d.srv.cfg.Database
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, `allot demo is running (provider simulator at %s, database %s)
%d days of history for 12 people seeded in %s.

  dashboard    %s/   (sign in with a key below)
  gateway      %s/v1   (OpenAI)   %s   (Anthropic)
  report API   %s/api/v1/report?by=team,model   (admin key below)
  metrics      %s/metrics

  admin key (ada):    %s
  lead key (barbara): %s
  member key (grace): %s

Paste to use your own tools through it:
  export OPENAI_BASE_URL=%s/v1 OPENAI_API_KEY=%s
  export ANTHROPIC_BASE_URL=%s ANTHROPIC_API_KEY=%s

  allot report --database %s --by team,model

Sample traffic keeps flowing; Ctrl-C stops the demo.
`, simURL, database, days, d.took.Round(10*time.Millisecond), base, base, base, base, base, keys["ada"], keys["barbara"], keys["grace"], base, keys["grace"], base, keys["grace"], database)
			go demoTraffic(ctx, base, keys)
			return d.srv.wait(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8787", "address of the demo gateway")
	cmd.Flags().IntVar(&days, "days", 30, "days of past traffic to replay into the ledger (and as many before, for trends)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo database after exit")
	return cmd
}

// demo is a running demo: the server, the provider simulator and a key
// per person.
type demo struct {
	srv    *server
	sim    *http.Server
	simURL string
	keys   map[string]string
	took   time.Duration // from start to seeded
}

// startDemo starts the provider simulator and allot on listen with the
// database at database (override, if set, instead), and seeds it.
func startDemo(ctx context.Context, listen, database, override string, days int) (*demo, error) {
	began := time.Now()
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	d := &demo{sim: &http.Server{Handler: upstreamsim.New(upstreamsim.Options{Seed: 1}), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = d.sim.Serve(simLn) }()
	d.simURL = "http://" + simLn.Addr().String()

	cfg := config.Default()
	cfg.Listen = listen
	cfg.Database = database
	if override != "" {
		cfg.Database = override
	}
	cfg.LogFormat = "text"
	cfg.LogLevel = "warn"
	cfg.Providers = []config.Provider{
		{Name: "openai", Type: "openai", BaseURL: d.simURL + "/v1"},
		{Name: "anthropic", Type: "anthropic", BaseURL: d.simURL},
	}
	if d.srv, err = startServer(ctx, cfg, serverOptions{}); err != nil {
		d.sim.Close()
		return nil, err
	}
	if d.keys, err = seedDemo(ctx, d.srv, days); err != nil {
		_ = d.srv.shutdown()
		d.sim.Close()
		return nil, err
	}
	d.took = time.Since(began)
	return d, nil
}

// seedDemo applies the sample org, makes a key per person, replays past
// days of usage into the ledger (priced by the catalog like live calls),
// stores the policy and a grant, and makes the live calls that downgrade,
// refuse and alert.
func seedDemo(ctx context.Context, srv *server, days int) (map[string]string, error) {
	if _, err := srv.db.ApplyOrg(ctx, demoOrg); err != nil {
		return nil, fmt.Errorf("apply demo org: %w", err)
	}
	keys := map[string]string{}
	principals := map[string]allot.Principal{}
	for _, u := range demoOrg.Users {
		secret, key, err := srv.db.CreateKey(ctx, u.Name, "demo")
		if err != nil {
			return nil, fmt.Errorf("demo key for %s: %w", u.Name, err)
		}
		keys[u.Name] = secret
		principals[u.Name] = allot.Principal{Org: demoOrg.Name, Team: u.Team, User: u.Name, KeyID: key.ID, KeyLabel: key.Label, Role: u.Role}
	}
	h := newDemoHistory(time.Now(), principals, srv.catalog.Cost)
	h.generate(max(days, 1))
	for events := h.events; len(events) > 0; {
		n := min(len(events), 5000)
		if _, err := srv.db.Append(ctx, events[:n]); err != nil {
			return nil, fmt.Errorf("replay demo history: %w", err)
		}
		events = events[n:]
	}
	policy, err := json.Marshal(demoPolicy(h))
	if err != nil {
		return nil, fmt.Errorf("encode demo policy: %w", err)
	}
	if err := srv.db.SetSetting(ctx, allot.PolicySetting, policy); err != nil {
		return nil, fmt.Errorf("store demo policy: %w", err)
	}
	grant := allot.Grant{Budget: "platform-monthly", Amount: 25 * allot.USD, Until: h.now.Truncate(24*time.Hour).AddDate(0, 0, 10), Reason: "launch week: load tests"}
	if err := srv.db.AddGrant(ctx, grant); err != nil {
		return nil, fmt.Errorf("store demo grant: %w", err)
	}
	if _, err := srv.ration.Refresh(ctx); err != nil { // rebuilds the budgets from the history above
		return nil, fmt.Errorf("apply demo policy: %w", err)
	}
	demoLiveCalls(ctx, "http://"+srv.addr, keys)
	return keys, nil
}

// demoLiveCalls makes the calls that show rationing at work, through the
// gateway: barbara's opus call downgraded by the data team's premium
// budget, radia's agent refused by hers, and calls that cross the org's
// and platform's alert thresholds.
func demoLiveCalls(ctx context.Context, base string, keys map[string]string) {
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range []struct {
		user string
		call demoCall
	}{
		{"barbara", analysisOpus}, {"radia", agentRun}, {"ada", sonnetReview}, {"grace", opusReview}, {"margaret", demoCalls[4]},
	} {
		_ = demoSend(ctx, client, base, keys[c.user], c.call)
	}
}

// demoSend makes one call of kind dc with key through the gateway at
// base and reads the answer.
func demoSend(ctx context.Context, client *http.Client, base, key string, dc demoCall) error {
	path, body := demoRequest(dc)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("User-Agent", dc.userAgent)
	req.Header.Set("X-Allot-Task", dc.task)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func providerOf(r allot.Route) string {
	if r == allot.RouteMessages {
		return "anthropic"
	}
	return "openai"
}

// demoTokens draws realistic usage for a kind of call.
func demoTokens(rng *rand.Rand, dc demoCall) allot.Tokens {
	in := int64(800 + rng.IntN(12000))
	if dc.task == "code-review" || dc.task == "refactoring" {
		in += int64(rng.IntN(60000))
	}
	if dc.route == allot.RouteEmbeddings {
		return allot.Tokens{Input: int64(50 + rng.IntN(2000))}
	}
	t := allot.Tokens{Input: in, Output: int64(50 + rng.IntN(1500))}
	if in > 4000 && rng.IntN(3) > 0 {
		t.CacheRead = in * int64(50+rng.IntN(40)) / 100
		if dc.route == allot.RouteMessages && rng.IntN(4) == 0 {
			t.CacheWrite5m = (in - t.CacheRead) / 2
		}
	}
	if dc.model == "o4-mini" || dc.model == "gpt-5" {
		t.Reasoning = t.Output * int64(30+rng.IntN(50)) / 100
	}
	return t
}

// demoTraffic sends real calls through the gateway until ctx ends, so live
// totals move while people look.
func demoTraffic(ctx context.Context, base string, keys map[string]string) {
	rng := rand.New(rand.NewPCG(3, 5))
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(1500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		u := demoOrg.Users[rng.IntN(len(demoOrg.Users))]
		_ = demoSend(ctx, client, base, keys[u.Name], demoCalls[rng.IntN(len(demoCalls))])
	}
}

func demoRequest(dc demoCall) (string, []byte) {
	stream := "false"
	if dc.stream {
		stream = "true"
	}
	switch dc.route {
	case allot.RouteMessages:
		return "/v1/messages", []byte(`{"model":"` + dc.model + `","max_tokens":512,"stream":` + stream + `,"system":"You are a careful reviewer.","messages":[{"role":"user","content":"Review this change for bugs: func add(a, b int) int { return a - b }"}]}`)
	case allot.RouteResponses:
		return "/v1/responses", []byte(`{"model":"` + dc.model + `","stream":` + stream + `,"instructions":"You refactor code.","input":"Rename the variable x to count in: x := 0; x++"}`)
	case allot.RouteEmbeddings:
		return "/v1/embeddings", []byte(`{"model":"` + dc.model + `","input":["allot meters tokens","budgets never overshoot"]}`)
	}
	return "/v1/chat/completions", []byte(`{"model":"` + dc.model + `","stream":` + stream + `,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Summarize why exact money matters in billing."}]}`)
}
