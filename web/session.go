package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// Cookie names. The session cookie is HttpOnly and SameSite=Strict; the
// login cookie carries the CSRF token of the sign-in form, before there is
// a session (double submit).
const (
	sessionCookie = "allot_session"
	loginCookie   = "allot_login"
)

// recheckEvery is how often a session's key is resolved again, so a
// revoked key or a removed user loses the dashboard as fast as the gateway
// (whose key cache also lives 10 s).
const recheckEvery = 10 * time.Second

// session is one signed-in browser. Only the hash of the key it signed in
// with is kept, to check that the key still works; a session begun with
// OpenID Connect keeps no key and is checked against the person instead
// (still there, still active: their team and role as stored now).
type session struct {
	csrf    string
	keyHash []byte // nil for an OpenID Connect session
	email   string // an OpenID Connect session's person
	p       allot.Principal
	created time.Time
	seen    time.Time
	checked time.Time
}

// sessions is the in-memory session store, keyed by the SHA-256 of the
// session id so a lookup never compares secrets byte by byte.
type sessions struct {
	mu        sync.Mutex
	m         map[[32]byte]*session
	ttl, idle time.Duration
	lastPurge time.Time
	keys      KeyResolver
	people    PersonResolver // checks OpenID Connect sessions; nil: they end at their first check
	now       func() time.Time
}

// PersonResolver finds a person by email (allot.People's UserByEmail): a
// deactivated one comes with EForbidden, an unknown one ENotFound.
type PersonResolver interface {
	UserByEmail(ctx context.Context, email string) (allot.User, error)
}

func newSessions(keys KeyResolver, people PersonResolver, ttl, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl, idle: idle, keys: keys, people: people, now: now}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for p, signed in with the key of hash keyHash
// (or, with keyHash nil, through OpenID Connect as the person with
// email), and returns its id.
func (s *sessions) create(p allot.Principal, keyHash []byte, email ...string) (string, *session) {
	id := randomToken()
	now := s.now()
	ss := &session{csrf: randomToken(), keyHash: keyHash, p: p, created: now, seen: now, checked: now}
	if len(email) > 0 {
		ss.email = email[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastPurge) > time.Minute {
		for k, v := range s.m {
			if s.expired(v, now) {
				delete(s.m, k)
			}
		}
		s.lastPurge = now
	}
	s.m[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.created) >= s.ttl || now.Sub(ss.seen) >= s.idle
}

// get returns the live session of id, resolving its key (or, signed in
// with OpenID Connect, its person) again when the last check is older
// than recheckEvery; nil if there is none (expired, signed out, its key
// was revoked, or its person deactivated or removed).
func (s *sessions) get(ctx context.Context, id string) (*session, error) {
	if id == "" {
		return nil, nil
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	ss := s.m[k]
	if ss != nil && s.expired(ss, now) {
		delete(s.m, k)
		ss = nil
	}
	if ss == nil {
		s.mu.Unlock()
		return nil, nil
	}
	ss.seen = now
	stale := now.Sub(ss.checked) >= recheckEvery
	hash, email, was := ss.keyHash, ss.email, ss.p
	s.mu.Unlock()
	if !stale {
		return ss, nil
	}
	p, err := s.recheck(ctx, hash, email, was)
	if allot.CodeOf(err) == allot.EUnauthorized {
		s.delete(id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	ss.p, ss.checked = p, now
	s.mu.Unlock()
	return ss, nil
}

// recheck resolves a session's key again, or for a session without one
// its person by email: EUnauthorized when the session must end.
func (s *sessions) recheck(ctx context.Context, keyHash []byte, email string, was allot.Principal) (allot.Principal, error) {
	if keyHash != nil {
		return s.keys.PrincipalByKeyHash(ctx, keyHash)
	}
	if s.people == nil {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "this allot cannot check single sign-on sessions; sign in again")
	}
	u, err := s.people.UserByEmail(ctx, email)
	if c := allot.CodeOf(err); c == allot.ENotFound || c == allot.EForbidden || err == nil && u.Name != was.User {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "your account was deactivated or removed; ask your allot admin")
	}
	if err != nil {
		return allot.Principal{}, err
	}
	return allot.Principal{Org: was.Org, Team: u.Team, User: u.Name, Role: u.Role, KeyLabel: was.KeyLabel}, nil
}

// principal returns a copy of the session's principal.
func (s *sessions) principal(ss *session) allot.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ss.p
}

// delete ends the session of id.
func (s *sessions) delete(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// tokenEqual compares a presented CSRF token with the expected one in
// constant time; an empty token never matches.
func tokenEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// setCookie sets an HttpOnly, SameSite=Strict cookie on the whole site,
// Secure when the request came over TLS or secure is forced; maxAge < 0
// deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, secure bool, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: secure || r.TLS != nil}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
