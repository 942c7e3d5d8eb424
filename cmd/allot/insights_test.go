package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

// runInsights runs the insight commands (registered here as the lead
// registers them in newRootCmd) with apply and keys, in-process.
func runInsights(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &globals{}
	root := &cobra.Command{Use: "allot", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "")
	root.PersistentFlags().StringVar(&g.database, "database", "", "")
	root.AddCommand(newApplyCmd(g), newKeysCmd(g), newInsightsCmd(g), newTopCmd(g), newPricingPlansCmd(g), newExportCmd(g), newTasksCmd(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// insightsLedger applies testdata/org.yaml (alice admin of platform, bob
// member and carol lead of data) and records a week of calls: bob's and
// carol's untagged reviews share a system prompt, and bob has failed calls.
func insightsLedger(t *testing.T) (path, bobKey string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "allot.db")
	if _, err := runInsights(t, "apply", "-f", "testdata/org.yaml", "--database", path); err != nil {
		t.Fatal(err)
	}
	key, err := runInsights(t, "keys", "create", "--user", "bob", "--database", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -7)
	var evs []allot.Event
	for i := range 300 {
		team, user := "data", []string{"bob", "carol"}[i%2]
		if i%3 == 0 {
			team, user = "platform", "alice"
		}
		tok := allot.Tokens{Input: 40_000, Output: 900}
		cost, _ := pricing.Default().Cost("openai", "gpt-4o", start, tok)
		e := allot.Event{
			ID: fmt.Sprintf("e%d", i), Time: start.Add(time.Duration(i) * 30 * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: team, User: user, KeyID: "k-" + user},
			Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
			Task: allot.UntaggedTask, App: "codex", Source: allot.SourceGateway, Status: 200, MaxTokens: 2000,
			SystemFP: 0xc0de, Tokens: tok, Cost: cost, CostKnown: true,
		}
		if user == "alice" {
			e.Task, e.SystemFP = "chat", 0
		}
		if user == "bob" && i%5 == 0 {
			e.Status = 500
		}
		evs = append(evs, e)
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(key)
}

func TestInsightsCommandsKeepMembersToThemselves(t *testing.T) {
	t.Parallel()
	path, bob := insightsLedger(t)

	out, err := runInsights(t, "insights", "--database", path, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var org insights.Insights
	if err := json.Unmarshal([]byte(out), &org); err != nil {
		t.Fatal(err)
	}
	if org.Scope != "org" || org.SpendUSD <= 0 || len(org.Members) != 3 || len(org.Recommendations) == 0 {
		t.Errorf("operator's org view: scope %s spend %s members %d recommendations %d", org.Scope, org.SpendUSD, len(org.Members), len(org.Recommendations))
	}

	out, err = runInsights(t, "insights", "--database", path, "--key", bob, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"scope": "user:bob"`) || strings.Contains(out, "alice") || strings.Contains(out, "carol") {
		t.Errorf("bob's view shows others or not himself:\n%s", out)
	}
	if !strings.Contains(out, insights.KindFailed) {
		t.Errorf("bob's failed calls are not recommended against:\n%s", out)
	}
	for _, args := range [][]string{
		{"insights", "--user", "alice"}, {"insights", "--team", "data"}, {"top", "--by", "user", "--team", "data"},
	} {
		_, err := runInsights(t, append(args, "--database", path, "--key", bob)...)
		if allot.CodeOf(err) != allot.EForbidden {
			t.Errorf("bob runs %v: %v, want forbidden", args, err)
		}
	}
	out, err = runInsights(t, "top", "--by", "user", "--database", path, "--key", bob)
	if err != nil || !strings.Contains(out, "bob") || strings.Contains(out, "alice") || strings.Contains(out, "carol") {
		t.Errorf("bob's top by user (himself only): %v\n%s", err, out)
	}
	out, err = runInsights(t, "insights", "--database", path)
	if err != nil || !strings.Contains(out, "org, ") || !strings.Contains(out, "forecast:") {
		t.Errorf("table view: %v\n%s", err, out)
	}
}

func TestTopPlansAndExportCommands(t *testing.T) {
	t.Parallel()
	path, _ := insightsLedger(t)
	out, err := runInsights(t, "top", "--by", "team", "--period", "2w", "--database", path, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []insights.TopRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || rows[0].Name != "data" || rows[0].Share < 0.6 {
		t.Errorf("top by team: %v %s", err, out)
	}
	if _, err := runInsights(t, "top", "--by", "hour", "--database", path); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("top by hour: %v", err)
	}

	out, err = runInsights(t, "pricing-plans", "compare", "--seat-usd", "30", "--plan", "max=200", "--database", path, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c insights.PlanComparison
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.People) != 3 || len(c.Totals) != 4 || c.Totals[1].Total != 90*allot.USD {
		t.Errorf("plans: %v %+v", err, c)
	}
	if _, err := runInsights(t, "pricing-plans", "compare", "--database", path); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("compare without plans: %v", err)
	}

	out, err = runInsights(t, "export", "--format", "focus", "--database", path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 || recs[0][0] != "BilledCost" {
		t.Fatalf("focus export: %v\n%s", err, out)
	}
	var total, want allot.Money
	for _, r := range recs[1:] {
		m, err := allot.ParseUSD(r[0])
		if err != nil {
			t.Fatal(err)
		}
		total += m
	}
	rows2, _ := runInsights(t, "export", "--format", "csv", "--database", path)
	for _, line := range strings.Split(strings.TrimSpace(rows2), "\n")[1:] {
		f := strings.Split(line, ",")
		m, _ := allot.ParseUSD(f[len(f)-1])
		want += m
	}
	if total != want || total <= 0 {
		t.Errorf("focus total %s, csv total %s", total, want)
	}
}

func TestTasksCommandsLabelAndRelabel(t *testing.T) {
	t.Parallel()
	path, _ := insightsLedger(t)
	out, err := runInsights(t, "tasks", "untagged", "--database", path, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r insights.UntaggedReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Prompts) != 1 || r.Prompts[0].SystemFP != "000000000000c0de" || r.Prompts[0].People != 2 {
		t.Fatalf("untagged: %v %s", err, out)
	}
	if _, err := runInsights(t, "tasks", "label", "zz", "review", "--database", path); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("bad fingerprint: %v", err)
	}
	if out, err := runInsights(t, "tasks", "label", "c0de", "review", "--database", path); err != nil || !strings.Contains(out, "000000000000c0de") {
		t.Fatalf("label: %v %s", err, out)
	}
	if out, _ := runInsights(t, "tasks", "labels", "--database", path); !strings.Contains(out, "000000000000c0de  review") {
		t.Errorf("labels: %s", out)
	}
	out, err = runInsights(t, "tasks", "relabel", "--database", path)
	if err != nil || !strings.Contains(out, "relabelled 200 calls") {
		t.Fatalf("relabel: %v %s", err, out)
	}
	out, _ = runInsights(t, "tasks", "untagged", "--database", path)
	if !strings.Contains(out, "untagged: $0.00") || !strings.Contains(out, "no untagged system prompts") {
		t.Errorf("after relabel:\n%s", out)
	}
	out, _ = runInsights(t, "top", "--by", "task", "--database", path)
	if !strings.Contains(out, "review") || strings.Contains(out, allot.UntaggedTask) {
		t.Errorf("top tasks after relabel:\n%s", out)
	}
}
