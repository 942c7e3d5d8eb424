package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot/internal/storetest"
	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/upstreamsim"
)

// TestHugeLedger: a ledger one member filled with calls of allot.MaxMoney
// and 1e15 tokens and more (issue #14) still reports, shows its budgets,
// and lets allot serve start (it rebuilds budget spend from the ledger):
// every sum saturates, none fails or turns negative.
func TestHugeLedger(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org_huge.yaml", "--database", path)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-30 * time.Hour).Truncate(time.Hour) // alice's calls: within the rolling budgets' 72 hours
	if _, err := db.Append(ctx, storetest.HugeEvents(start)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	const saturated = "9223372036.854775807"
	sameMonth := start.Month() == time.Now().UTC().Month() // all of alice's calls fall in this month's cell

	from, to := start.Format(time.DateOnly), start.Add(48*time.Hour).Format(time.DateOnly)
	out := mustRun(t, "report", "--by", "user,day", "--from", from, "--to", to, "--format", "json", "--database", path)
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	for _, r := range rows {
		for k, v := range r {
			if strings.HasPrefix(string(v), "-") {
				t.Errorf("report: %s = %s is negative", k, v)
			}
		}
		if string(r["user"]) == `"alice"` && string(r["cost_usd"]) != saturated {
			t.Errorf("report: alice spent %s on %s, want %s", r["cost_usd"], r["day"], saturated)
		}
	}
	if out := mustRun(t, "report", "--by", "user", "--from", from, "--to", to, "--database", path); !strings.Contains(out, "alice") {
		t.Errorf("report table:\n%s", out)
	}

	checkBudgets := func(what string, st []map[string]any) {
		t.Helper()
		byName := map[string]map[string]any{}
		for _, s := range st {
			byName[s["name"].(string)] = s
			for _, k := range []string{"spent_usd", "spent_tokens", "reserved_usd", "projected_usd", "percent"} {
				if v, ok := s[k]; ok && strings.HasPrefix(jsonText(v), "-") {
					t.Errorf("%s: budget %v: %s = %v is negative", what, s["name"], k, v)
				}
			}
		}
		// One counter cell a month: the rebuild replays it saturated.
		if got := jsonText(byName["org-month"]["spent_usd"]); got != saturated && sameMonth {
			t.Errorf("%s: org-month spent %s, want %s", what, got, saturated)
		}
		// Rolling periods read several cells; each is saturated, and so is
		// their sum where the counters saturate (budget.MemoryCounters).
		for _, name := range []string{"alice-usd", "platform-tokens", "org-month"} {
			if p, err := strconv.ParseFloat(jsonText(byName[name]["percent"]), 64); err != nil || p < 100 && (name != "org-month" || sameMonth) {
				t.Errorf("%s: %s used %v%% of its limit, want it exhausted", what, name, byName[name]["percent"])
			}
		}
	}
	var st []map[string]any
	raw := mustRun(t, "budgets", "status", "--format", "json", "--database", path)
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("budgets status JSON: %v\n%s", err, raw)
	}
	checkBudgets("allot budgets status", st)
	if table := mustRun(t, "budgets", "status", "--database", path); !strings.Contains(table, "alice-usd") {
		t.Errorf("budgets status table:\n%s", table)
	}

	// allot serve: the start rebuilds every budget's spend from the ledger.
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	sctx, stop := context.WithCancel(ctx)
	srv, err := startServer(sctx, testServerConfig(t, sim.URL, path, "testdata/org_huge.yaml"), serverOptions{})
	if err != nil {
		stop()
		t.Fatalf("allot serve over the ledger: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(sctx) }()
	defer func() { stop(); <-done }()
	admin, _, err := srv.db.CreateKey(ctx, "alice", "admin")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+"/api/v1/budgets", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec = json.NewDecoder(resp.Body)
	dec.UseNumber()
	st = nil
	if err := dec.Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/budgets: %d %v", resp.StatusCode, err)
	}
	checkBudgets("allot serve", st)
}

// jsonText is a decoded JSON value as it was written.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}
