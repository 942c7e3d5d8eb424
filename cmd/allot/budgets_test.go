package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/upstreamsim"
)

// testServerConfig is a config for startServer against sim with orgFile.
func testServerConfig(t *testing.T, simURL, dbPath, orgFile string) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Database = dbPath
	cfg.LogLevel = "error"
	cfg.Org = orgFile
	cfg.Providers = []config.Provider{
		{Name: "openai", Type: "openai", BaseURL: simURL + "/v1"},
		{Name: "anthropic", Type: "anthropic", BaseURL: simURL},
	}
	return cfg
}

// chat sends one non-streamed chat call and returns its status.
func chat(t *testing.T, addr, key, model string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","max_tokens":200,"messages":[{"role":"user","content":"Summarize the design review."}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("x-sim-output-tokens", "150")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// budgetsOf reads GET /api/v1/budgets with key, by budget name.
func budgetsOf(t *testing.T, addr, key string) map[string]map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/budgets", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/budgets: %d %v", resp.StatusCode, err)
	}
	out := map[string]map[string]any{}
	for _, b := range list {
		out[b["name"].(string)] = b
	}
	return out
}

// TestRationingSurvivesRestart: a team budget is exhausted, allot stops,
// starts again with fresh counters and rebuilds the spend from the ledger:
// the budget still refuses, spent equals the ledger's sum, nothing stays
// reserved.
func TestRationingSurvivesRestart(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	dbPath := filepath.Join(t.TempDir(), "allot.db")
	cfg := testServerConfig(t, sim.URL, dbPath, "testdata/org_budgets.yaml")
	ctx := context.Background()

	start := func() (*server, chan error, context.CancelFunc) {
		sctx, stop := context.WithCancel(ctx)
		srv, err := startServer(sctx, cfg, serverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.wait(sctx) }()
		return srv, done, stop
	}
	srv, done, stop := start()
	bob, _, err := srv.db.CreateKey(ctx, "bob", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := srv.db.CreateKey(ctx, "alice", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range 200 {
		if code := chat(t, srv.addr, bob, "gpt-4o"); code == http.StatusOK {
			ok++
		} else if code == http.StatusTooManyRequests {
			break
		} else {
			t.Fatalf("call answered %d", code)
		}
	}
	if ok == 0 || ok == 200 {
		t.Fatalf("%d calls succeeded; the $0.05 budget should stop bob after a few", ok)
	}
	before := budgetsOf(t, srv.addr, admin)["data-monthly"]
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, done, stop = start()
	defer func() { stop(); <-done }()
	if code := chat(t, srv.addr, bob, "gpt-4o"); code != http.StatusTooManyRequests {
		t.Fatalf("after restart bob's call answered %d, want 429: spend was not rebuilt", code)
	}
	after := budgetsOf(t, srv.addr, admin)["data-monthly"]
	if after["spent_usd"] != before["spent_usd"] || after["reserved_usd"] != json.Number("0") && fmt.Sprint(after["reserved_usd"]) != "0" {
		t.Fatalf("after restart %v, before %v: spent must be rebuilt and nothing reserved", after, before)
	}
	var sum allot.Money
	evs, err := srv.db.Events(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		sum += e.Cost
	}
	if fmt.Sprint(after["spent_usd"]) != sum.String() && fmt.Sprint(after["spent_usd"]) != strings.TrimRight(strings.TrimRight(sum.String(), "0"), ".") {
		t.Fatalf("rebuilt spent %v, ledger holds %s", after["spent_usd"], sum)
	}
}

// seedSpend appends n calls of bob costing cost each, now.
func seedSpend(t *testing.T, db string, n int, cost allot.Money) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var evs []allot.Event
	for i := range n {
		evs = append(evs, allot.Event{
			ID: fmt.Sprintf("seed-%d", i), Time: time.Now().UTC().Add(-time.Minute),
			Principal: allot.Principal{Org: "acme", Team: "data", User: "bob", Role: allot.RoleMember},
			Provider:  "openai", RequestedModel: "gpt-4o-mini", ServedModel: "gpt-4o-mini", Route: allot.RouteChat,
			Task: allot.UntaggedTask, Source: allot.SourceGateway, Status: 200,
			Tokens: allot.Tokens{Input: 1000, Output: 100}, Cost: cost, CostKnown: true,
		})
	}
	if _, err := store.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
}

// TestBudgetsStatusAndMe: the CLI's budget views match the ledger.
func TestBudgetsStatusAndMe(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	out := mustRun(t, "apply", "-f", "testdata/org_budgets.yaml", "--database", db)
	if !strings.Contains(out, "policy:") {
		t.Errorf("apply did not report the policy: %q", out)
	}
	seedSpend(t, db, 4, allot.MustUSD("0.01"))

	var st []map[string]any
	raw := mustRun(t, "budgets", "status", "--format", "json", "--database", db)
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, raw)
	}
	byName := map[string]map[string]any{}
	for _, s := range st {
		byName[s["name"].(string)] = s
		for _, k := range []string{"name", "scope", "spent_usd", "reserved_usd", "limit_usd", "percent", "period_start", "period_end", "projected_usd", "runs_out_at"} {
			if _, ok := s[k]; !ok {
				t.Errorf("budget %v lacks %q", s["name"], k)
			}
		}
	}
	data := byName["data-monthly"]
	if data == nil || fmt.Sprint(data["spent_usd"]) != "0.04" || fmt.Sprint(data["limit_usd"]) != "0.05" || fmt.Sprint(data["percent"]) != "80" {
		t.Fatalf("data-monthly = %v, want spent 0.04 of 0.05 (80%%)", data)
	}
	if table := mustRun(t, "budgets", "status", "--database", db); !strings.Contains(table, "data-monthly") || longestLine(table) > 80 {
		t.Errorf("status table:\n%s", table)
	}

	key := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "bob", "--database", db))
	var me struct {
		User         string      `json:"user"`
		SpendUSD     json.Number `json:"spend_usd"`
		RemainingUSD json.Number `json:"remaining_usd"`
		Budgets      []map[string]any
	}
	raw = mustRun(t, "me", "--key", key, "--format", "json", "--database", db)
	if err := json.Unmarshal([]byte(raw), &me); err != nil {
		t.Fatalf("me JSON: %v\n%s", err, raw)
	}
	spend, _ := allot.ParseUSD(me.SpendUSD.String())
	left, _ := allot.ParseUSD(me.RemainingUSD.String())
	if me.User != "bob" || spend != allot.MustUSD("0.04") || left != allot.MustUSD("0.01") || len(me.Budgets) < 2 {
		t.Fatalf("me = %+v, want bob with 0.04 spent and 0.01 left of data-monthly", me)
	}
}

// longestLine is the width of s's widest line, in runes.
func longestLine(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		n = max(n, len([]rune(line)))
	}
	return n
}
