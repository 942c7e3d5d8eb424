// Package scim is allot's SCIM 2.0 server (RFC 7643, RFC 7644) at
// /scim/v2: identity providers (Okta, Microsoft Entra ID, …) create,
// update, deactivate and delete people and groups, so joining and leaving
// need no org.yaml edit. userName is the person's email; a group is a
// team (or maps to one through scim.group_to_team) and membership sets a
// person's team. Deactivating or deleting a person revokes every key of
// theirs at once (allot.Directory.SetUserActive), which every replica
// learns within a second (gateway.WatchRevocations). The requests Okta
// and Entra ID send, and what allot does with each, are in docs/sso.md.
package scim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Bounds on one request.
const (
	// maxBodyBytes bounds a request body: a User is well under 10 KB, a
	// PATCH of a large group's members (ids of 36 bytes) well under 1 MB.
	maxBodyBytes = 1 << 20
	// defaultCount and maxCount bound a page of a listing.
	defaultCount = 100
	maxCount     = allot.MaxPageSize
	// maxStartIndex bounds startIndex, so an offset never overflows.
	maxStartIndex = 1 << 30
)

// Options configure a Server.
type Options struct {
	Store allot.Provisioning // required
	Audit allot.AuditLog     // optional: every change is audited as actor "scim"
	// Token is the bearer token the identity provider sends; required.
	Token string
	// GroupToTeam maps a group's displayName to its team; a group not
	// in it is the team of its own name.
	GroupToTeam map[string]string
	// Unassigned is the team of people in no group (default "unassigned").
	Unassigned string
	// BaseURL is where /scim/v2 is reached from outside, for resource
	// locations (default: from the request's Host).
	BaseURL string
	Logger  *slog.Logger
}

// Server serves /scim/v2.
type Server struct {
	opts   Options
	token  [32]byte
	logger *slog.Logger
}

// New returns a Server; it panics without a store or a token, which are
// wiring bugs (config refuses an empty token).
func New(opts Options) *Server {
	if opts.Store == nil || opts.Token == "" {
		panic("scim.New: Store and Token are required")
	}
	if opts.Unassigned == "" {
		opts.Unassigned = "unassigned"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, token: sha256.Sum256([]byte(opts.Token)), logger: opts.Logger}
}

// Prefix is where the server is mounted.
const Prefix = "/scim/v2"

// Routes registers every /scim/v2 route on mux; paths and methods it does
// not serve answer in SCIM's error shape.
func (s *Server) Routes(mux *http.ServeMux) {
	routes := map[string]func(http.ResponseWriter, *http.Request) error{
		"GET /ServiceProviderConfig": s.plain(s.serviceProviderConfig),
		"GET /ResourceTypes":         s.plain(s.resourceTypes),
		"GET /ResourceTypes/{id}":    s.plain(s.resourceTypes),
		"GET /Schemas":               s.plain(s.schemas),
		"GET /Schemas/{id}":          s.plain(s.schemas),
		"POST /Users":                s.createUser,
		"GET /Users":                 s.listUsers,
		"GET /Users/{id}":            s.getUser,
		"PUT /Users/{id}":            s.replaceUser,
		"PATCH /Users/{id}":          s.patchUser,
		"DELETE /Users/{id}":         s.deleteUser,
		"POST /Groups":               s.createGroup,
		"GET /Groups":                s.listGroups,
		"GET /Groups/{id}":           s.getGroup,
		"PUT /Groups/{id}":           s.replaceGroup,
		"PATCH /Groups/{id}":         s.patchGroup,
		"DELETE /Groups/{id}":        s.deleteGroup,
	}
	for pattern, h := range routes {
		method, p, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+Prefix+p, s.serve(h))
	}
	mux.Handle(Prefix+"/", s.serve(func(w http.ResponseWriter, r *http.Request) error {
		for pattern := range routes {
			_, p, _ := strings.Cut(pattern, " ")
			if matches(Prefix+p, r.URL.Path) {
				return allot.Errorf(allot.EMethod, "%s is not supported on %s", r.Method, r.URL.Path)
			}
		}
		return notFound("endpoint", r.URL.Path)
	}))
}

// matches reports whether path fits pattern, whose {id} is one segment.
func matches(pattern, path string) bool {
	ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(qs) {
		return false
	}
	for i := range ps {
		if ps[i] != qs[i] && !(strings.HasPrefix(ps[i], "{") && qs[i] != "") {
			return false
		}
	}
	return true
}

// plain adapts a handler that cannot fail.
func (s *Server) plain(h func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error { h(w, r); return nil }
}

// serve is the one way in: the bearer token (compared in constant time,
// as hashes so the length does not show either), then h; its error is
// answered in SCIM's shape.
func (s *Server) serve(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
			writeError(w, s.logger, allot.Errorf(allot.EUnauthorized, "send the SCIM token (scim.token_env) as Authorization: Bearer"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := h(w, r); err != nil {
			writeError(w, s.logger, err)
		}
	})
}

// base is the URL of /scim/v2 for resource locations.
func (s *Server) base(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return strings.TrimSuffix(s.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix
}

// readBody reads a bounded request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, allot.Errorf(allot.ETooLarge, "the request body is over %d bytes", maxBodyBytes)
	}
	if err != nil {
		return nil, invalid(typeInvalidSyntax, "the request body could not be read")
	}
	return b, nil
}

func notFound(what, id string) error {
	return allot.Errorf(allot.ENotFound, "no %s %q", what, allot.CapLabel(id))
}

// page reads startIndex (1-based) and count (RFC 7644 section 3.4.2.4).
func page(r *http.Request) (start, count int, err error) {
	num := func(name string, def int) (int, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || len(v) > 12 {
			return 0, invalid(typeInvalidValue, "%s must be a whole number", name)
		}
		return n, nil
	}
	if start, err = num("startIndex", 1); err != nil {
		return
	}
	if count, err = num("count", defaultCount); err != nil {
		return
	}
	return min(max(start, 1), maxStartIndex), min(max(count, 0), maxCount), nil
}

// list answers a page of a listing: count 0 asks only for the total.
func list[T any](w http.ResponseWriter, r *http.Request, name string, fetch func(allot.Page) ([]T, int, error), render func(T) any) error {
	start, count, err := page(r)
	if err != nil {
		return err
	}
	p := allot.Page{Name: name, Offset: start - 1, Limit: max(count, 1)}
	items, total, err := fetch(p)
	if err != nil {
		return err
	}
	if count == 0 {
		items = nil
	}
	res := listResponse{Schemas: []string{schemaList}, TotalResults: total, StartIndex: start, ItemsPerPage: len(items), Resources: []any{}}
	for _, it := range items {
		res.Resources = append(res.Resources, render(it))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// audit records a change; a failure is logged, the change stands.
func (s *Server) audit(ctx context.Context, action, target, detail string) {
	if s.opts.Audit == nil {
		return
	}
	e := allot.AuditEntry{Time: time.Now().UTC(), Actor: "scim", Action: action, Target: allot.CapLabel(target), Detail: detail}
	if err := s.opts.Audit.Audit(context.WithoutCancel(ctx), e); err != nil {
		s.logger.Warn("scim change not audited", "action", action, "target", target, "err", err)
	}
}

// team is the team of a group.
func (s *Server) team(displayName string) string {
	if t, ok := s.opts.GroupToTeam[displayName]; ok {
		return t
	}
	return displayName
}

// activeWord describes an active state for the audit log.
func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "deactivated: every key revoked"
}
