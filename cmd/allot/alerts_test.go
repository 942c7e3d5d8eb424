package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// runSub runs one command built by newCmd under a root with the global
// flags, whether or not root.go registers it yet.
func runSub(t *testing.T, newCmd func(*globals) *cobra.Command, args ...string) (string, error) {
	t.Helper()
	g := &globals{}
	root := &cobra.Command{Use: "allot", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "")
	root.PersistentFlags().StringVar(&g.database, "database", "", "")
	root.AddCommand(newCmd(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// alertsFixture is a database with three notices and three audit entries
// in November 2026.
func alertsFixture(t *testing.T) (string, []allot.Notice, []allot.AuditEntry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "allot.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	notices := []allot.Notice{
		{ID: "threshold|data-monthly|80|2026-11-01T00:00:00Z", Time: at, Kind: allot.NoticeThreshold, Budget: "data-monthly",
			Scope: "team:data", User: "bob", Message: `budget "data-monthly" (team:data) reached 80% of its limit: spent $40.00 of $50.00 this month; it resets at 2026-12-01T00:00:00Z.`,
			Detail: map[string]any{"threshold": float64(80), "spent_usd": "40.000000000", "limit_usd": "50.000000000"}},
		{ID: "downgrade|platform-monthly-with-a-very-long-name|2026-11-01T00:00:00Z", Time: at.Add(time.Hour), Kind: allot.NoticeDowngrade,
			Budget: "platform-monthly-with-a-very-long-name", Scope: "team:platform", User: "alice-with-a-long-name",
			Message: "budget is full and started downgrading calls", Detail: map[string]any{"requested_model": "claude-opus-4-1-20250805", "served_model": "claude-haiku-4-5-20251001"}},
		{ID: "refusal|tokens|2026-11-01T00:00:00Z", Time: at.Add(2 * time.Hour), Kind: allot.NoticeRefusal, Budget: "tokens", Scope: "org",
			Message: strings.Repeat("a long sentence without detail ", 5)},
	}
	for _, n := range notices {
		if _, err := db.AddNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	entries := []allot.AuditEntry{
		{Time: at, Actor: "cli:root", Action: "policy.apply", Target: "org.yaml", Detail: "3 budgets, 1 rate limit"},
		{Time: at.Add(time.Minute), Actor: "cli:a-very-long-operator-name", Action: "budget.grant", Target: "data-monthly",
			Detail: `{"budget":"data-monthly","amount_usd":20,"until":"2027-01-01T00:00:00Z","reason":"launch week, as agreed with finance"}`},
		{Time: at.Add(2 * time.Minute), Actor: "alice", Action: "key.revoke", Target: "k_0123456789abcdef0123"},
	}
	for _, e := range entries {
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return path, notices, entries
}

func TestAlertsCommand(t *testing.T) {
	t.Parallel()
	db, notices, _ := alertsFixture(t)
	out, err := runSub(t, newAlertsCmd, "alerts", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	var got []allot.Notice
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("alerts JSON: %v\n%s", err, out)
	}
	want := []allot.Notice{notices[2], notices[1], notices[0]} // newest first
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alerts JSON = %+v\nwant %+v", got, want)
	}

	tests := []struct {
		name     string
		args     []string
		contains []string
		lines    int
	}{
		{"table", []string{"--from", "2026-11-01", "--to", "2026-11-30"},
			[]string{"TIME", "2026-11-20 09:30", "threshold", "80%: $40.00 of $50.00", "claude-opus-4-1-20250805", "a long sentence",
				"platform-monthly-with-a-very-long-name", "alice-with-a-long-name"}, 0},
		{"limit", []string{"--from", "2026-11-01", "--to", "2026-11-30", "--limit", "1"}, []string{"refusal"}, 0},
		{"an empty range", []string{"--from", "2026-10-01", "--to", "2026-10-31"}, []string{"no alerts in this range"}, 1},
	}
	for _, tc := range tests {
		out, err := runSub(t, newAlertsCmd, append([]string{"alerts", "--database", db}, tc.args...)...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkTable(t, tc.name, out, tc.contains, tc.lines)
	}
	for _, args := range [][]string{{"--format", "csv"}, {"--from", "yesterday"}, {"--from", "2026-11-30", "--to", "2026-11-01"}} {
		if _, err := runSub(t, newAlertsCmd, append([]string{"alerts", "--database", db}, args...)...); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("alerts %v: err %v, want an invalid-input error", args, err)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.db")
	if db, err := sqlite.Open(context.Background(), empty); err != nil {
		t.Fatal(err)
	} else {
		db.Close()
	}
	if out, err := runSub(t, newAlertsCmd, "alerts", "--format", "json", "--database", empty); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("alerts on an empty database: %q, %v; want []", out, err)
	}
}

func TestAuditCommand(t *testing.T) {
	t.Parallel()
	db, _, entries := alertsFixture(t)
	out, err := runSub(t, newAuditCmd, "audit", "--from", "2026-11-20", "--to", "2026-11-20", "--format", "json", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	var got []allot.AuditEntry
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("audit JSON: %v\n%s", err, out)
	}
	if want := []allot.AuditEntry{entries[2], entries[1], entries[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit JSON = %+v\nwant %+v", got, want)
	}
	out, err = runSub(t, newAuditCmd, "audit", "--from", "2026-11-20", "--to", "2026-11-20", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, "audit table", out, []string{"ACTOR", "budget.grant", "cli:a-very-long-operator-name", "key.revoke", "k_0123456789abcdef0123",
		"amount_usd=$20.00", "budget=data-monthly", "until=2027-01-01T00:00Z", "3 budgets, 1 rate limit"}, 0)
	if strings.Contains(out, `{"`) {
		t.Errorf("audit table shows raw JSON:\n%s", out)
	}
	if out, _ := runSub(t, newAuditCmd, "audit", "--from", "2026-10-01", "--to", "2026-10-02", "--database", db); !strings.Contains(out, "no audit entries") {
		t.Errorf("audit of an empty range: %q", out)
	}
	if _, err := runSub(t, newAuditCmd, "audit", "--format", "yaml", "--database", db); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("audit --format yaml: %v", err)
	}
}

// TestAuditShowsCLIChanges: changes made with the CLI appear in allot audit.
func TestAuditShowsCLIChanges(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org_budgets.yaml", "--database", db)
	mustRun(t, "budgets", "grant", "--budget", "data-monthly", "--usd", "20", "--until", "2099-12-31", "--reason", "launch week", "--database", db)
	out, err := runSub(t, newAuditCmd, "audit", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, "audit after apply and grant", out, []string{"policy.apply", "budget.grant", "data-monthly", "cli"}, 0)
}

// checkTable checks that out holds every string in contains, has lines
// lines (0: any) and cuts nothing short ("…"): identifiers widen their
// column, free text wraps.
func checkTable(t *testing.T, name, out string, contains []string, lines int) {
	t.Helper()
	for _, want := range contains {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, out)
		}
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if lines > 0 && len(got) != lines {
		t.Errorf("%s has %d lines, want %d:\n%s", name, len(got), lines, out)
	}
	if strings.Contains(out, "…") {
		t.Errorf("%s cuts a cell short:\n%s", name, out)
	}

}
