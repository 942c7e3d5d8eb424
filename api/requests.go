package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
)

// RequestRow is one call in the request log: who, what, how long, how
// many tokens and what it cost. There is no prompt or completion text:
// allot never stores any.
type RequestRow struct {
	ID               string      `json:"id"`
	Time             time.Time   `json:"time"`
	User             string      `json:"user"`
	Team             string      `json:"team"`
	KeyLabel         string      `json:"key_label"`
	Provider         string      `json:"provider"`
	RequestedModel   string      `json:"requested_model"`
	ServedModel      string      `json:"served_model"`
	Route            allot.Route `json:"route"`
	Task             string      `json:"task"`
	Session          string      `json:"session"`
	App              string      `json:"app"`
	Status           int         `json:"status"`
	Stream           bool        `json:"stream"`
	LatencyMS        int64       `json:"latency_ms"`
	TTFTMS           int64       `json:"ttft_ms"`
	InputTokens      int64       `json:"input_tokens"`
	CacheReadTokens  int64       `json:"cache_read_tokens"`
	CacheWriteTokens int64       `json:"cache_write_tokens"`
	OutputTokens     int64       `json:"output_tokens"`
	ReasoningTokens  int64       `json:"reasoning_tokens"`
	CostUSD          allot.Money `json:"cost_usd"`
	CostKnown        bool        `json:"cost_known"`
	Estimated        bool        `json:"estimated"`
}

// RequestPage is GET /api/v1/requests: a page of the log, newest first;
// next_before is the cursor of the next page ("" on the last).
type RequestPage struct {
	From       time.Time         `json:"from"`
	To         time.Time         `json:"to"`
	Filter     map[string]string `json:"filter"`
	Requests   []RequestRow      `json:"requests"`
	NextBefore string            `json:"next_before"`
}

func requestRow(e allot.Event) RequestRow {
	return RequestRow{
		ID: e.ID, Time: e.Time, User: e.User, Team: e.Team, KeyLabel: e.KeyLabel, Provider: e.Provider,
		RequestedModel: e.RequestedModel, ServedModel: e.ServedModel, Route: e.Route, Task: e.Task, Session: e.Session,
		App: e.App, Status: e.Status, Stream: e.Stream, LatencyMS: e.Latency.Milliseconds(), TTFTMS: e.TTFT.Milliseconds(),
		InputTokens: e.Tokens.Input, CacheReadTokens: e.Tokens.CacheRead, CacheWriteTokens: e.Tokens.CacheWrite(),
		OutputTokens: e.Tokens.Output, ReasoningTokens: e.Tokens.Reasoning, CostUSD: e.Cost, CostKnown: e.CostKnown, Estimated: e.Estimated,
	}
}

// requests answers GET /api/v1/requests?from=&to=&user=&team=&model=&task=
// &app=&provider=&limit=&before=&format=json|csv. Each row names its
// caller, so a row is listed only when allot.CanSee lets the caller see
// that person: members their own calls, leads their team's under
// peer_visibility: named (else their own), admins everyone's.
func (u *Server) requests(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.Events == nil {
		return allot.Errorf(allot.ENotFound, "this store keeps no request log")
	}
	q := r.URL.Query()
	ctx := r.Context()
	from, to, err := ParseRange(q.Get("from"), q.Get("to"), u.now())
	if err != nil {
		return err
	}
	eq := allot.EventQuery{From: from, To: to, Filter: map[allot.Dimension]string{}, Before: q.Get("before")}
	for _, d := range []allot.Dimension{allot.DimUser, allot.DimTeam, allot.DimModel, allot.DimTask, allot.DimApp, allot.DimProvider} {
		if v := q.Get(string(d)); v != "" {
			eq.Filter[d] = v
		}
	}
	if v := q.Get("limit"); v != "" {
		if eq.Limit, err = strconv.Atoi(v); err != nil || eq.Limit < 1 || eq.Limit > 1000 {
			return allot.Errorf(allot.EInvalid, "limit %q is not a number from 1 to 1000", v)
		}
	}
	roster, err := u.roster(ctx)
	if err != nil {
		return err
	}
	vis := u.peerVisibility()
	user, team := eq.Filter[allot.DimUser], eq.Filter[allot.DimTeam]
	if user != "" && !allot.CanSee(p, roster.Subject(user), vis) {
		return forbidPerson(p, user)
	}
	if p.Role != allot.RoleAdmin {
		if team != "" && team != p.Team {
			return allot.Errorf(allot.EForbidden, "user %q may see the requests of their own team (%s) only, not team %q's", p.User, p.Team, team)
		}
		// Every row names its caller: a lead's log covers the team only
		// when they may see its members by name, else only their own calls.
		if allot.CanSee(p, roster.Members(p.Team), vis) {
			eq.Filter[allot.DimTeam] = p.Team
		} else {
			eq.Filter[allot.DimUser] = p.User
		}
	}
	evs, err := u.Events.ListEvents(ctx, eq)
	if err != nil {
		return err
	}
	page := RequestPage{From: from, To: to, Filter: map[string]string{}, Requests: make([]RequestRow, 0, len(evs))}
	for d, v := range eq.Filter {
		page.Filter[string(d)] = v
	}
	for _, e := range evs {
		if allot.CanSee(p, roster.Subject(e.User), vis) { // not the calls of someone who has left the lead's team
			page.Requests = append(page.Requests, requestRow(e))
		}
	}
	limit := eq.Limit
	if limit == 0 {
		limit = 100
	}
	if len(evs) == limit {
		page.NextBefore = evs[len(evs)-1].ID
	}
	switch q.Get("format") {
	case "", "json":
		writeJSON(w, page)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="allot-requests.csv"`)
		if page.NextBefore != "" {
			w.Header().Set("X-Allot-Next-Before", page.NextBefore)
		}
		return writeRequestsCSV(w, page.Requests)
	default:
		return allot.Errorf(allot.EInvalid, "unknown format %q; use json or csv", q.Get("format"))
	}
	return nil
}

var requestColumns = []string{"id", "time", "user", "team", "key_label", "provider", "requested_model", "served_model", "route",
	"task", "session", "app", "status", "stream", "latency_ms", "ttft_ms", "input_tokens", "cache_read_tokens",
	"cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "cost_known", "estimated"}

func writeRequestsCSV(w http.ResponseWriter, rows []RequestRow) error {
	cw := allot.NewCSVWriter(w) // neutralises formula-looking cells
	_ = cw.Write(requestColumns)
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rows {
		_ = cw.Write([]string{r.ID, r.Time.Format(time.RFC3339Nano), r.User, r.Team, r.KeyLabel, r.Provider, r.RequestedModel,
			r.ServedModel, string(r.Route), r.Task, r.Session, r.App, strconv.Itoa(r.Status), strconv.FormatBool(r.Stream),
			i64(r.LatencyMS), i64(r.TTFTMS), i64(r.InputTokens), i64(r.CacheReadTokens), i64(r.CacheWriteTokens),
			i64(r.OutputTokens), i64(r.ReasoningTokens), r.CostUSD.String(), strconv.FormatBool(r.CostKnown), strconv.FormatBool(r.Estimated)})
	}
	cw.Flush()
	return cw.Error()
}
