package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// KeyStore is the part of the directory /api/v1/keys changes.
type KeyStore interface {
	Keys(ctx context.Context, user string) ([]allot.Key, error)
	CreateKeyExpiring(ctx context.Context, user, label string, expires time.Time) (string, allot.Key, error)
	RevokeKey(ctx context.Context, id string) error
}

// KeyLimits bound self-service keys (allot.yaml keys:).
type KeyLimits struct {
	MaxPerPerson int           // live keys one person may hold; 0: DefaultMaxKeysPerPerson
	MaxLifetime  time.Duration // longest expiry; 0: keys may live for ever
}

// DefaultMaxKeysPerPerson is KeyLimits.MaxPerPerson when 0.
const DefaultMaxKeysPerPerson = 10

// keyView is a key as the API shows it: never its hash.
type keyView struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Label     string     `json:"label"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Active    bool       `json:"active"` // neither revoked nor expired
}

func viewKey(k allot.Key, now time.Time) keyView {
	return keyView{ID: k.ID, User: k.User, Label: k.Label, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, ExpiresAt: k.ExpiresAt, Active: k.Live(now)}
}

// keyOwner is whose keys a request is about: the caller's, or for an
// admin whoever ?user= (or the body's user) names.
func keyOwner(p allot.Principal, user, what string) (string, error) {
	if user == "" || user == p.User {
		return p.User, nil
	}
	if p.Role != allot.RoleAdmin {
		return "", allot.Errorf(allot.EForbidden, "user %q may %s only their own keys", p.User, what)
	}
	return user, nil
}

// keys answers GET /api/v1/keys[?user=NAME]: the caller's keys (admins may
// name anyone).
func (u *Server) keys(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.People == nil {
		return allot.Errorf(allot.ENotFound, "this allot keeps no key directory")
	}
	user, err := keyOwner(p, r.URL.Query().Get("user"), "list")
	if err != nil {
		return err
	}
	ks, err := u.People.Keys(r.Context(), user)
	if err != nil {
		return err
	}
	now := u.now()
	out := make([]keyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, viewKey(k, now))
	}
	writeJSON(w, out)
	return nil
}

// newKeyRequest is the body of POST /api/v1/keys.
type newKeyRequest struct {
	Label     string     `json:"label"`
	ExpiresAt *time.Time `json:"expires_at"` // RFC 3339; null: never (unless keys.max_lifetime is set)
	User      string     `json:"user"`       // admins: make it for someone else
}

// newKeyView is a created key with its secret, shown this once.
type newKeyView struct {
	keyView
	Secret string `json:"secret"`
}

// createKey answers POST /api/v1/keys: a key for the caller (admins may
// name anyone), within keys.max_per_person live keys and an expiry no
// later than keys.max_lifetime from now. The secret is in the answer only.
func (u *Server) createKey(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.KeyStore == nil {
		return allot.Errorf(allot.ENotFound, "this allot does not make keys through the API")
	}
	var req newKeyRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	user, err := allot.ResolveUser(r.Context(), u.Emails, strings.TrimSpace(req.User))
	if err != nil {
		return err
	}
	if user, err = keyOwner(p, user, "create"); err != nil {
		return err
	}
	label := strings.TrimSpace(req.Label)
	if len(label) > allot.MaxLabelBytes {
		return allot.Errorf(allot.EInvalid, "the label is %d bytes; labels are at most %d", len(label), allot.MaxLabelBytes)
	}
	now := u.now()
	var expires time.Time
	if req.ExpiresAt != nil {
		expires = req.ExpiresAt.UTC()
		if !expires.After(now) {
			return allot.Errorf(allot.EInvalid, "expires_at %s is not in the future", expires.Format(time.RFC3339))
		}
	}
	if max := u.KeyLimits.MaxLifetime; max > 0 {
		switch {
		case expires.IsZero():
			return allot.Errorf(allot.EInvalid, "keys here must expire within %s (keys.max_lifetime); set expires_at", max)
		case expires.Sub(now) > max:
			return allot.Errorf(allot.EInvalid, "expires_at %s is further than %s away (keys.max_lifetime); choose an earlier date", expires.Format(time.RFC3339), max)
		}
	}
	existing, err := u.KeyStore.Keys(r.Context(), user)
	if err != nil {
		return err
	}
	live := 0
	for _, k := range existing {
		if k.Live(now) {
			live++
		}
	}
	max := u.KeyLimits.MaxPerPerson
	if max <= 0 {
		max = DefaultMaxKeysPerPerson
	}
	if live >= max {
		return allot.Errorf(allot.EConflict, "%s holds %d live keys, the most allowed (keys.max_per_person); revoke one first", user, live)
	}
	secret, k, err := u.KeyStore.CreateKeyExpiring(r.Context(), user, label, expires)
	if err != nil {
		return err
	}
	u.audit(r.Context(), p, "key.create", k.ID, "key "+k.ID+" ("+k.Label+") for "+k.User)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	writeJSON(w, newKeyView{keyView: viewKey(k, now), Secret: secret})
	return nil
}

// revokeKey answers DELETE /api/v1/keys/{id}: the caller's own key, or
// for an admin anyone's. Someone else's key is "not found" to a
// non-admin, who may not learn that it exists.
func (u *Server) revokeKey(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.KeyStore == nil {
		return allot.Errorf(allot.ENotFound, "this allot does not revoke keys through the API")
	}
	id := r.PathValue("id")
	owner := ""
	if p.Role != allot.RoleAdmin {
		owner = p.User
	}
	ks, err := u.KeyStore.Keys(r.Context(), owner)
	if err != nil {
		return err
	}
	var found *allot.Key
	for i := range ks {
		if ks[i].ID == id {
			found = &ks[i]
		}
	}
	if found == nil {
		return allot.Errorf(allot.ENotFound, "no key %q among %s; list them with GET /api/v1/keys", allot.CapLabel(id), map[bool]string{true: "all keys", false: "your keys"}[owner == ""])
	}
	if err := u.KeyStore.RevokeKey(r.Context(), id); err != nil {
		return err
	}
	u.audit(r.Context(), p, "key.revoke", id, "key "+id+" of "+found.User+" revoked")
	found.RevokedAt = new(time.Time)
	*found.RevokedAt = u.now().UTC()
	writeJSON(w, viewKey(*found, u.now()))
	return nil
}

// byEmail lets ?user= name a person by email: it is replaced by their
// user name before h runs (allot.ResolveUser), so every route that takes
// a user takes an email too.
func (u *Server) byEmail(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
		q := r.URL.Query()
		if v := q.Get("user"); u.Emails != nil && strings.Contains(v, "@") {
			name, err := allot.ResolveUser(r.Context(), u.Emails, v)
			if err != nil {
				return err
			}
			q.Set("user", name)
			r.URL.RawQuery = q.Encode()
		}
		return h(w, r, p)
	}
}
