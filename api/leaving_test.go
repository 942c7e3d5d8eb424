package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

// TestDeactivateRevokesKeys: an admin deactivates a person by name or
// email through the API and every key of theirs stops at once; members
// may not, nobody deactivates themselves, reactivating brings no key
// back. Each change is audited.
func TestDeactivateRevokesKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	org := allot.Org{Name: "acme", Teams: []allot.Team{{Name: "platform"}}, Users: []allot.User{
		{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleAdmin},
		{Name: "bob", Email: "bob@acme.test", Team: "platform"},
		{Name: "carol", Email: "carol@acme.test", Team: "platform"},
	}}
	if _, err := db.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, u := range org.Users {
		secret, _, err := db.CreateKey(ctx, u.Name, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		keys[u.Name] = secret
	}
	mux := http.NewServeMux()
	(&api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			return db.PrincipalByKeyHash(r.Context(), allot.HashKey(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
		},
		Leaving: db, Audit: db,
	}).Routes(mux)
	works := func(user string) bool {
		_, err := db.PrincipalByKeyHash(ctx, allot.HashKey(keys[user]))
		return err == nil
	}
	tests := []struct {
		name, as, path string
		status         int
		bobWorks       bool
		carolWorks     bool
	}{
		{"a member may not", "bob", "/api/v1/users/carol/deactivate", 403, true, true},
		{"an admin by name", "alice", "/api/v1/users/bob/deactivate", 200, false, true},
		{"an admin by email", "alice", "/api/v1/users/Carol@acme.test/deactivate", 200, false, false},
		{"not oneself", "alice", "/api/v1/users/alice/deactivate", 400, false, false},
		{"not oneself by email", "alice", "/api/v1/users/alice@acme.test/deactivate", 400, false, false},
		{"unknown person", "alice", "/api/v1/users/zed/deactivate", 404, false, false},
		{"reactivating brings no key back", "alice", "/api/v1/users/bob/reactivate", 200, false, false},
		{"the deactivated cannot", "carol", "/api/v1/users/bob/deactivate", 401, false, false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+keys[tt.as])
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.status)
		}
		if works("bob") != tt.bobWorks || works("carol") != tt.carolWorks || !works("alice") {
			t.Errorf("%s: keys work: bob %v carol %v alice %v; want %v %v true", tt.name, works("bob"), works("carol"), works("alice"), tt.bobWorks, tt.carolWorks)
		}
	}
	users, _ := db.Users(ctx)
	if len(users) != 2 {
		t.Errorf("active users %v, want alice and bob", users)
	}
	entries, _ := db.AuditEntries(ctx, time.Time{}, time.Now().Add(time.Hour), 0)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "user.") && e.Actor == "alice" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d user.* audit entries by alice, want 3", n)
	}
}
