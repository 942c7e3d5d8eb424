package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// people is a directory of people by email whose entries a test changes.
type people struct {
	mu sync.Mutex
	m  map[string]allot.User
	// off marks deactivated people.
	off map[string]bool
}

func (p *people) UserByEmail(_ context.Context, email string) (allot.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.m[email]
	switch {
	case !ok:
		return allot.User{}, allot.Errorf(allot.ENotFound, "no %s", email)
	case p.off[email]:
		return u, allot.Errorf(allot.EForbidden, "%s is deactivated", email)
	}
	return u, nil
}

// TestSSOSessionFollowsThePerson: a session begun with single sign-on is
// checked against its person at most every 10 s: a changed role shows,
// a deactivated or removed person's session ends.
func TestSSOSessionFollowsThePerson(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"deactivated", "removed"} {
		now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		dir := &people{m: map[string]allot.User{"dana@acme.test": {Name: "dana@acme.test", Email: "dana@acme.test", Team: "research", Role: allot.RoleMember}}, off: map[string]bool{}}
		s := newSessions(nil, dir, time.Hour, time.Hour, clock)
		id, _ := s.create(allot.Principal{User: "dana@acme.test", Team: "research", Role: allot.RoleMember}, nil, "dana@acme.test")
		ctx := context.Background()

		dir.mu.Lock()
		dir.m["dana@acme.test"] = allot.User{Name: "dana@acme.test", Email: "dana@acme.test", Team: "platform", Role: allot.RoleLead}
		dir.mu.Unlock()
		now = now.Add(recheckEvery)
		ss, err := s.get(ctx, id)
		if err != nil || ss == nil {
			t.Fatalf("session after 10 s: %v, %v", ss, err)
		}
		if p := s.principal(ss); p.Role != allot.RoleLead || p.Team != "platform" {
			t.Errorf("the session did not pick up the new team and role: %+v", p)
		}

		dir.mu.Lock()
		if end == "deactivated" {
			dir.off["dana@acme.test"] = true
		} else {
			delete(dir.m, "dana@acme.test")
		}
		dir.mu.Unlock()
		now = now.Add(recheckEvery - time.Second)
		if ss, _ := s.get(ctx, id); ss == nil {
			t.Errorf("%s: the session ended before its next check", end)
		}
		now = now.Add(time.Second)
		if ss, err := s.get(ctx, id); ss != nil || err != nil {
			t.Errorf("%s: the session lives on 10 s later: %v, %v", end, ss, err)
		}
	}
}

// TestKeySignInOff: with oidc.key_sign_in false the sign-in page has no
// key form and POST /login is refused; without SSO there is no
// /auth/login and no provider button, as before.
func TestKeySignInOff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		sso           *SSO
		form, button  bool
		post, authURL int
	}{
		{"no sso", nil, true, false, http.StatusForbidden, http.StatusNotFound}, // 403: no login cookie
		{"sso only", &SSO{KeySignIn: false}, false, true, http.StatusForbidden, 0},
	} {
		d := New(Options{Keys: nil, SSO: tt.sso})
		mux := http.NewServeMux()
		d.Routes(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
		body := rec.Body.String()
		if strings.Contains(body, `name="key"`) != tt.form || strings.Contains(body, `data-testid="sso-login"`) != tt.button {
			t.Errorf("%s: sign-in page (key form %v, button %v):\n%s", tt.name, tt.form, tt.button, body)
		}
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/login", strings.NewReader("key=ak-x")))
		if rec.Code != tt.post || (tt.sso != nil) != strings.Contains(rec.Body.String(), "turned off") {
			t.Errorf("%s: POST /login = %d %s, want %d", tt.name, rec.Code, rec.Body.String(), tt.post)
		}
		if tt.sso == nil {
			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/login", nil))
			if rec.Code != tt.authURL {
				t.Errorf("%s: /auth/login = %d, want %d", tt.name, rec.Code, tt.authURL)
			}
		}
	}
}
