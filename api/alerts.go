package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// NoticeLister reads stored notices: the read half of allot.NoticeStore,
// which the SQLite and PostgreSQL stores implement.
type NoticeLister interface {
	// Notices lists notices in [from, to), newest first, at most limit (0: no limit).
	Notices(ctx context.Context, from, to time.Time, limit int) ([]allot.Notice, error)
}

// Alert is one notice as the API shows it: the stored notice plus a short
// summary, and the threshold of threshold notices.
type Alert struct {
	ID     string           `json:"id"`
	Time   time.Time        `json:"time"`
	Kind   allot.NoticeKind `json:"kind"`
	Budget string           `json:"budget"`
	Scope  string           `json:"scope"`
	// User is whose call raised the notice: "" when none, or when the
	// caller may not see that person (UserHidden; the message then leaves
	// them out too).
	User       string         `json:"user"`
	UserHidden bool           `json:"user_hidden"`
	Threshold  *int           `json:"threshold"` // threshold notices: the alert_at percentage crossed
	Summary    string         `json:"summary"`   // what happened, in a few words
	Message    string         `json:"message"`   // a sentence for people
	Detail     map[string]any `json:"detail"`
}

// AlertPage is GET /api/v1/alerts: a page of alerts, newest first;
// next_before is the cursor of the next page ("" on the last).
type AlertPage struct {
	From       time.Time         `json:"from"`
	To         time.Time         `json:"to"`
	Filter     map[string]string `json:"filter"`
	Alerts     []Alert           `json:"alerts"`
	NextBefore string            `json:"next_before"`
}

// alertQuery is a parsed GET /api/v1/alerts.
type alertQuery struct {
	from, to time.Time
	kinds    []allot.NoticeKind // empty: every kind
	budget   string
	limit    int
	before   *noticePos
	format   string
}

// parseAlertQuery reads and checks every parameter, so a bad one is a 400
// before anything is read.
func parseAlertQuery(r *http.Request, now time.Time) (alertQuery, error) {
	q := r.URL.Query()
	var aq alertQuery
	var err error
	if aq.from, aq.to, err = ParseRange(q.Get("from"), q.Get("to"), now); err != nil {
		return aq, err
	}
	if v := q.Get("kind"); v != "" {
		for _, k := range strings.Split(v, ",") {
			kind := allot.NoticeKind(strings.TrimSpace(k))
			switch kind {
			case allot.NoticeThreshold, allot.NoticeDowngrade, allot.NoticeRefusal:
				if !slices.Contains(aq.kinds, kind) {
					aq.kinds = append(aq.kinds, kind)
				}
			default:
				return aq, allot.Errorf(allot.EInvalid, "kind %q is not threshold, downgrade or refusal (several: kind=threshold,refusal)", k)
			}
		}
	}
	aq.budget = q.Get("budget")
	aq.limit = 100
	if v := q.Get("limit"); v != "" {
		if aq.limit, err = strconv.Atoi(v); err != nil || aq.limit < 1 || aq.limit > 1000 {
			return aq, allot.Errorf(allot.EInvalid, "limit %q is not a number from 1 to 1000", v)
		}
	}
	if v := q.Get("before"); v != "" {
		pos, err := parseNoticePos(v)
		if err != nil {
			return aq, err
		}
		aq.before = &pos
	}
	switch aq.format = q.Get("format"); aq.format {
	case "", "json", "csv":
	default:
		return aq, allot.Errorf(allot.EInvalid, "unknown format %q; use json or csv", aq.format)
	}
	return aq, nil
}

// alerts answers GET /api/v1/alerts: the budget notices allot raised
// (thresholds crossed, downgrades, refusals), newest first, limited to
// what the caller may see. Admins see every notice; others the notices
// about themselves and about the budgets that apply to them (the budgets
// GET /api/v1/budgets shows them); leads also their team's budgets'; and
// anyone the notices about a person allot.CanSee lets them see. Whose
// call raised a notice is shown only when allot.CanSee allows it.
func (a *Server) alerts(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if a.Notices == nil {
		return allot.Errorf(allot.ENotFound, "this store keeps no alerts")
	}
	now := a.now()
	aq, err := parseAlertQuery(r, now)
	if err != nil {
		return err
	}
	ctx := r.Context()
	v, err := a.viewer(ctx, p, now)
	if err != nil {
		return err
	}
	page := AlertPage{From: aq.from, To: aq.to, Filter: map[string]string{}, Alerts: []Alert{}}
	if len(aq.kinds) > 0 {
		ks := make([]string, len(aq.kinds))
		for i, k := range aq.kinds {
			ks[i] = string(k)
		}
		page.Filter["kind"] = strings.Join(ks, ",")
	}
	if aq.budget != "" {
		page.Filter["budget"] = aq.budget
	}
	var last noticePos
	err = scanNotices(ctx, a.Notices, aq.from, aq.to, aq.before, func(n allot.Notice) bool {
		if len(aq.kinds) > 0 && !slices.Contains(aq.kinds, n.Kind) || aq.budget != "" && n.Budget != aq.budget || !v.sees(n) {
			return true
		}
		if len(page.Alerts) == aq.limit { // one more exists: there is a next page
			page.NextBefore = last.String()
			return false
		}
		page.Alerts = append(page.Alerts, v.alert(n))
		last = noticePos{t: n.Time, id: n.ID}
		return true
	})
	if err != nil {
		return fmt.Errorf("list alerts: %w", err)
	}
	if aq.format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="allot-alerts.csv"`)
		if page.NextBefore != "" {
			w.Header().Set("X-Allot-Next-Before", page.NextBefore)
		}
		return writeAlertsCSV(w, page.Alerts)
	}
	writeJSON(w, page)
	return nil
}

// budgetRef names a budget as notices do: its name and scope.
type budgetRef struct{ name, scope string }

// alertViewer is what one caller may see of the notices.
type alertViewer struct {
	p      allot.Principal
	covers map[budgetRef]bool // the budgets that apply to p (as GET /api/v1/budgets lists them)
	roster allot.Roster       // the directory, for allot.CanSee
	vis    string
	admin  bool
}

// viewer gathers what the access rules need for p at now.
func (a *Server) viewer(ctx context.Context, p allot.Principal, now time.Time) (*alertViewer, error) {
	v := &alertViewer{p: p, covers: map[budgetRef]bool{}, admin: p.Role == allot.RoleAdmin, vis: a.PeerVisibility, roster: allot.NewRoster(nil)}
	if v.admin {
		return v, nil
	}
	if a.Rationer != nil {
		if rt := a.Rationer(); rt != nil {
			st, err := rt.StatusFor(ctx, p, now)
			if err != nil {
				return nil, err
			}
			for _, s := range st {
				v.covers[budgetRef{s.Name, s.Scope}] = true
			}
		}
	}
	if a.People != nil {
		users, err := a.People.Users(ctx)
		if err != nil {
			return nil, err
		}
		v.roster = allot.NewRoster(users)
	}
	return v, nil
}

// seesUser reports whether the viewer may see user by name: allot.CanSee.
func (v *alertViewer) seesUser(user string) bool {
	return user != "" && allot.CanSee(v.p, v.roster.Subject(user), v.vis)
}

// sees reports whether the viewer may see n: admins all; everyone the
// notices of the budgets that apply to them; those of a team's budget
// when they may see the team (allot.CanSeeTeam: its lead); and the notices
// of a person's budget or raised by a person's calls when they may see
// that person by name (allot.CanSee: themselves at least).
func (v *alertViewer) sees(n allot.Notice) bool {
	if v.admin || v.covers[budgetRef{n.Budget, n.Scope}] {
		return true
	}
	if t, ok := strings.CutPrefix(n.Scope, "team:"); ok && allot.CanSeeTeam(v.p, t) {
		return true
	}
	if u, ok := strings.CutPrefix(n.Scope, "user:"); ok {
		return v.seesUser(u)
	}
	return v.seesUser(n.User)
}

// alert shows n to the viewer, leaving out whose call raised it when the
// viewer may not see that person.
func (v *alertViewer) alert(n allot.Notice) Alert {
	out := Alert{ID: n.ID, Time: n.Time.UTC(), Kind: n.Kind, Budget: n.Budget, Scope: n.Scope, User: n.User,
		Threshold: noticeThreshold(n), Summary: NoticeSummary(n), Message: n.Message, Detail: n.Detail}
	if out.Detail == nil {
		out.Detail = map[string]any{}
	}
	if n.User != "" && !v.seesUser(n.User) {
		out.User, out.UserHidden, out.Message = "", true, withoutPerson(n.Message, n.User, out.Summary)
	}
	return out
}

// withoutPerson drops the sentences of msg that name user ("The first
// refused was bob's call to gpt-4o."); if the name is still there, the
// summary (built from amounts and models only) stands in for the message.
func withoutPerson(msg, user, summary string) string {
	var kept []string
	for _, s := range sentences(msg) {
		if !strings.Contains(s, user) {
			kept = append(kept, s)
		}
	}
	out := strings.Join(kept, " ")
	if out == "" || strings.Contains(out, user) {
		return summary
	}
	return out
}

// sentences splits text after each ". " (a dot inside a model name such
// as gpt-4.1 does not end a sentence).
func sentences(text string) []string {
	var out []string
	for text != "" {
		i := strings.Index(text, ". ")
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = strings.TrimLeft(text[i+2:], " ")
	}
	return out
}

// NoticeSummary says in a few words what a notice is about, from the
// detail allot writes ("80%: $120.00 of $150.00", "gpt-4o → gpt-4o-mini",
// "refused gpt-4o; limit $150.00"), else its message.
func NoticeSummary(n allot.Notice) string {
	d := n.Detail
	str := func(k string) string { s, _ := d[k].(string); return s }
	switch {
	case n.Kind == allot.NoticeThreshold && noticeThreshold(n) != nil:
		s := strconv.Itoa(*noticeThreshold(n)) + "%"
		if spent, limit := detailAmount(d, "spent"), detailAmount(d, "limit"); spent != "" && limit != "" {
			s += ": " + spent + " of " + limit
		}
		return s
	case n.Kind == allot.NoticeDowngrade && str("requested_model") != "":
		return str("requested_model") + " → " + str("served_model")
	case n.Kind == allot.NoticeRefusal && str("model") != "":
		s := "refused " + str("model")
		if limit := detailAmount(d, "limit"); limit != "" {
			s += "; limit " + limit
		}
		return s
	}
	return n.Message
}

// noticeThreshold is the alert_at percentage of a threshold notice, nil
// for other kinds or without one.
func noticeThreshold(n allot.Notice) *int {
	if n.Kind != allot.NoticeThreshold {
		return nil
	}
	if v, ok := detailInt(n.Detail["threshold"]); ok {
		t := int(v)
		return &t
	}
	return nil
}

// detailInt reads a whole number from a detail value as stored (int) or
// read back from JSON (float64).
func detailInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), x == float64(int64(x))
	}
	return 0, false
}

// detailAmount formats a detail's NAME_usd (an exact decimal string) as
// dollars to the cent, or NAME_tokens, or returns "" without either.
func detailAmount(d map[string]any, name string) string {
	if s, ok := d[name+"_usd"].(string); ok {
		if m, err := allot.ParseUSD(s); err == nil {
			s := m.String()
			if i := strings.IndexByte(s, '.'); i >= 0 && len(s) > i+3 {
				s = s[:i+3]
			}
			return "$" + s
		}
	}
	if v, ok := detailInt(d[name+"_tokens"]); ok {
		return strconv.FormatInt(v, 10) + " tokens"
	}
	return ""
}

// noticePos is a place in the newest-first order of notices (time
// descending, then id descending): the cursor of a page.
type noticePos struct {
	t  time.Time
	id string
}

// String encodes the position as an opaque, URL-safe cursor.
func (c noticePos) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.t.UTC().Format(time.RFC3339Nano) + " " + c.id))
}

func parseNoticePos(s string) (noticePos, error) {
	bad := allot.Errorf(allot.EInvalid, "before %q is not a cursor; pass the next_before of the previous page", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return noticePos{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), " ")
	if !ok || id == "" {
		return noticePos{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return noticePos{}, bad
	}
	return noticePos{t: t, id: id}, nil
}

// comesAfter reports whether n comes after c in newest-first order.
func (c noticePos) comesAfter(n allot.Notice) bool {
	return n.Time.Before(c.t) || n.Time.Equal(c.t) && n.ID < c.id
}

// newestFirst orders notices by time, then id, both descending.
func newestFirst(a, b allot.Notice) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// scanChunk is how many notices scanNotices reads at once to begin with.
const scanChunk = 256

// scanNotices calls yield with the notices in [from, to) that come after
// pos (every one when pos is nil), newest first, until yield returns
// false. It reads the store a chunk at a time and orders each chunk
// itself, so notices at the same instant are neither lost nor repeated
// across chunks or pages whatever order the store gives ties.
func scanNotices(ctx context.Context, store NoticeLister, from, to time.Time, pos *noticePos, yield func(allot.Notice) bool) error {
	chunk := scanChunk
	for {
		end := to
		if pos != nil {
			if e := pos.t.Add(time.Microsecond); e.Before(end) { // stores keep microseconds: this includes pos's instant
				end = e
			}
		}
		if !from.Before(end) {
			return nil
		}
		ns, err := store.Notices(ctx, from, end, chunk)
		if err != nil {
			return err
		}
		full := len(ns) == chunk
		slices.SortStableFunc(ns, newestFirst)
		if full { // the oldest instant read may be cut short: read it again next time
			i := len(ns)
			for i > 0 && ns[i-1].Time.Equal(ns[len(ns)-1].Time) {
				i--
			}
			ns = ns[:i]
		}
		progress := false
		for _, n := range ns {
			if pos != nil && !pos.comesAfter(n) {
				continue
			}
			if !yield(n) {
				return nil
			}
			pos, progress = &noticePos{t: n.Time, id: n.ID}, true
		}
		if !full {
			return nil
		}
		if !progress { // one instant fills the chunk: read more at once
			chunk *= 2
		}
	}
}

var alertColumns = []string{"id", "time", "kind", "budget", "scope", "user", "threshold", "summary", "message"}

func writeAlertsCSV(w http.ResponseWriter, rows []Alert) error {
	cw := allot.NewCSVWriter(w) // neutralises formula-looking cells
	_ = cw.Write(alertColumns)
	for _, a := range rows {
		threshold := ""
		if a.Threshold != nil {
			threshold = strconv.Itoa(*a.Threshold)
		}
		_ = cw.Write([]string{a.ID, a.Time.Format(time.RFC3339Nano), string(a.Kind), a.Budget, a.Scope, a.User, threshold, a.Summary, a.Message})
	}
	cw.Flush()
	return cw.Error()
}
