package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/allot-dev/allot/web"
)

// untouchable is a request body that fails the test if anyone reads it.
type untouchable struct{ t *testing.T }

func (b untouchable) Read([]byte) (int, error) {
	b.t.Error("the form body was read before the request proved it has a session or a sign-in form")
	return 0, http.ErrBodyReadAfterClose
}

func (b untouchable) Close() error { return nil }

// TestFormsWithoutSessionAreRefusedBeforeTheirBody: a POST without the
// cookie its form needs is answered from its headers alone, so a client
// without a session cannot make allot read (or wait for) a body.
func TestFormsWithoutSessionAreRefusedBeforeTheirBody(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	web.New(web.Options{}).Routes(mux)
	tests := []struct {
		path   string
		status int
	}{
		{"/login", http.StatusForbidden},
		{"/logout", http.StatusSeeOther},
		{"/budgets/save", http.StatusSeeOther},
		{"/budgets/grant", http.StatusSeeOther},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, tt.path, nil)
		r.Body = untouchable{t}
		r.ContentLength = 1 << 20
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("POST %s without a cookie: %d, want %d", tt.path, w.Code, tt.status)
		}
	}
}
