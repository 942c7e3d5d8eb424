package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

// UserLister lists the directory's active users (allot.Directory has it).
type UserLister interface {
	Users(ctx context.Context) ([]allot.User, error)
}

// InsightsHandler serves GET /api/v1/insights?user=NAME&team=NAME&days=30&limit_usd=50:
// where a person's tokens go, how they compare with peers, what to change
// and what it would save, and a forecast. A member's key sees only their
// own view (another name is 403), a lead's their team (a member by name
// only under peer_visibility: named), an admin's anyone or, by default,
// the whole org.
type InsightsHandler struct {
	Authenticate func(r *http.Request) (allot.Principal, error)
	Source       allot.InsightSource
	Directory    UserLister
	Pricer       func() allot.Pricer     // the price catalog in force
	Options      func() insights.Options // nil: insights.DefaultOptions
	Now          func() time.Time
	Logger       *slog.Logger
}

// Routes registers the endpoint on mux.
func (h *InsightsHandler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/insights", serve(h.Authenticate, h.Logger, h.serve))
}

// serve answers GET /api/v1/insights.
func (h *InsightsHandler) serve(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	var err error
	q := r.URL.Query()
	req := insights.Request{Scope: insights.Scope{User: q.Get("user"), Team: q.Get("team")}, Days: 30}
	if s := q.Get("days"); s != "" {
		if req.Days, err = insights.ParseDays(s); err != nil {
			return err
		}
	}
	if s := q.Get("limit_usd"); s != "" {
		m, err := allot.ParseUSD(s)
		if err != nil || m <= 0 {
			return allot.Errorf(allot.EInvalid, "limit_usd %q is not a positive dollar amount such as 50 or 12.50", s)
		}
		req.Limit = &m
	}
	users, err := h.Directory.Users(r.Context())
	if err != nil {
		return err
	}
	opts := insights.DefaultOptions()
	if h.Options != nil {
		opts = h.Options()
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	ins, err := insights.Build(r.Context(), h.Source, users, h.Pricer(), p, req, opts, now)
	if err != nil {
		return err
	}
	writeJSON(w, ins)
	return nil
}
