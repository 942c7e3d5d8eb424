package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

// runIngestCLI runs the import, push and reconcile commands in-process
// (on a root of their own, so the test holds before they are registered).
func runIngestCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &globals{}
	root := &cobra.Command{Use: "allot", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "")
	root.PersistentFlags().StringVar(&g.database, "database", "", "")
	root.AddCommand(newImportCmd(g), newPushCmd(g), newReconcileCmd(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func mustIngestCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runIngestCLI(t, args...)
	if err != nil {
		t.Fatalf("allot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

const (
	claudeLogs  = "../../ingest/claudecode/testdata/projects"
	codexLogs   = "../../ingest/codex/testdata/sessions"
	openaiPages = "../../ingest/usagereport/testdata/openai_completions.json"
	usageCSV    = "../../ingest/csvimport/testdata/usage.csv"
	orgIDs      = "testdata/org_provider_ids.yaml"
)

// TestImportCommands runs every importer twice (the second run adds
// nothing) into each store, then exports what they stored.
func TestImportCommands(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testImportCommands(t, filepath.Join(t.TempDir(), "allot.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testImportCommands(t, postgresTestDatabase(t, "allot_import"))
	})
}

func testImportCommands(t *testing.T, db string) {
	mustRun(t, "apply", "-f", orgIDs, "--database", db)
	for _, tc := range []struct {
		args         []string
		first, again string
	}{
		{[]string{"import", "claude-code", claudeLogs, "--user", "bob"}, "read 13, imported 3, duplicate 2, malformed 3, skipped 5", "imported 0, duplicate 5"},
		{[]string{"import", "codex", codexLogs, "--user", "bob@acme.test"}, "read 17, imported 4, duplicate 2, malformed 2, skipped 9", "imported 0, duplicate 6"},
		{[]string{"import", "openai-usage", openaiPages, "--org", orgIDs}, "read 5, imported 3, duplicate 0, malformed 1, skipped 1", "imported 0, duplicate 3"},
		{[]string{"import", "csv", usageCSV}, "read 12, imported 6, duplicate 1, malformed 5", "imported 0, duplicate 7"},
	} {
		args := append(tc.args, "--database", db)
		if out := mustIngestCLI(t, args...); !strings.Contains(out, tc.first) {
			t.Errorf("%v:\n%s\nwant %q", tc.args, out, tc.first)
		}
		if out := mustIngestCLI(t, args...); !strings.Contains(out, tc.again) {
			t.Errorf("%v again:\n%s\nwant %q", tc.args, out, tc.again)
		}
	}
	// Without --org, provider ids come from what allot apply stored.
	if out := mustIngestCLI(t, "import", "openai-usage", openaiPages, "--database", db); !strings.Contains(out, "imported 0, duplicate 3") {
		t.Errorf("ids stored by apply: %s", out)
	}
	if _, err := runIngestCLI(t, "import", "claude-code", claudeLogs, "--user", "mallory", "--database", db); err == nil || !strings.Contains(err.Error(), "not an active allot user") {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := runIngestCLI(t, "import", "codex", codexLogs, "--database", db); err == nil || !strings.Contains(err.Error(), "--user") {
		t.Errorf("no user: %v", err)
	}
	// 3+4+3+6 imported calls; the export's rows sum to them.
	out := mustRun(t, "export", "--format", "csv", "--from", "2020-01-01", "--to", "2030-12-31", "--database", db)
	if lines := strings.Count(strings.TrimSpace(out), "\n"); lines == 0 {
		t.Errorf("export of the imported usage is empty:\n%s", out)
	}
	if rep := mustRun(t, "report", "--by", "user", "--from", "2020-01-01", "--to", "2030-12-31", "--format", "json", "--database", db); !strings.Contains(rep, `"requests":`) {
		t.Errorf("report of the imported usage: %s", rep)
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "server.db")
	mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", db)
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			if r.Header.Get("Authorization") == "Bearer ak-bob" {
				return allot.Principal{Org: "acme", Team: "data", User: "bob", Role: allot.RoleMember, KeyID: "kbob"}, nil
			}
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key")
		},
		Ledger: store, Pricer: func() allot.Pricer { return pricing.Default() },
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	state := filepath.Join(dir, "state", "push-state.json")
	push := []string{"push", "--server", srv.URL, "--key", "ak-bob", "--state", state, "--claude-dir", claudeLogs, "--codex-dir", codexLogs}
	out := mustIngestCLI(t, push...)
	if !strings.Contains(out, "claude-code: 3 usage records in 13 lines, 3 not sent before") || !strings.Contains(out, "sent 7: imported 7, duplicate 0, malformed 0") {
		t.Errorf("first push:\n%s", out)
	}
	if out := mustIngestCLI(t, push...); !strings.Contains(out, "0 not sent before") || !strings.Contains(out, "sent 0:") {
		t.Errorf("second push sent again:\n%s", out)
	}
	// The pushed records have the ids a local import gives them: importing
	// the same logs on the server adds nothing.
	if out := mustIngestCLI(t, "import", "claude-code", claudeLogs, "--user", "bob", "--database", db); !strings.Contains(out, "imported 0, duplicate 5") {
		t.Errorf("import after push:\n%s", out)
	}
	if _, err := runIngestCLI(t, "push", "--server", srv.URL, "--key", "ak-nobody", "--state", filepath.Join(dir, "other.json"), "--claude-dir", claudeLogs, "--codex-dir", codexLogs); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad key: %v", err)
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", orgIDs, "--database", db)
	mustIngestCLI(t, "import", "openai-usage", openaiPages, "--org", orgIDs, "--database", db)
	out := mustIngestCLI(t, "reconcile", "--provider", "openai", openaiPages, "--database", db, "--all")
	// The gateway's own key (key_allotGateway) was not imported: allot is
	// short of that usage on 2026-11-03 for gpt-4o.
	for _, want := range []string{"2026-11-03", "gpt-4o-2024-08-06", "1020000", "120000", "-900000", "1 of 3 day/model rows differ", "1 results of the report could not be read"} {
		if !strings.Contains(out, want) {
			t.Errorf("reconcile output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runIngestCLI(t, "reconcile", "--provider", "azure", openaiPages, "--database", db); err == nil {
		t.Error("unknown provider accepted")
	}
}
