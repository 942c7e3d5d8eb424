// Package web is allot's dashboard: server-rendered page shells and a
// small script that fetches every number from the JSON API (/api/v1/...)
// and draws charts as inline SVG. Assets are embedded in the binary and
// nothing is loaded from anywhere else, so it works offline.
//
// People sign in with their allot key; the dashboard keeps a server-side
// session (in memory, with expiry) behind an HttpOnly, SameSite=Strict
// cookie, and every form and every state-changing API call made with the
// session carries a CSRF token.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

//go:embed assets templates
var files embed.FS

// KeyResolver resolves the SHA-256 of an allot key to its principal; an
// unknown or revoked key is EUnauthorized (sqlite.DB implements it).
type KeyResolver interface {
	PrincipalByKeyHash(ctx context.Context, hash []byte) (allot.Principal, error)
}

// UserLister lists active users: the dashboard checks with it that a lead
// opens only their own team's members' pages.
type UserLister interface {
	Users(ctx context.Context) ([]allot.User, error)
}

// Options configure a Dashboard.
type Options struct {
	Keys KeyResolver // required: signs people in with their key
	// SSO signs people in through an OpenID Connect provider (nil: with
	// keys only, as before); People then re-checks their sessions.
	SSO    *SSO
	People PersonResolver
	Users  UserLister // optional: without it leads can open only their own page, not their members'
	// PeerVisibility is allot.PeerNamed or allot.PeerAnonymous (the
	// default): the org's policy allot.CanSee applies, as in the API.
	PeerVisibility string
	// SessionTTL is how long a sign-in lasts (default 12h); IdleTimeout
	// ends a session unused that long (default 2h).
	SessionTTL  time.Duration
	IdleTimeout time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP, for allot
	// behind a TLS-terminating proxy (they are Secure on TLS anyway).
	SecureCookies bool
	// TrustProxy trusts the X-Forwarded-Proto header of a proxy in front
	// of allot: a request it says came over https gets Secure cookies.
	// Without it the header is ignored (any client could send it).
	TrustProxy bool
	// RefreshEvery is how often open pages poll the API for live totals
	// (default 5s).
	RefreshEvery time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Dashboard serves the pages at /, /org, /team, /budgets, /requests and
// /insights, sign-in at /login and its assets under /assets/.
type Dashboard struct {
	opts     Options
	sessions *sessions
	pending  flows // single sign-ins under way
	pages    map[string]*template.Template
	mux      *http.ServeMux // where the API lives, for forms that call it
}

// New returns a dashboard; mount it with Routes.
func New(opts Options) *Dashboard {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Hour
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dashboard{opts: opts, sessions: newSessions(opts.Keys, opts.People, opts.SessionTTL, opts.IdleTimeout, opts.Now), pages: parsePages()}
}

// Routes registers the dashboard on mux, which must also serve the API
// (/api/v1/...): the budget forms submit through it.
func (d *Dashboard) Routes(mux *http.ServeMux) {
	d.mux = mux
	assets, _ := fs.Sub(files, "assets")
	static := http.StripPrefix("/assets/", http.FileServerFS(assets))
	mux.Handle("GET /assets/", d.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: a directory would be listed, which tells a visitor
		// nothing they need.
		if name := strings.TrimPrefix(r.URL.Path, "/assets/"); name == "" || strings.HasSuffix(name, "/") || isDir(assets, name) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	})))
	mux.Handle("GET /{$}", d.secure(d.page(pageMe)))
	for _, name := range []string{pageOrg, pageTeam, pageBudgets, pageRequests, pageInsights, pageKeys} {
		mux.Handle("GET /"+name, d.secure(d.page(name)))
	}
	mux.Handle("GET /login", d.secure(http.HandlerFunc(d.loginForm)))
	mux.Handle("POST /login", d.secure(http.HandlerFunc(d.login)))
	mux.Handle("POST /logout", d.secure(d.form(d.logout)))
	mux.Handle("GET /auth/login", d.secure(http.HandlerFunc(d.ssoBegin)))
	mux.Handle("GET /auth/callback", d.secure(http.HandlerFunc(d.ssoCallback)))
	mux.Handle("POST /budgets/save", d.secure(d.form(d.saveBudget)))
	mux.Handle("POST /budgets/grant", d.secure(d.form(d.grantBudget)))
}

// isDir reports whether name is a directory of fsys.
func isDir(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.IsDir()
}

// principalKey carries a principal from a dashboard form to the API
// handler it calls; only this package can set it.
type principalKey struct{}

// Authenticate wraps the API's authenticator so pages can call the API
// with their session: a request with an allot key (Authorization or
// x-api-key) goes to next; one with a dashboard session cookie is that
// session's person, and for methods other than GET and HEAD it must also
// carry the session's CSRF token in X-CSRF-Token (else 403). Give the
// result to every API handler's Authenticate field.
func (d *Dashboard) Authenticate(next func(*http.Request) (allot.Principal, error)) func(*http.Request) (allot.Principal, error) {
	return func(r *http.Request) (allot.Principal, error) {
		if p, ok := r.Context().Value(principalKey{}).(allot.Principal); ok {
			return p, nil
		}
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
			return next(r)
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			return next(r)
		}
		ss, err := d.sessions.get(r.Context(), c.Value)
		if err != nil {
			return allot.Principal{}, err
		}
		if ss == nil {
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "your dashboard session has ended; sign in again at /login")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !tokenEqual(r.Header.Get("X-CSRF-Token"), ss.csrf) {
			return allot.Principal{}, allot.Errorf(allot.EForbidden, "a change made with a dashboard session needs its CSRF token in X-CSRF-Token; reload the page")
		}
		return d.sessions.principal(ss), nil
	}
}

// secure sets the headers every dashboard response carries: a strict
// content security policy (only this origin's scripts and styles, no
// framing) and no MIME sniffing.
func (d *Dashboard) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
			"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// secureCookies reports whether r's cookies must be Secure: forced by
// SecureCookies, served over TLS, or forwarded by a trusted proxy that
// says the client used https.
func (d *Dashboard) secureCookies(r *http.Request) bool {
	if d.opts.SecureCookies || r.TLS != nil {
		return true
	}
	if !d.opts.TrustProxy {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",") // the first proxy's view
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// current returns the request's live session, or nil.
func (d *Dashboard) current(r *http.Request) (*session, allot.Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, allot.Principal{}, nil
	}
	ss, err := d.sessions.get(r.Context(), c.Value)
	if err != nil || ss == nil {
		return nil, allot.Principal{}, err
	}
	return ss, d.sessions.principal(ss), nil
}
