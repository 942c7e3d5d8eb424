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
	mux.HandleFunc("GET /api/v1/report", s.admin(s.report))
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

// admin wraps h so only admins reach it.
func (s *Server) admin(h func(http.ResponseWriter, *http.Request, allot.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Authenticate(r)
		if err != nil {
			WriteError(w, err)
			return
		}
		if p.Role != allot.RoleAdmin {
			WriteError(w, allot.Errorf(allot.EForbidden, "this endpoint is for admins; user %q has role %q", p.User, p.Role))
			return
		}
		h(w, r, p)
	}
}

// report answers GET /api/v1/report?by=user,model&from=DATE&to=DATE&format=json|csv.
func (s *Server) report(w http.ResponseWriter, r *http.Request, _ allot.Principal) {
	q := r.URL.Query()
	by, err := allot.ParseDimensions(q.Get("by"))
	if err != nil {
		WriteError(w, err)
		return
	}
	from, to, err := ParseRange(q.Get("from"), q.Get("to"), s.now())
	if err != nil {
		WriteError(w, err)
		return
	}
	query := allot.ReportQuery{By: by, From: from, To: to, Filter: map[allot.Dimension]string{}}
	for _, d := range allot.Dimensions {
		if v := q.Get(string(d)); v != "" {
			query.Filter[d] = v
		}
	}
	if err := query.Validate(); err != nil {
		WriteError(w, err)
		return
	}
	rows, err := s.Reports.Report(r.Context(), query)
	if err != nil {
		s.logError(r, err)
		WriteError(w, err)
		return
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
		WriteError(w, allot.Errorf(allot.EInvalid, "unknown format %q; use json or csv", format))
		return
	}
	_ = WriteReport(w, format, by, rows)
}

func (s *Server) logError(r *http.Request, err error) {
	if allot.CodeOf(err) == allot.EInternal && s.Logger != nil {
		s.Logger.Error("api", "path", r.URL.Path, "err", err)
	}
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
