package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/web"
)

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := tokenRE.FindSubmatch(raw); m != nil && method == http.MethodGet {
		b.csrf = string(m[1])
	}
	return resp, string(raw)
}

// signIn signs in with key and returns the browser, holding the session's CSRF token.
func signIn(t *testing.T, base, key string) *browser {
	t.Helper()
	b := newBrowser(t, base)
	b.do(http.MethodGet, "/login", nil, nil)
	resp, _ := b.do(http.MethodPost, "/login", url.Values{"csrf": {b.csrf}, "key": {key}, "next": {"/budgets"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/budgets" {
		t.Fatalf("sign-in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	b.do(http.MethodGet, "/budgets", nil, nil) // picks up the session's token
	return b
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBrowser(t, w.srv.URL)

	resp, _ := b.do(http.MethodGet, "/org?from=2026-01-01", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/org?from=2026-01-01") {
		t.Fatalf("signed out /org: %s to %q, want sign-in", resp.Status, resp.Header.Get("Location"))
	}
	resp, _ = b.do(http.MethodGet, "/login", nil, nil)
	var login *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "allot_login" {
			login = c
		}
	}
	if login == nil || !login.HttpOnly || login.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie %+v: want HttpOnly, SameSite=Strict", login)
	}

	cases := []struct {
		name   string
		form   url.Values
		status int
	}{
		{"no csrf token", url.Values{"key": {w.keys["grace"]}}, http.StatusForbidden},
		{"wrong csrf token", url.Values{"key": {w.keys["grace"]}, "csrf": {"forged"}}, http.StatusForbidden},
		{"unknown key", url.Values{"key": {"ak-nope-nope"}, "csrf": {"current"}}, http.StatusUnauthorized},
		{"empty key", url.Values{"key": {""}, "csrf": {"current"}}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		if c.form.Get("csrf") == "current" {
			c.form.Set("csrf", b.csrf)
		}
		resp, _ := b.do(http.MethodPost, "/login", c.form, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s, want %d", c.name, resp.Status, c.status)
		}
		if c.status == http.StatusUnauthorized {
			b.do(http.MethodGet, "/login", nil, nil) // a fresh form
		}
	}

	resp, _ = b.do(http.MethodPost, "/login", url.Values{"key": {w.keys["grace"]}, "csrf": {b.csrf}, "next": {"https://evil.test/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in with a foreign next: %s to %q, want / (never another site)", resp.Status, resp.Header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "allot_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP", sess)
	}
	resp, html := b.do(http.MethodGet, "/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, `data-user="grace"`) {
		t.Fatalf("/ after sign-in: %s", resp.Status)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("page lacks %s", h)
		}
	}
}

func TestPageAccess(t *testing.T) {
	t.Parallel()
	anonymous, named := newWorld(t), newWorldWith(t, allot.PeerNamed)
	cases := []struct {
		user, path string
		status     int
		named      bool // under peer_visibility: named
	}{
		{"grace", "/", 200, false},
		{"grace", "/?user=grace", 200, false},
		{"grace", "/?user=ken", 403, false},
		{"grace", "/org", 403, false},
		{"grace", "/team", 403, false},
		{"grace", "/budgets", 200, false},
		{"grace", "/requests", 200, false},
		{"grace", "/requests?user=ken", 403, false},
		{"grace", "/requests?team=data", 403, false},
		{"grace", "/insights", 200, false},
		{"grace", "/insights?user=ken", 403, false},
		{"linus", "/?user=grace", 403, false}, // anonymous: a lead sees no member by name
		{"linus", "/?user=grace", 200, true},
		{"linus", "/insights?user=grace", 403, false},
		{"linus", "/insights?user=grace", 200, true},
		{"barbara", "/?user=edsger", 403, true}, // data has three people: never by name
		{"linus", "/?user=edsger", 403, false},
		{"linus", "/team", 200, false},
		{"linus", "/team?team=platform", 200, false},
		{"linus", "/team?team=data", 403, false},
		{"linus", "/org", 403, false},
		{"linus", "/requests?user=ken", 403, false},
		{"linus", "/requests?user=ken", 200, true},
		{"linus", "/requests?user=edsger", 403, false},
		{"ada", "/org", 200, false},
		{"ada", "/team?team=data", 200, false},
		{"ada", "/?user=edsger", 200, false},
		{"ada", "/requests?team=product", 200, false},
	}
	sessions := map[string]*browser{}
	for _, c := range cases {
		w, key := anonymous, c.user
		if c.named {
			w, key = named, c.user+" (named)"
		}
		b := sessions[key]
		if b == nil {
			b = signIn(t, w.srv.URL, w.keys[c.user])
			sessions[key] = b
		}
		resp, html := b.do(http.MethodGet, c.path, nil, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s GET %s: %d, want %d", c.user, c.path, resp.StatusCode, c.status)
		}
		if c.status == 403 && !strings.Contains(html, "Not allowed") {
			t.Errorf("%s GET %s: 403 without an explanation", c.user, c.path)
		}
	}
}

func TestAPIWithSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	grace, ada := signIn(t, w.srv.URL, w.keys["grace"]), signIn(t, w.srv.URL, w.keys["ada"])
	cases := []struct {
		b      *browser
		method string
		path   string
		header http.Header
		status int
	}{
		{grace, "GET", "/api/v1/whoami", nil, 200},
		{grace, "GET", "/api/v1/overview", nil, 200},
		{grace, "GET", "/api/v1/overview?scope=org", nil, 403},
		{grace, "GET", "/api/v1/overview?user=ken", nil, 403},
		{grace, "GET", "/api/v1/requests?user=ken", nil, 403},
		{grace, "GET", "/api/v1/report?by=user", nil, 403},
		{ada, "GET", "/api/v1/report?by=user", nil, 200},
		{ada, "GET", "/api/v1/overview?scope=org", nil, 200},
		// A change with the session needs the CSRF header.
		{ada, "PUT", "/api/v1/budgets/ci", nil, 403},
		{ada, "PUT", "/api/v1/budgets/ci", http.Header{"X-Csrf-Token": {"forged"}}, 403},
		{ada, "PUT", "/api/v1/budgets/ci", http.Header{"X-Csrf-Token": {ada.csrf}}, 200},
		{grace, "PUT", "/api/v1/budgets/ci", http.Header{"X-Csrf-Token": {grace.csrf}}, 403},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, w.srv.URL+c.path, strings.NewReader(`{"scope":"org","limit_usd":"10"}`))
		for k, v := range c.header {
			req.Header[k] = v
		}
		resp, err := c.b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s (%d header values): %d, want %d", c.method, c.path, len(c.header), resp.StatusCode, c.status)
		}
	}
	// An allot key still works without any session.
	req, _ := http.NewRequest("GET", w.srv.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+w.keys["ken"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ User string }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || me.User != "ken" {
		t.Fatalf("whoami with a key: %v %+v", err, me)
	}
}

func TestFormsNeedCSRF(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada, grace := signIn(t, w.srv.URL, w.keys["ada"]), signIn(t, w.srv.URL, w.keys["grace"])
	budgetForm := url.Values{"name": {"ci-weekly"}, "scope": {"team:data"}, "limit_usd": {"75"}, "period": {"week"},
		"on_exceed": {"block"}, "alert_at": {"50, 80"}}
	with := func(v url.Values, token string) url.Values {
		out := url.Values{"csrf": {token}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	cases := []struct {
		name     string
		b        *browser
		path     string
		form     url.Values
		status   int
		location string
	}{
		{"save without token", ada, "/budgets/save", budgetForm, 403, ""},
		{"save with a forged token", ada, "/budgets/save", with(budgetForm, "forged"), 403, ""},
		{"save with another session's token", ada, "/budgets/save", with(budgetForm, grace.csrf), 403, ""},
		{"grant without token", ada, "/budgets/grant", url.Values{"budget": {"org-monthly"}, "usd": {"5"}, "reason": {"x"}}, 403, ""},
		{"logout without token", grace, "/logout", url.Values{}, 403, ""},
		{"save by a member", grace, "/budgets/save", with(budgetForm, grace.csrf), 303, "/budgets?problem="},
		{"save by an admin", ada, "/budgets/save", with(budgetForm, ada.csrf), 303, "/budgets?done="},
		{"invalid budget", ada, "/budgets/save", with(url.Values{"name": {"x"}, "scope": {"planet"}, "limit_usd": {"1"}}, ada.csrf), 303, "/budgets?problem="},
	}
	for _, c := range cases {
		resp, _ := c.b.do(http.MethodPost, c.path, c.form, nil)
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Location"), c.location) {
			t.Errorf("%s: %s to %q, want %d to %q…", c.name, resp.Status, resp.Header.Get("Location"), c.status, c.location)
		}
	}
	raw, err := w.db.Setting(context.Background(), "policy")
	if err != nil {
		t.Fatal(err)
	}
	var pol allot.Policy
	_ = json.Unmarshal(raw, &pol)
	var saved *allot.Budget
	for i := range pol.Budgets {
		if pol.Budgets[i].Name == "ci-weekly" {
			saved = &pol.Budgets[i]
		}
	}
	if saved == nil || saved.LimitUSD != "75" || saved.Period != "week" || len(saved.AlertAt) != 2 {
		t.Fatalf("the admin's form did not store the budget: %+v", saved)
	}
	// grace is still signed in: the forged logout did nothing.
	if resp, _ := grace.do(http.MethodGet, "/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after a logout without token: %s", resp.Status)
	}
	resp, _ := grace.do(http.MethodPost, "/logout", url.Values{"csrf": {grace.csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp, _ := grace.do(http.MethodGet, "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("/ after logout: %s, want a redirect to sign-in", resp.Status)
	}
	if resp, _ := grace.do(http.MethodGet, "/api/v1/whoami", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API after logout: %s, want 401", resp.Status)
	}
}

// fakeKeys resolves one key hash; revoke makes it fail.
type fakeKeys struct {
	mu      sync.Mutex
	revoked bool
	calls   int
}

func (f *fakeKeys) PrincipalByKeyHash(_ context.Context, hash []byte) (allot.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.revoked || string(hash) != string(allot.HashKey("ak-good")) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "revoked")
	}
	return allot.Principal{User: "zoe", Team: "t", Role: allot.RoleMember}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSessionsEnd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		step   func(*clock, *fakeKeys)
		signed bool
	}{
		{"in use", func(c *clock, _ *fakeKeys) { c.add(5 * time.Minute) }, true},
		{"idle too long", func(c *clock, _ *fakeKeys) { c.add(31 * time.Minute) }, false},
		{"past its lifetime", func(c *clock, _ *fakeKeys) {
			for range 7 {
				c.add(20 * time.Minute) // in use, but 140 minutes after sign-in
			}
		}, false},
		{"key revoked, before the recheck", func(c *clock, k *fakeKeys) { k.revoked = true; c.add(5 * time.Second) }, true},
		{"key revoked", func(c *clock, k *fakeKeys) { k.revoked = true; c.add(11 * time.Second) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
			keys := &fakeKeys{}
			d := web.New(web.Options{Keys: keys, Now: clk.now, SessionTTL: 2 * time.Hour, IdleTimeout: 30 * time.Minute})
			mux := http.NewServeMux()
			d.Routes(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			b := newBrowser(t, srv.URL)
			b.do(http.MethodGet, "/login", nil, nil)
			b.do(http.MethodPost, "/login", url.Values{"csrf": {b.csrf}, "key": {"ak-good"}}, nil)
			if resp, _ := b.do(http.MethodGet, "/budgets", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("just signed in: %s", resp.Status)
			}
			keys.mu.Lock()
			c.step(clk, keys)
			keys.mu.Unlock()
			resp, _ := b.do(http.MethodGet, "/budgets", nil, nil)
			if got := resp.StatusCode == 200; got != c.signed {
				t.Fatalf("%s: signed in = %v, want %v", resp.Status, got, c.signed)
			}
		})
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	t.Parallel()
	d := web.New(web.Options{Keys: &fakeKeys{}})
	mux := http.NewServeMux()
	d.Routes(mux)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s over TLS is not Secure", c.Name)
		}
	}
	if len(resp.Cookies()) == 0 {
		t.Fatal("no cookie")
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	t.Parallel()
	d := web.New(web.Options{Keys: &fakeKeys{}})
	mux := http.NewServeMux()
	d.Routes(mux)
	for _, path := range []string{"/assets/app.js", "/assets/app.css", "/assets/favicon.svg"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "http://") && !strings.Contains(path, "svg") && strings.Contains(rec.Body.String(), "cdn") {
			t.Errorf("%s refers to a CDN", path)
		}
	}
}
