package main

import (
	"context"
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

// TestAdminAddAndEmails: allot admin add makes a known person (found by
// email) an admin or creates an unknown one; --user and the report's
// filter take an email.
func TestAdminAddAndEmails(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org.yaml", "--database", db)
	if out := mustRun(t, "admin", "add", "BOB@acme.test", "--database", db); !strings.Contains(out, "bob (bob@acme.test) is now an admin in team data") {
		t.Errorf("admin add of a known person: %q", out)
	}
	if out := mustRun(t, "admin", "add", "bob@acme.test", "--database", db); !strings.Contains(out, "is an admin already") {
		t.Errorf("admin add twice: %q", out)
	}
	if out := mustRun(t, "admin", "add", "new@acme.test", "--team", "platform", "--database", db); !strings.Contains(out, "new@acme.test (new@acme.test) is now an admin in team platform") {
		t.Errorf("admin add of someone new: %q", out)
	}
	if _, err := run(t, "admin", "add", "not-an-email", "--database", db); err == nil {
		t.Error("admin add took a name that is not an email")
	}
	key := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "carol@acme.test", "--database", db))
	if !strings.HasPrefix(key, allot.KeyPrefix) {
		t.Fatalf("keys create --user EMAIL = %q", key)
	}
	if list := mustRun(t, "keys", "list", "--user", "carol@acme.test", "--database", db); !strings.Contains(list, "carol") {
		t.Errorf("keys list --user EMAIL = %q", list)
	}
	if out := mustRun(t, "audit", "--database", db); !strings.Contains(out, "user.admin") {
		t.Errorf("admin add is not audited: %q", out)
	}

	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for email, want := range map[string]allot.Role{"bob@acme.test": allot.RoleAdmin, "new@acme.test": allot.RoleAdmin, "carol@acme.test": allot.RoleLead} {
		if u, err := s.UserByEmail(context.Background(), email); err != nil || u.Role != want {
			t.Errorf("%s = %+v, %v; want role %s", email, u, err, want)
		}
	}
}

// TestBootstrapAdmins: allot.yaml admins: makes those people admins at
// start, once (audited once), and leaves a deactivated one so.
func TestBootstrapAdmins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := applyOrgFile(ctx, s, "testdata/org.yaml"); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Admins = []string{"carol@acme.test", "root@acme.test"}
	var warned []string
	warn := func(msg string, _ ...any) { warned = append(warned, msg) }
	for range 2 {
		if err := bootstrapAdmins(ctx, cfg, s, warn); err != nil {
			t.Fatal(err)
		}
	}
	for _, email := range cfg.Admins {
		if u, err := s.UserByEmail(ctx, email); err != nil || u.Role != allot.RoleAdmin {
			t.Errorf("%s = %+v, %v; want an admin", email, u, err)
		}
	}
	entries, err := s.AuditEntries(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	made := 0
	for _, e := range entries {
		if e.Action == "user.admin" {
			made++
		}
	}
	if made != 2 {
		t.Errorf("%d user.admin audit entries after two starts, want 2 (one per person, once)", made)
	}
	if len(warned) != 0 {
		t.Errorf("warnings: %v", warned)
	}
}

// TestExpiredKeyIsRefused: the gateway refuses an expired key with a
// message saying how to make a new one.
func TestExpiredKeyIsRefused(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	srv := startTestServer(t, sim.URL, serverOptions{}, nil)
	ctx := context.Background()
	expired, _, err := srv.db.CreateKeyExpiring(ctx, "bob", "old", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := srv.db.CreateKeyExpiring(ctx, "bob", "new", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if code := chat(t, srv.addr, live, "gpt-4o"); code != http.StatusOK {
		t.Errorf("a key that expires in an hour: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.addr+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+expired)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "expired") || !strings.Contains(string(body), "Keys page") {
		t.Errorf("an expired key: %d %s; want 401 saying how to make a new one", resp.StatusCode, body)
	}
}
