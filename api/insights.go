package api

import (
	"net/http"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

// insights answers GET /api/v1/insights?user=NAME&team=NAME&days=30&limit_usd=50:
// where a person's tokens go, how they compare with peers, what to change
// and what it would save, and a forecast. A member's key sees only their
// own view (another name is 403), a lead's their team (a member by name
// only under peer_visibility: named), an admin's anyone or, by default,
// the whole org.
func (h *Server) insights(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
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
	if h.Source == nil || h.People == nil {
		return allot.Errorf(allot.ENotFound, "this store keeps no insights")
	}
	users, err := h.People.Users(r.Context())
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
	req.LimitFor = func(scope string) *allot.Money { return h.monthLimit(scope, now) }
	ins, err := insights.Build(r.Context(), h.Source, users, h.Pricer(), p, req, opts, now)
	if err != nil {
		return err
	}
	writeJSON(w, ins)
	return nil
}
