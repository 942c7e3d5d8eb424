package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot/upstreamsim"
)

// postgresTestDatabase returns a database URL of ALLOT_TEST_POSTGRES_DSN
// with a schema of its own, dropped when the test ends; it skips the test
// when the variable is unset.
func postgresTestDatabase(t *testing.T, prefix string) string {
	t.Helper()
	dsn := os.Getenv("ALLOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN is not set: skipping the PostgreSQL store")
	}
	schema := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestServeOnPostgres: with database: postgres://… allot serves, rations
// with counters in PostgreSQL, and the CLI reports from the same ledger.
func TestServeOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	database := postgresTestDatabase(t, "allot_cmd")

	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	cfg := testServerConfig(t, sim.URL, database, "testdata/org_budgets.yaml")
	cfg.SpoolDir = t.TempDir()
	sctx, stop := context.WithCancel(ctx)
	srv, err := startServer(sctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(sctx) }()
	bob, _, err := srv.db.CreateKey(ctx, "bob", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	ok, refused := 0, 0
	for range 100 {
		switch chat(t, srv.addr, bob, "gpt-4o") {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
		}
		if refused > 0 {
			break
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok == 0 || refused == 0 {
		t.Fatalf("ok=%d refused=%d: the $0.05 team budget must stop bob after a few calls", ok, refused)
	}
	out := mustRun(t, "report", "--by", "user", "--format", "json", "--database", database)
	if !strings.Contains(out, `"user":"bob"`) || !strings.Contains(out, fmt.Sprintf(`"requests":%d`, ok)) {
		t.Fatalf("report from PostgreSQL = %s, want bob with %d requests", out, ok)
	}
	status := mustRun(t, "budgets", "status", "--format", "json", "--database", database)
	if !strings.Contains(status, `"data-monthly"`) {
		t.Fatalf("budgets status on PostgreSQL: %s", status)
	}
	// Insights read the same ledger.
	if top := mustRun(t, "top", "--by", "user", "--format", "json", "--database", database); !strings.Contains(top, `"bob"`) {
		t.Errorf("top on PostgreSQL: %s", top)
	}
	if ins := mustRun(t, "insights", "--user", "bob", "--format", "json", "--database", database); !strings.Contains(ins, `"spend_usd"`) {
		t.Errorf("insights on PostgreSQL: %s", ins)
	}
}
