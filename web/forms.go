package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// maxFormBytes bounds a form body.
const maxFormBytes = 64 << 10

// loginForm shows the sign-in form with a fresh CSRF token in a cookie.
func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	if ss, _, _ := d.current(r); ss != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"))
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	token := randomToken()
	setCookie(w, r, d.secureCookies(r), loginCookie, token, 30*time.Minute)
	d.render(w, status, pageData{Page: pageLogin, CSRF: token, Message: msg, Next: safeNext(next), Status: status,
		SSO: d.opts.SSO != nil, KeySignIn: d.keySignIn()})
}

// login signs in with an allot key: the form's token must equal the login
// cookie's (double submit), then the key must resolve to an active user.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.keySignIn() {
		d.forbidden(w, "Sign-in with a key is turned off here (oidc.key_sign_in: false); sign in with your identity provider at /login.")
		return
	}
	c, err := r.Cookie(loginCookie) // before the body: without it the body is never read
	if err != nil {
		d.forbidden(w, "The sign-in form expired or did not come from this site. Open /login and sign in again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the sign-in form could not be read", http.StatusBadRequest)
		return
	}
	if !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		d.forbidden(w, "The sign-in form expired or did not come from this site. Open /login and sign in again.")
		return
	}
	next := r.PostForm.Get("next")
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		d.renderLogin(w, r, http.StatusUnauthorized, "Paste your allot key (it starts with ak-).", next)
		return
	}
	hash := allot.HashKey(key)
	p, err := d.opts.Keys.PrincipalByKeyHash(r.Context(), hash)
	if err != nil {
		if allot.CodeOf(err) != allot.EUnauthorized {
			d.opts.Logger.Error("dashboard sign-in", "err", err)
			d.renderLogin(w, r, http.StatusServiceUnavailable, "allot cannot check keys right now; try again in a moment.", next)
			return
		}
		msg := "That key is unknown or revoked. Ask your allot admin for a key (allot keys create --user NAME)."
		if allot.ErrorOf(err).Message == allot.ExpiredKeyMessage {
			msg = "That key has expired. Ask your allot admin for a new one, or sign in with your company account and make one on the Keys page."
		}
		d.renderLogin(w, r, http.StatusUnauthorized, msg, next)
		return
	}
	id, _ := d.sessions.create(p, hash)
	setCookie(w, r, d.secureCookies(r), sessionCookie, id, d.opts.SessionTTL)
	setCookie(w, r, d.secureCookies(r), loginCookie, "", -1)
	d.opts.Logger.Info("dashboard sign-in", "user", p.User, "key_id", p.KeyID)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// form wraps a POST handler of a signed-in page: a session is required
// (else sign-in) and the form's csrf field must be the session's token
// (else 403).
func (d *Dashboard) form(h func(http.ResponseWriter, *http.Request, allot.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The session (a cookie) first: without one, the body is never read.
		ss, p, err := d.current(r)
		if err != nil {
			http.Error(w, "the dashboard cannot check your session right now; retry in a moment", http.StatusServiceUnavailable)
			return
		}
		if ss == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		if !tokenEqual(r.PostForm.Get("csrf"), ss.csrf) {
			d.forbidden(w, "This form is missing its CSRF token or it is stale. Reload the page and submit again.")
			return
		}
		h(w, r, p)
	})
}

func (d *Dashboard) forbidden(w http.ResponseWriter, msg string) {
	d.render(w, http.StatusForbidden, pageData{Page: pageError, Status: http.StatusForbidden, Message: msg})
}

// logout ends the session.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, _ allot.Principal) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.sessions.delete(c.Value)
	}
	setCookie(w, r, d.secureCookies(r), sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// saveBudget creates or replaces a budget through PUT /api/v1/budgets/{name}
// (which checks that the person is an admin and audits the change).
func (d *Dashboard) saveBudget(w http.ResponseWriter, r *http.Request, p allot.Principal) {
	b, err := parseBudgetForm(r.PostForm)
	if err != nil {
		redirectBudgets(w, r, "", allot.ErrorOf(err).Message)
		return
	}
	body, _ := json.Marshal(b)
	d.callAPI(w, r, p, http.MethodPut, "/api/v1/budgets/"+url.PathEscape(b.Name), body, "saved budget "+b.Name)
}

// grantBudget tops a budget up through POST /api/v1/budgets/{name}/grants.
func (d *Dashboard) grantBudget(w http.ResponseWriter, r *http.Request, p allot.Principal) {
	g, name, err := parseGrantForm(r.PostForm)
	if err != nil {
		redirectBudgets(w, r, "", allot.ErrorOf(err).Message)
		return
	}
	body, _ := json.Marshal(g)
	d.callAPI(w, r, p, http.MethodPost, "/api/v1/budgets/"+url.PathEscape(name)+"/grants", body, "granted a top-up to "+name)
}

// callAPI runs an API request as p through the mux the dashboard is
// mounted on and sends the person back to the budgets page with the
// outcome.
func (d *Dashboard) callAPI(w http.ResponseWriter, r *http.Request, p allot.Principal, method, path string, body []byte, done string) {
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		redirectBudgets(w, r, "", "that budget name cannot be used in a URL")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: http.Header{}}
	d.mux.ServeHTTP(rec, req)
	if rec.status >= 200 && rec.status < 300 {
		redirectBudgets(w, r, done, "")
		return
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := "the change was refused (HTTP " + strconv.Itoa(rec.status) + ")"
	if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	redirectBudgets(w, r, "", msg)
}

func redirectBudgets(w http.ResponseWriter, r *http.Request, done, problem string) {
	q := url.Values{}
	if done != "" {
		q.Set("done", done)
	}
	if problem != "" {
		q.Set("problem", problem)
	}
	http.Redirect(w, r, "/budgets?"+q.Encode(), http.StatusSeeOther)
}

// recorder is an in-memory http.ResponseWriter for API calls made by forms.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// safeNext returns next if it is a path on this site, else "/": sign-in
// never redirects elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// splitList splits a comma or newline separated form field.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseBudgetForm reads the budget editor's fields into a budget; the API
// validates it fully.
func parseBudgetForm(f url.Values) (allot.Budget, error) {
	b := allot.Budget{
		Name:     strings.TrimSpace(f.Get("name")),
		Scope:    strings.TrimSpace(f.Get("scope")),
		LimitUSD: strings.TrimSpace(f.Get("limit_usd")),
		Period:   strings.TrimSpace(f.Get("period")),
		Timezone: strings.TrimSpace(f.Get("timezone")),
		OnExceed: strings.TrimSpace(f.Get("on_exceed")),
		Models:   splitList(f.Get("models")),
	}
	if b.Name == "" {
		return b, allot.Errorf(allot.EInvalid, "give the budget a name")
	}
	if v := strings.TrimSpace(f.Get("limit_tokens")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return b, allot.Errorf(allot.EInvalid, "limit_tokens %q is not a positive whole number", v)
		}
		b.LimitTokens = n
	}
	for _, a := range splitList(f.Get("alert_at")) {
		n, err := strconv.Atoi(strings.TrimSuffix(a, "%"))
		if err != nil {
			return b, allot.Errorf(allot.EInvalid, "alert_at %q is not a list of percentages such as 50, 80, 100", f.Get("alert_at"))
		}
		b.AlertAt = append(b.AlertAt, n)
	}
	for _, pair := range splitList(f.Get("downgrade")) {
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			from, to, ok = strings.Cut(pair, "->")
		}
		from, to = strings.TrimSpace(from), strings.TrimSpace(strings.TrimPrefix(to, ">"))
		if !ok || from == "" || to == "" {
			return b, allot.Errorf(allot.EInvalid, "downgrade %q is not a list of model=cheaper-model pairs", pair)
		}
		if b.Downgrade == nil {
			b.Downgrade = map[string]string{}
		}
		b.Downgrade[from] = to
	}
	return b, nil
}

// grantBody is the JSON POST /api/v1/budgets/{name}/grants takes.
type grantBody struct {
	USD    string    `json:"usd,omitempty"`
	Tokens int64     `json:"tokens,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason"`
}

// parseGrantForm reads the top-up form: budget, usd or tokens, until (a
// date, inclusive) and reason.
func parseGrantForm(f url.Values) (grantBody, string, error) {
	name := strings.TrimSpace(f.Get("budget"))
	g := grantBody{USD: strings.TrimSpace(f.Get("usd")), Reason: strings.TrimSpace(f.Get("reason"))}
	if name == "" {
		return g, "", allot.Errorf(allot.EInvalid, "choose the budget to top up")
	}
	if v := strings.TrimSpace(f.Get("tokens")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return g, "", allot.Errorf(allot.EInvalid, "tokens %q is not a positive whole number", v)
		}
		g.Tokens = n
	}
	if g.USD == "" && g.Tokens == 0 {
		return g, "", allot.Errorf(allot.EInvalid, "give an amount: usd for dollar budgets, tokens for token budgets")
	}
	if v := strings.TrimSpace(f.Get("until")); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return g, "", allot.Errorf(allot.EInvalid, "until %q is not a date such as 2026-12-31", v)
		}
		g.Until = t.AddDate(0, 0, 1) // the whole day counts
	}
	if g.Reason == "" {
		return g, "", allot.Errorf(allot.EInvalid, "give a reason; it goes into the audit log")
	}
	return g, name, nil
}
