package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/storetest"
	"github.com/allot-dev/allot/postgres"
	"github.com/allot-dev/allot/sqlite"
)

// runMigrate runs `allot migrate` with args in-process (it is registered
// in the root command by the lead; here it hangs off a bare root).
func runMigrate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &globals{}
	root := &cobra.Command{Use: "allot", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "")
	root.PersistentFlags().StringVar(&g.database, "database", "", "")
	root.AddCommand(newMigrateCmd(g))
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"migrate"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// pgSchema returns ALLOT_TEST_POSTGRES_DSN and a fresh schema dropped at
// the end, or skips.
func pgSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn = os.Getenv("ALLOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN is not set; skipping the PostgreSQL migration tests")
	}
	var b [6]byte
	rand.Read(b[:])
	schema = "allot_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("ALLOT_TEST_POSTGRES_DSN is set but unreachable: %v", err)
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return dsn, schema
}

// withSearchPath adds search_path=schema to a postgres:// URL.
func withSearchPath(dsn, schema string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func TestMigrateCopiesSQLiteIntoPostgres(t *testing.T) {
	t.Parallel()
	dsn, schema := pgSchema(t)
	to := withSearchPath(dsn, schema)
	ctx := context.Background()

	// A SQLite database in use: org, keys (one revoked), a removed user,
	// settings and events.
	path := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", path)
	bobKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "bob", "--name", "laptop", "--database", path))
	carolKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "carol", "--database", path))
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := lite.Keys(ctx, "carol")
	if err := lite.RevokeKey(ctx, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := lite.ApplyOrg(ctx, allot.Org{Name: "acme", Teams: []allot.Team{{Name: "platform"}, {Name: "data"}},
		Users: []allot.User{{Name: "bob", Email: "bob@acme.test", Team: "data"}, {Name: "carol", Email: "carol@acme.test", Team: "data", Role: allot.RoleLead}}}); err != nil {
		t.Fatal(err) // alice leaves
	}
	if err := lite.SetSetting(ctx, "policy", []byte(`{"budgets":[]}`)); err != nil {
		t.Fatal(err)
	}
	grant := allot.Grant{Budget: "data-monthly", Amount: allot.MustUSD("20"), Until: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Reason: "launch"}
	if err := lite.AddGrant(ctx, grant); err != nil {
		t.Fatal(err)
	}
	notice := allot.Notice{ID: "threshold|data-monthly|80|2026-11-01T00:00:00Z", Time: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC),
		Kind: allot.NoticeThreshold, Budget: "data-monthly", Scope: "team:data", Message: "80%", Detail: map[string]any{"percent": 80.0}}
	if _, err := lite.AddNotice(ctx, notice); err != nil {
		t.Fatal(err)
	}
	audits, err := lite.AuditEntries(ctx, time.Time{}, time.Time{}, 0)
	if err != nil || len(audits) == 0 {
		t.Fatalf("the SQLite audit log holds %d entries (%v); apply and keys should have written some", len(audits), err)
	}
	start := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	events := storetest.GenEvents(77, 2500, start, 20*24*time.Hour, storetest.SmallWorld)
	if _, err := lite.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	lite.Close()

	out, err := runMigrate(t, "--from", "sqlite:"+path, "--to", to, "--batch", "700")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, want := range []string{"3 users, 2 keys", "settings: ", "events: 2500 read, 2500 new", "checked: both ledgers hold 2500 requests",
		fmt.Sprintf("audit log: %d entries, %d new", len(audits), len(audits)), "grants: 1, 1 new", "notices: 1, 1 new"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	out, err = runMigrate(t, "--from", "sqlite:"+path, "--to", to, "--batch", "1000")
	if err != nil || !strings.Contains(out, "events: 2500 read, 0 new") {
		t.Errorf("migrating again: %v\n%s", err, out)
	}
	for _, want := range []string{"entries, 0 new", "grants: 1, 0 new", "notices: 1, 0 new"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrating again: output lacks %q:\n%s", want, out)
		}
	}

	pg, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if p, err := pg.PrincipalByKeyHash(ctx, allot.HashKey(bobKey)); err != nil || p.User != "bob" || p.KeyLabel != "laptop" || p.Org != "acme" {
		t.Errorf("bob's key in PostgreSQL resolves to %+v, %v", p, err)
	}
	if _, err := pg.PrincipalByKeyHash(ctx, allot.HashKey(carolKey)); allot.CodeOf(err) != allot.EUnauthorized {
		t.Errorf("carol's revoked key in PostgreSQL: %v, want EUnauthorized", err)
	}
	d, err := pg.ExportDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, u := range d.Users {
		users = append(users, u.Name+"/"+map[bool]string{true: "active", false: "inactive"}[u.Active])
	}
	if want := []string{"alice/inactive", "bob/active", "carol/active"}; !reflect.DeepEqual(users, want) {
		t.Errorf("users in PostgreSQL: %v, want %v", users, want)
	}
	if v, err := pg.Setting(ctx, "policy"); err != nil || string(v) != `{"budgets":[]}` {
		t.Errorf("policy setting in PostgreSQL: %q, %v", v, err)
	}
	if got, err := pg.AuditEntries(ctx, time.Time{}, time.Time{}, 0); err != nil || !reflect.DeepEqual(got, audits) {
		t.Errorf("audit log in PostgreSQL: %+v, %v\nwant %+v", got, err, audits)
	}
	if got, err := pg.Grants(ctx, time.Time{}); err != nil || !reflect.DeepEqual(got, []allot.Grant{grant}) {
		t.Errorf("grants in PostgreSQL: %+v, %v", got, err)
	}
	if got, err := pg.Notices(ctx, time.Time{}, time.Time{}, 0); err != nil || !reflect.DeepEqual(got, []allot.Notice{notice}) {
		t.Errorf("notices in PostgreSQL: %+v, %v", got, err)
	}
	lite, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	q := allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimDay, allot.DimModel}, From: start, To: start.Add(20 * 24 * time.Hour)}
	a, err1 := lite.Report(ctx, q)
	b, err2 := pg.Report(ctx, q)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("reports differ after the copy (%v, %v): sqlite %d rows, postgres %d", err1, err2, len(a), len(b))
	}
}

func TestMigrateAppliesSchema(t *testing.T) {
	t.Parallel()
	dsn, schema := pgSchema(t)
	out, err := runMigrate(t, "--to", dsn, "--schema", schema)
	if err != nil || !strings.Contains(out, "PostgreSQL schema "+schema+" is up to date") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	// Once migrated, the store opens without migrating.
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("open after migrate: %v", err)
	}
	db.Close()
	if out, err := runMigrate(t, "--to", dsn, "--schema", schema); err != nil || !strings.Contains(out, "up to date") {
		t.Errorf("migrating twice: %v\n%s", err, out)
	}
}

func TestMigrateRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"missing source", []string{"--from", "sqlite:" + filepath.Join(dir, "nothing.db"), "--to", "postgres://localhost/x"}},
		{"copy into SQLite", []string{"--from", "sqlite:" + filepath.Join(dir, "a.db"), "--to", filepath.Join(dir, "b.db")}},
		{"copy from PostgreSQL", []string{"--from", "postgres://localhost/x", "--to", "postgres://localhost/y"}},
	}
	os.WriteFile(filepath.Join(dir, "a.db"), nil, 0o600)
	for _, tt := range tests {
		if _, err := runMigrate(t, tt.args...); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("%s: %v, want EInvalid", tt.name, err)
		}
	}
	// SQLite needs no separate step, but migrate says it is up to date.
	path := filepath.Join(dir, "c.db")
	if out, err := runMigrate(t, "--database", path); err != nil || !strings.Contains(out, "SQLite database "+path+" is up to date") {
		t.Errorf("migrate of a SQLite database: %v\n%s", err, out)
	}
}
