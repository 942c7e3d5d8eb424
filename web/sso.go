package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/oidc"
)

// SSO is dashboard sign-in through an OpenID Connect provider.
type SSO struct {
	Client   *oidc.Client
	Enroller oidc.Enroller
	// KeySignIn keeps the paste-a-key form beside the provider's button
	// (allot.yaml oidc.key_sign_in, default true).
	KeySignIn bool
	// Org names the organization on sessions begun here (keys carry it).
	Org string
}

// ssoCookie carries a sign-in's state from /auth/login to /auth/callback.
// It is SameSite=Lax: the provider's redirect back is a cross-site
// navigation, which never carries a Strict cookie.
const ssoCookie = "allot_sso"

// Bounds on sign-ins under way: each lives 10 minutes, and at most
// maxPending are kept (more are refused until some finish or lapse), so
// a flood of /auth/login costs bounded memory.
const (
	pendingTTL = 10 * time.Minute
	maxPending = 10000
)

// pendingFlow is a sign-in under way, kept by its state until the
// browser returns, used once.
type pendingFlow struct {
	oidc.Pending
	next string
}

// flows holds sign-ins under way.
type flows struct {
	mu sync.Mutex
	m  map[string]pendingFlow
}

func (f *flows) put(p pendingFlow, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]pendingFlow{}
	}
	if len(f.m) >= maxPending {
		for k, v := range f.m {
			if now.Sub(v.Created) >= pendingTTL {
				delete(f.m, k)
			}
		}
		if len(f.m) >= maxPending {
			return false
		}
	}
	f.m[p.State] = p
	return true
}

// take removes and returns the sign-in of state, if it is still live.
func (f *flows) take(state string, now time.Time) (pendingFlow, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[state]
	delete(f.m, state)
	return p, ok && now.Sub(p.Created) < pendingTTL
}

// keySignIn reports whether the paste-a-key sign-in is offered.
func (d *Dashboard) keySignIn() bool { return d.opts.SSO == nil || d.opts.SSO.KeySignIn }

// ssoBegin sends the browser to the provider with a fresh state, nonce and
// PKCE challenge; the state also goes into a cookie, so only the browser
// that started a sign-in can finish it.
func (d *Dashboard) ssoBegin(w http.ResponseWriter, r *http.Request) {
	if d.opts.SSO == nil {
		http.NotFound(w, r)
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	u, p, err := d.opts.SSO.Client.Begin(r.Context())
	if err != nil {
		d.opts.Logger.Error("single sign-on", "err", err)
		d.renderLogin(w, r, http.StatusServiceUnavailable, "The identity provider cannot be reached right now; try again in a moment.", next)
		return
	}
	if !d.pending.put(pendingFlow{Pending: p, next: next}, d.opts.Now()) {
		d.renderLogin(w, r, http.StatusServiceUnavailable, "Too many sign-ins are under way; try again in a minute.", next)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: p.State, Path: "/auth/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: d.secureCookies(r), MaxAge: int(pendingTTL / time.Second)})
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// ssoCallback finishes a sign-in: the state must be this browser's (the
// cookie) and a sign-in under way (each is used once, so a replayed
// callback is refused), the provider's code and ID token must check out,
// and the person must not be deactivated.
func (d *Dashboard) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if d.opts.SSO == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/auth/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	c, err := r.Cookie(ssoCookie)
	if err != nil || !tokenEqual(state, c.Value) {
		d.renderLogin(w, r, http.StatusForbidden, "This sign-in did not start in this browser, or its state was changed. Start again.", "")
		return
	}
	p, ok := d.pending.take(state, d.opts.Now())
	if !ok {
		d.renderLogin(w, r, http.StatusForbidden, "This sign-in expired or was used already. Start again.", "")
		return
	}
	if e := q.Get("error"); e != "" {
		d.renderLogin(w, r, http.StatusUnauthorized, "The identity provider did not sign you in ("+allot.CapLabel(e)+"). Start again, or ask your admin.", p.next)
		return
	}
	sso := d.opts.SSO
	id, err := sso.Client.Finish(r.Context(), p.Pending, q.Get("code"))
	if err != nil {
		d.ssoFailed(w, r, err, p.next)
		return
	}
	u, err := sso.Enroller.Enroll(r.Context(), id)
	if err != nil {
		d.ssoFailed(w, r, err, p.next)
		return
	}
	pr := allot.Principal{Org: sso.Org, Team: u.Team, User: u.Name, Role: u.Role, KeyLabel: "sso"}
	sid, _ := d.sessions.create(pr, nil, id.Email)
	setCookie(w, r, d.secureCookies(r), sessionCookie, sid, d.opts.SessionTTL)
	d.opts.Logger.Info("dashboard sign-in", "user", u.Name, "via", "oidc")
	// A page, not a redirect: the session cookie is SameSite=Strict, and a
	// redirect chain that began at the provider is cross-site, so the
	// browser would not send it to the next page. A navigation this page
	// starts is same-site.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = signedIn.Execute(w, p.next)
}

var signedIn = template.Must(template.New("signedin").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
	`<meta http-equiv="refresh" content="0;url={{.}}"><title>Signed in · allot</title></head>` +
	`<body><p>Signed in. <a href="{{.}}">Continue</a></p></body></html>`))

// ssoFailed shows why a sign-in failed: the provider's or the token's
// fault and a deactivated person are told so (403); allot's own trouble
// is logged and answered 503.
func (d *Dashboard) ssoFailed(w http.ResponseWriter, r *http.Request, err error, next string) {
	switch {
	case errors.Is(err, oidc.ErrRefused):
		d.opts.Logger.Warn("single sign-on refused", "err", err)
		d.renderLogin(w, r, http.StatusForbidden, "Sign-in refused: "+err.Error(), next)
	case allot.CodeOf(err) == allot.EForbidden || allot.CodeOf(err) == allot.EInvalid:
		d.renderLogin(w, r, http.StatusForbidden, allot.ErrorOf(err).Message, next)
	case errors.Is(err, context.Canceled):
	default:
		d.opts.Logger.Error("single sign-on", "err", err)
		d.renderLogin(w, r, http.StatusServiceUnavailable, "allot cannot finish the sign-in right now; try again in a moment.", next)
	}
}
