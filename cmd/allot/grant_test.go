package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot/sqlite"
)

// TestGrantTopsUpAndIsAudited: allot budgets grant stores the top-up, the
// status shows the raised limit, and the audit log says who did it.
func TestGrantTopsUpAndIsAudited(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org_budgets.yaml", "--database", db)
	out := mustRun(t, "budgets", "grant", "--budget", "data-monthly", "--usd", "20", "--until", "2099-12-31", "--reason", "launch week", "--database", db)
	if !strings.Contains(out, "granted $20") {
		t.Fatalf("grant said %q", out)
	}
	mustRun(t, "keys", "create", "--user", "bob", "--database", db)
	keys := mustRun(t, "keys", "list", "--database", db)
	id := strings.Fields(strings.Split(keys, "\n")[1])[0]
	mustRun(t, "keys", "revoke", id, "--database", db)
	raw := mustRun(t, "budgets", "status", "--format", "json", "--database", db)
	if !strings.Contains(raw, `"limit_usd": 20.05`) {
		t.Fatalf("status after a $20 grant:\n%s", raw)
	}
	if _, err := run(t, "budgets", "grant", "--budget", "nope", "--usd", "1", "--reason", "x", "--database", db); err == nil {
		t.Errorf("a grant to an unknown budget was accepted")
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.AuditEntries(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"policy.apply", "org.apply", "budget.grant", "key.create", "key.revoke"} {
		if !strings.Contains(strings.Join(actions, ","), want) {
			t.Errorf("audit log = %v, want %s", actions, want)
		}
	}
}
