package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

// One Server answers every /api/v1 route through one way in: a caller
// Authenticate refuses gets the same JSON 401 on each, and POST
// /api/v1/usage asks AuthenticateKey (keys only), not Authenticate, so a
// dashboard session cannot report usage.
func TestServerRoutesOneWayIn(t *testing.T) {
	t.Parallel()
	refuse := func(*http.Request) (allot.Principal, error) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no key or session")
	}
	session := func(*http.Request) (allot.Principal, error) {
		return allot.Principal{User: "ada", Role: allot.RoleAdmin}, nil
	}
	keyOnly := func(*http.Request) (allot.Principal, error) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key")
	}
	mux := http.NewServeMux()
	(&api.Server{Authenticate: refuse}).Routes(mux)
	sessions := http.NewServeMux()
	(&api.Server{Authenticate: session, AuthenticateKey: keyOnly}).Routes(sessions)

	tests := []struct {
		mux          http.Handler
		method, path string
		status       int
		says         string
	}{
		{mux, "GET", "/api/v1/report", 401, "no key or session"},
		{mux, "GET", "/api/v1/me", 401, "no key or session"},
		{mux, "GET", "/api/v1/budgets", 401, "no key or session"},
		{mux, "PUT", "/api/v1/budgets/b", 401, "no key or session"},
		{mux, "POST", "/api/v1/budgets/b/grants", 401, "no key or session"},
		{mux, "GET", "/api/v1/alerts", 401, "no key or session"},
		{mux, "GET", "/api/v1/whoami", 401, "no key or session"},
		{mux, "GET", "/api/v1/keys", 401, "no key or session"},
		{mux, "GET", "/api/v1/overview", 401, "no key or session"},
		{mux, "GET", "/api/v1/peers", 401, "no key or session"},
		{mux, "GET", "/api/v1/requests", 401, "no key or session"},
		{mux, "GET", "/api/v1/grants", 401, "no key or session"},
		{mux, "GET", "/api/v1/policy", 401, "no key or session"},
		{mux, "GET", "/api/v1/insights", 401, "no key or session"},
		{mux, "POST", "/api/v1/usage", 401, "no key or session"},
		{mux, "GET", "/api/v1/nothing", 404, "no API route"},
		{sessions, "GET", "/api/v1/whoami", 200, `"ada"`},
		{sessions, "POST", "/api/v1/usage", 401, "invalid allot key"},
		{sessions, "GET", "/api/v1/usage", 405, "POST your usage records"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
		w := httptest.NewRecorder()
		tc.mux.ServeHTTP(w, req)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, w.Code, w.Body, tc.status, tc.says)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: Content-Type %q, want JSON", tc.method, tc.path, ct)
		}
	}
}
