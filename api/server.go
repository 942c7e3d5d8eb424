package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Server serves /api/v1: reports for admins now, self-service views as
// they land.
type Server struct {
	// Authenticate resolves the caller's allot key (Bearer or x-api-key).
	Authenticate func(r *http.Request) (allot.Principal, error)
	Reports      allot.Reporter
	Now          func() time.Time
	Logger       *slog.Logger
}

// Routes registers the API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/report", serve(s.Authenticate, s.Logger, admin("this endpoint", s.report)))
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
