package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/upstreamsim"
)

// demoOrg is the sample organization: 3 teams, 12 people.
var demoOrg = allot.Org{
	Name:  "acme",
	Teams: []allot.Team{{Name: "platform"}, {Name: "data"}, {Name: "product"}},
	Users: []allot.User{
		{Name: "ada", Email: "ada@acme.test", Team: "platform", Role: allot.RoleAdmin},
		{Name: "linus", Email: "linus@acme.test", Team: "platform", Role: allot.RoleLead},
		{Name: "grace", Email: "grace@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "ken", Email: "ken@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "barbara", Email: "barbara@acme.test", Team: "data", Role: allot.RoleLead},
		{Name: "edsger", Email: "edsger@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "frances", Email: "frances@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "john", Email: "john@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "margaret", Email: "margaret@acme.test", Team: "product", Role: allot.RoleLead},
		{Name: "alan", Email: "alan@acme.test", Team: "product", Role: allot.RoleMember},
		{Name: "radia", Email: "radia@acme.test", Team: "product", Role: allot.RoleMember},
		{Name: "donald", Email: "donald@acme.test", Team: "product", Role: allot.RoleMember},
	},
}

// demoPolicy rations the sample org so budgets, alerts and downgrades show.
var demoPolicy = allot.Policy{
	Budgets: []allot.Budget{
		{Name: "org-monthly", Scope: "org", LimitUSD: "500", Period: "month", OnExceed: allot.OnExceedNotify, AlertAt: []int{50, 80, 100}},
		{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "150", Period: "month", AlertAt: []int{50, 80, 100}},
		{Name: "data-premium", Scope: "team:data", Models: []string{"gpt-4o", "claude-opus-*"}, LimitUSD: "150", Period: "week",
			OnExceed: allot.OnExceedDowngrade, Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini", "claude-opus-*": "claude-haiku-4-5"}, AlertAt: []int{80}},
	},
	Defaults:   allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "60", Period: "month", AlertAt: []int{80, 100}}},
	RateLimits: []allot.RateLimit{{Scope: "team:product", RequestsPerMinute: 600, MaxConcurrent: 32}},
	Access:     []allot.ModelAccess{{Scope: "team:product", DenyModels: []string{"o1*", "gpt-4.5*"}}},
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
			simLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("listen for the simulator: %w", err)
			}
			sim := &http.Server{Handler: upstreamsim.New(upstreamsim.Options{Seed: 1}), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = sim.Serve(simLn) }()
			defer sim.Close()
			simURL := "http://" + simLn.Addr().String()

			cfg := config.Default()
			cfg.Listen = listen
			cfg.Database = filepath.Join(dir, "allot.db")
			if g.database != "" {
				cfg.Database = g.database
			}
			cfg.LogFormat = "text"
			cfg.LogLevel = "warn"
			cfg.Providers = []config.Provider{
				{Name: "openai", Type: "openai", BaseURL: simURL + "/v1"},
				{Name: "anthropic", Type: "anthropic", BaseURL: simURL},
			}
			srv, err := startServer(ctx, cfg, serverOptions{})
			if err != nil {
				return err
			}
			keys, err := seedDemo(ctx, srv, days)
			if err != nil {
				_ = srv.shutdown()
				return err
			}
			base := "http://" + srv.addr
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, `allot demo is running (provider simulator at %s, database %s)

  dashboard    %s/   (sign in with a key below)
  gateway      %s/v1   (OpenAI)   %s   (Anthropic)
  report API   %s/api/v1/report?by=team,model   (admin key below)
  metrics      %s/metrics

  admin key (ada):    %s
  member key (grace): %s

Paste to use your own tools through it:
  export OPENAI_BASE_URL=%s/v1 OPENAI_API_KEY=%s
  export ANTHROPIC_BASE_URL=%s ANTHROPIC_API_KEY=%s

  allot report --database %s --by team,model

Sample traffic keeps flowing; Ctrl-C stops the demo.
`, simURL, cfg.Database, base, base, base, base, base, keys["ada"], keys["grace"], base, keys["grace"], base, keys["grace"], cfg.Database)
			go demoTraffic(ctx, base, keys)
			return srv.wait(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8787", "address of the demo gateway")
	cmd.Flags().IntVar(&days, "days", 7, "days of past traffic to replay into the ledger")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo database after exit")
	return cmd
}

// seedDemo applies the sample org, makes a key per person and replays past
// days of usage into the ledger, priced by the catalog like live calls.
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
	rng := rand.New(rand.NewPCG(7, 11))
	now := time.Now().UTC()
	var events []allot.Event
	for d := days; d >= 1; d-- {
		day := now.AddDate(0, 0, -d).Truncate(24 * time.Hour)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for i, u := range demoOrg.Users {
			calls := 20 + rng.IntN(40) + i*3
			for c := 0; c < calls; c++ {
				dc := demoCalls[rng.IntN(len(demoCalls))]
				at := day.Add(time.Duration(8*3600+rng.IntN(10*3600)) * time.Second)
				t := demoTokens(rng, dc)
				ev := allot.Event{
					ID: fmt.Sprintf("demo-%s-%d-%d", u.Name, d, c), Time: at, Principal: principals[u.Name],
					Provider: providerOf(dc.route), RequestedModel: dc.model, ServedModel: dc.model, Route: dc.route,
					Task: dc.task, Session: fmt.Sprintf("s-%s-%d-%d", u.Name, d, c/8), App: dc.app, Source: allot.SourceImport,
					Status: 200, Stream: dc.stream, Latency: time.Duration(400+rng.IntN(9000)) * time.Millisecond,
					TTFT: time.Duration(150+rng.IntN(900)) * time.Millisecond, RequestBytes: t.Input * 4, Messages: 2 + rng.IntN(20),
					SystemFP: uint64(rng.IntN(6) + 1), RequestFP: rng.Uint64(), Tokens: t,
				}
				ev.Cost, ev.CostKnown = srv.catalog.Cost(ev.Provider, ev.ServedModel, at, t)
				events = append(events, ev)
			}
		}
	}
	for len(events) > 0 {
		n := min(len(events), 1000)
		if _, err := srv.db.Append(ctx, events[:n]); err != nil {
			return nil, fmt.Errorf("replay demo history: %w", err)
		}
		events = events[n:]
	}
	policy, err := json.Marshal(demoPolicy)
	if err != nil {
		return nil, fmt.Errorf("encode demo policy: %w", err)
	}
	if err := srv.db.SetSetting(ctx, allot.PolicySetting, policy); err != nil {
		return nil, fmt.Errorf("store demo policy: %w", err)
	}
	if _, err := srv.ration.Refresh(ctx); err != nil { // rebuilds the budgets from the history above
		return nil, fmt.Errorf("apply demo policy: %w", err)
	}
	return keys, nil
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
		dc := demoCalls[rng.IntN(len(demoCalls))]
		path, body := demoRequest(dc)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keys[u.Name])
		req.Header.Set("User-Agent", dc.userAgent)
		req.Header.Set("X-Allot-Task", dc.task)
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
		resp.Body.Close()
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
