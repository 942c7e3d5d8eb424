package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

// keysWorld serves /api/v1/keys over a SQLite store of three people; the
// bearer token is the caller's name.
func keysWorld(t *testing.T, limits api.KeyLimits) (http.Handler, allot.Store) {
	t.Helper()
	db := openSQLite(t)
	org := allot.Org{Name: "acme", Teams: []allot.Team{{Name: "web"}}, Users: []allot.User{
		{Name: "ann", Email: "ann@acme.test", Team: "web", Role: allot.RoleMember},
		{Name: "ben", Email: "ben@acme.test", Team: "web", Role: allot.RoleLead},
		{Name: "ada", Email: "ada@acme.test", Team: "web", Role: allot.RoleAdmin},
	}}
	if _, err := db.ApplyOrg(context.Background(), org); err != nil {
		t.Fatal(err)
	}
	roles := map[string]allot.Role{"ann": allot.RoleMember, "ben": allot.RoleLead, "ada": allot.RoleAdmin}
	s := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			name := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if roles[name] == "" {
				return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "who?")
			}
			return allot.Principal{Org: "acme", Team: "web", User: name, Role: roles[name]}, nil
		},
		Reports: db, People: db, KeyStore: db, Emails: db, Audit: db, KeyLimits: limits,
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	return mux, db
}

func call(t *testing.T, h http.Handler, who, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+who)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestKeysOnlyTheirOwn: a member (and a lead) lists, makes and revokes
// their own keys only; an admin anyone's; people are named by email too.
func TestKeysOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	h, db := keysWorld(t, api.KeyLimits{})
	ctx := context.Background()
	_, benKey, err := db.CreateKey(ctx, "ben", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		who, method, path, body string
		want                    int
	}{
		{"ann", "GET", "/api/v1/keys?user=ben", "", http.StatusForbidden},
		{"ann", "GET", "/api/v1/keys?user=ben@acme.test", "", http.StatusForbidden},
		{"ann", "POST", "/api/v1/keys", `{"label":"x","user":"ben"}`, http.StatusForbidden},
		{"ann", "POST", "/api/v1/keys", `{"label":"x","user":"ben@acme.test"}`, http.StatusForbidden},
		{"ann", "DELETE", "/api/v1/keys/" + benKey.ID, "", http.StatusNotFound},
		{"ben", "GET", "/api/v1/keys?user=ann", "", http.StatusForbidden}, // leads too
		{"ann", "GET", "/api/v1/keys", "", http.StatusOK},
		{"ann", "POST", "/api/v1/keys", `{"label":"ci"}`, http.StatusCreated},
		{"ann", "POST", "/api/v1/keys", `{"label":"mine","user":"ANN@acme.test"}`, http.StatusCreated},
		{"ada", "GET", "/api/v1/keys?user=ben@acme.test", "", http.StatusOK},
		{"ada", "POST", "/api/v1/keys", `{"label":"for ben","user":"ben@acme.test"}`, http.StatusCreated},
		{"ann", "POST", "/api/v1/keys", `{"label":"x","expires_at":"2020-01-01T00:00:00Z"}`, http.StatusBadRequest},
		{"ann", "POST", "/api/v1/keys", `{"label":"x","extra":1}`, http.StatusBadRequest},
		{"ann", "POST", "/api/v1/keys", `{"label":"` + strings.Repeat("x", allot.MaxLabelBytes+1) + `"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if code, body := call(t, h, tt.who, tt.method, tt.path, tt.body); code != tt.want {
			t.Errorf("%s %s %s %s: %d %s, want %d", tt.who, tt.method, tt.path, tt.body, code, body, tt.want)
		}
	}
	if ks, _ := db.Keys(ctx, "ben"); len(ks) != 2 || ks[0].RevokedAt != nil {
		t.Errorf("ben's keys after the others' attempts: %+v; want his laptop key live and the admin's one", ks)
	}
	if code, body := call(t, h, "ben", "DELETE", "/api/v1/keys/"+benKey.ID, ""); code != http.StatusOK || !strings.Contains(body, `"active":false`) {
		t.Errorf("ben revoking his own key: %d %s", code, body)
	}
	if code, body := call(t, h, "ann", "GET", "/api/v1/keys", ""); code != http.StatusOK || strings.Contains(body, `"ben"`) {
		t.Errorf("ann's list: %d %s", code, body)
	}
}

// TestKeysLimits: keys.max_per_person counts live keys; keys.max_lifetime
// requires an expiry within it; the secret is in the answer once.
func TestKeysLimits(t *testing.T) {
	t.Parallel()
	h, db := keysWorld(t, api.KeyLimits{MaxPerPerson: 2, MaxLifetime: 30 * 24 * time.Hour})
	soon := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	far := time.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if code, body := call(t, h, "ann", "POST", "/api/v1/keys", `{"label":"a"}`); code != http.StatusBadRequest || !strings.Contains(body, "max_lifetime") {
		t.Errorf("no expiry under max_lifetime: %d %s", code, body)
	}
	if code, body := call(t, h, "ann", "POST", "/api/v1/keys", `{"label":"a","expires_at":"`+far+`"}`); code != http.StatusBadRequest {
		t.Errorf("an expiry past max_lifetime: %d %s", code, body)
	}
	var made struct {
		ID, Secret string
		ExpiresAt  *time.Time `json:"expires_at"`
	}
	for i := range 2 {
		code, body := call(t, h, "ann", "POST", "/api/v1/keys", `{"label":"a","expires_at":"`+soon+`"}`)
		if code != http.StatusCreated {
			t.Fatalf("key %d: %d %s", i, code, body)
		}
		if err := json.Unmarshal([]byte(body), &made); err != nil || !strings.HasPrefix(made.Secret, allot.KeyPrefix) || made.ExpiresAt == nil {
			t.Fatalf("created %s (%v)", body, err)
		}
	}
	if code, body := call(t, h, "ann", "POST", "/api/v1/keys", `{"label":"a","expires_at":"`+soon+`"}`); code != http.StatusConflict || !strings.Contains(body, "max_per_person") {
		t.Errorf("a third live key: %d %s", code, body)
	}
	if code, _ := call(t, h, "ann", "DELETE", "/api/v1/keys/"+made.ID, ""); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if code, body := call(t, h, "ann", "POST", "/api/v1/keys", `{"label":"a","expires_at":"`+soon+`"}`); code != http.StatusCreated {
		t.Errorf("a key after revoking one: %d %s", code, body)
	}
	if ks, _ := db.Keys(context.Background(), ""); len(ks) != 3 {
		t.Errorf("keys stored: %d, want 3", len(ks))
	}
}
