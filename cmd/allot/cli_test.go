package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// run executes the CLI in-process and returns its stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("allot %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// orgLedger is a fresh database of the testdata org holding events.
func orgLedger(t *testing.T, events []allot.Event) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", path)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestApplyIsIdempotentAndKeysPrintOnce(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	if out := mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", db); !strings.Contains(out, "users: 3 created") {
		t.Errorf("first apply: %q", out)
	}
	if out := mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", db); !strings.Contains(out, "users: 0 created, 0 updated, 0 deactivated") {
		t.Errorf("second apply changed something: %q", out)
	}
	key := mustRun(t, "keys", "create", "--user", "bob", "--name", "laptop", "--database", db)
	lines := strings.Split(strings.TrimSpace(key), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], allot.KeyPrefix) {
		t.Fatalf("keys create stdout = %q, want the key alone", key)
	}
	list := mustRun(t, "keys", "list", "--database", db)
	if !strings.Contains(list, "bob") || !strings.Contains(list, "laptop") || strings.Contains(list, lines[0]) {
		t.Errorf("keys list = %q (it must never show the secret)", list)
	}
	if _, err := run(t, "keys", "create", "--user", "nobody", "--database", db); err == nil {
		t.Error("a key for an unknown user was created")
	}
}

// TestReportEqualsSumOfEvents: the CLI report's totals equal the events'
// sums exactly, in JSON with the nine-place decimal.
func TestReportEqualsSumOfEvents(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	var events []allot.Event
	want := map[string]allot.Money{}
	wantReq := map[string]int64{}
	for i := 0; i < 300; i++ {
		team, user := "platform", "alice"
		if i%3 != 0 {
			team, user = "data", "bob"
		}
		model := []string{"gpt-4o", "claude-sonnet-4-5"}[i%2]
		cost := allot.Money(1_234_567 + i*1_000_003) // nano-dollars with odd digits
		events = append(events, allot.Event{
			ID: fmt.Sprintf("ev-%d", i), Time: day.Add(time.Duration(i) * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: team, User: user, KeyID: "k1"},
			Provider:  "openai", RequestedModel: model, ServedModel: model, Route: allot.RouteChat,
			Task: "untagged", App: "curl", Source: allot.SourceGateway, Status: 200,
			Tokens: allot.Tokens{Input: int64(100 + i), CacheRead: int64(i), Output: 7}, Cost: cost, CostKnown: true,
		})
		want[team+"/"+model] += cost
		wantReq[team+"/"+model]++
	}
	path := orgLedger(t, events)
	out := mustRun(t, "report", "--by", "team,model", "--from", "2026-11-10", "--to", "2026-11-10", "--format", "json", "--database", path)
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), out)
	}
	for _, r := range rows {
		var team, model string
		_ = json.Unmarshal(r["team"], &team)
		_ = json.Unmarshal(r["model"], &model)
		k := team + "/" + model
		if got := string(r["cost_usd"]); got != want[k].String() {
			t.Errorf("%s cost_usd = %s, want %s", k, got, want[k])
		}
		if got := string(r["requests"]); got != fmt.Sprint(wantReq[k]) {
			t.Errorf("%s requests = %s, want %d", k, got, wantReq[k])
		}
	}
	table := mustRun(t, "report", "--by", "user,team,model", "--from", "2026-11-10", "--to", "2026-11-10", "--database", path)
	for _, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("table line of %d columns: %q", n, line)
		}
	}
	if !strings.Contains(table, "TOTAL") {
		t.Errorf("table has no total line:\n%s", table)
	}
}
