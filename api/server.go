package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/provider"
)

// Server serves /api/v1, every route behind one handler signature
// (handler), one way in (serve: authenticate, run, write the error) and
// one error path (WriteError). What each route shows is limited by the
// root package's rules (allot.CanSee, allot.CanSeeTeam); routes whose
// store part is nil answer 404 (or, for changes, 503) rather than panic.
type Server struct {
	// Authenticate resolves the caller (allot key, or a dashboard session).
	Authenticate func(r *http.Request) (allot.Principal, error)
	// AuthenticateKey resolves the caller of POST /api/v1/usage by allot key
	// only (Bearer or x-api-key); nil: Authenticate.
	AuthenticateKey func(r *http.Request) (allot.Principal, error)

	Reports allot.Reporter
	Events  allot.EventLog // optional: /requests answers 404 without it
	People  People         // optional: without it leads see only themselves and peers are those with spend
	// Unpriced lists models seen without a price (optional; org overview).
	Unpriced func(ctx context.Context) ([]allot.UnpricedModel, error)
	Grants   allot.GrantStore // optional: /grants answers 404 and top-ups are refused without it
	// Policy reads and writes the stored rationing policy (optional: /policy
	// answers 404 without it), so the budget editor can load and save a budget as declared.
	Policy  PolicyStore
	Audit   allot.AuditLog // optional
	Leaving Leaving        // optional: deactivating people answers 503 without it
	Notices NoticeLister   // optional: /alerts answers 404 without it
	Source  allot.InsightSource
	Ledger  allot.Ledger // where POST /api/v1/usage stores
	// KeyStore makes, lists and revokes keys for POST and DELETE
	// /api/v1/keys (optional: they answer 404 without it); KeyLimits bound
	// what people make for themselves.
	KeyStore  KeyStore
	KeyLimits KeyLimits
	// Emails lets a person be named by email wherever the API takes a
	// user (?user=…): optional; without it names are taken as they are.
	Emails allot.People

	// Rationer returns the rationer in force, which says which budgets
	// apply to whom.
	Rationer func() *budget.Rationer
	// Refresh applies a stored policy change to the running rationer now (optional).
	Refresh func(context.Context) error
	Pricer  func() allot.Pricer     // the price catalog in force
	Options func() insights.Options // nil: insights.DefaultOptions
	// PeerVisibility is allot.PeerNamed or allot.PeerAnonymous (the
	// default): the org's policy allot.CanSee applies.
	PeerVisibility string
	// MaxBodyBytes limits a POST /api/v1/usage body (DefaultUsageBodyBytes when 0).
	MaxBodyBytes int64
	Now          func() time.Time
	Logger       *slog.Logger
}

// Routes registers every /api/v1 route on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	h := func(pattern string, h handler) {
		mux.HandleFunc(pattern, serve(s.Authenticate, s.Logger, s.byEmail(h)))
	}
	h("GET /api/v1/report", admin("this endpoint", s.report))
	h("GET /api/v1/me", s.me)
	h("GET /api/v1/budgets", s.budgets)
	h("PUT /api/v1/budgets/{name}", admin("changing budgets", s.put))
	h("POST /api/v1/budgets/{name}/grants", admin("changing budgets", s.grant))
	h("POST /api/v1/users/{user}/deactivate", admin("deactivating people", s.setActive(false)))
	h("POST /api/v1/users/{user}/reactivate", admin("reactivating people", s.setActive(true)))
	h("GET /api/v1/alerts", s.alerts)
	h("GET /api/v1/whoami", s.whoami)
	h("GET /api/v1/keys", s.keys)
	h("POST /api/v1/keys", s.createKey)
	h("DELETE /api/v1/keys/{id}", s.revokeKey)
	h("GET /api/v1/overview", s.overview)
	h("GET /api/v1/peers", s.peers)
	h("GET /api/v1/requests", s.requests)
	h("GET /api/v1/grants", s.grants)
	h("GET /api/v1/policy", s.policy)
	h("GET /api/v1/insights", s.insights)
	h("GET /api/v1/pricing-plans", s.pricingPlans)
	mux.HandleFunc("/api/v1/usage", s.usage) // any method: others get a JSON 405 naming POST
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, allot.Errorf(allot.ENotFound, "no API route %s %s; see docs/api.md", r.Method, r.URL.Path))
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// handler is the one signature of every /api/v1 handler: it gets the
// authenticated caller and returns its error, which serve writes.
type handler func(w http.ResponseWriter, r *http.Request, p allot.Principal) error

// serve is the one way into a handler: it resolves the caller with auth,
// runs h, and writes any error through WriteError (the one error path),
// logging internal errors on logger (nil: none).
func serve(auth func(*http.Request) (allot.Principal, error), logger *slog.Logger, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := auth(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			if allot.CodeOf(err) == allot.EInternal && logger != nil {
				logger.Error("api", "path", r.URL.Path, "err", err)
			}
			WriteError(w, err)
		}
	}
}

// admin lets only admins reach h; what names the action in the refusal.
func admin(what string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
		if p.Role != allot.RoleAdmin {
			return allot.Errorf(allot.EForbidden, "%s is for admins; user %q has role %q", what, p.User, p.Role)
		}
		return h(w, r, p)
	}
}

// report answers GET /api/v1/report?by=user,model&from=DATE&to=DATE&format=json|csv.
func (s *Server) report(w http.ResponseWriter, r *http.Request, _ allot.Principal) error {
	q := r.URL.Query()
	by, err := allot.ParseDimensions(q.Get("by"))
	if err != nil {
		return err
	}
	from, to, err := ParseRange(q.Get("from"), q.Get("to"), s.now())
	if err != nil {
		return err
	}
	query := allot.ReportQuery{By: by, From: from, To: to, Filter: map[allot.Dimension]string{}}
	for _, d := range allot.Dimensions {
		if v := q.Get(string(d)); v != "" {
			query.Filter[d] = v
		}
	}
	if err := query.Validate(); err != nil {
		return err
	}
	rows, err := s.Reports.Report(r.Context(), query)
	if err != nil {
		return err
	}
	format := q.Get("format")
	switch format {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		format = "json"
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="allot-report.csv"`)
	default:
		return allot.Errorf(allot.EInvalid, "unknown format %q; use json or csv", format)
	}
	_ = WriteReport(w, format, by, rows)
	return nil
}

// ParseRange reads a report range. Dates (2006-01-02) are whole UTC days
// and to is inclusive; RFC 3339 times are exact and to is exclusive. The
// default is the 30 days up to now.
func ParseRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	end := now
	if to != "" {
		t, date, err := parseTime(to)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		end = t
		if date {
			end = t.AddDate(0, 0, 1)
		}
	}
	start := end.AddDate(0, 0, -30)
	if from != "" {
		t, _, err := parseTime(from)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		start = t
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, allot.Errorf(allot.EInvalid, "from (%s) must be before to (%s)", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

func parseTime(s string) (t time.Time, date bool, err error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, nil
	}
	return time.Time{}, false, allot.Errorf(allot.EInvalid, "%q is not a date (2006-01-02) or time (2006-01-02T15:04:05Z)", s)
}

// WriteError writes err as {"error":{"code","message"}} with its HTTP status.
func WriteError(w http.ResponseWriter, err error) {
	e := allot.ErrorOf(err)
	w.Header().Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(provider.Info(e.Code).Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": string(e.Code), "message": e.Message}})
}
