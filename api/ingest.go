package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// usage answers POST /api/v1/usage: usage that happened outside the
// gateway (local tool logs sent by `allot push`, other proxies, scripts),
// in allot's own shape (docs/usage-api.md). Each record carries an id
// unique in its source; the stored event id is derived from it and the
// user, so sending the same records again stores nothing new. Admins may
// attribute records to any active user, everyone else only to themselves.
// Limits of one POST /api/v1/usage request.
const (
	DefaultUsageBodyBytes = 16 << 20
	MaxUsageRecords       = 5000
	maxUsageIDLen         = 256
	maxUsageStringLen     = allot.MaxLabelBytes // longer names are refused, not capped: the sender can fix them
	// usageClockSkew is how far in the future a record's time may be.
	usageClockSkew = 5 * time.Minute
	// MaxUsageLatencyMS bounds latency_ms: a day, far above any call.
	MaxUsageLatencyMS = 24 * 60 * 60 * 1000
)

// outOfBounds is a record's number past what any call can have (see
// allot.MaxCallTokens, allot.MaxCallCost): not a slip in one record but a
// bug or an attack, so the whole request is refused with a 400 naming it.
type outOfBounds struct{ err error }

func (e outOfBounds) Error() string { return e.err.Error() }

// UsageBatch is the body of POST /api/v1/usage.
type UsageBatch struct {
	Events []UsageRecord `json:"events"`
}

// UsageRecord is one call's usage as a client reports it. Tokens follow
// allot's convention: input_tokens includes cached input, output_tokens
// includes reasoning.
type UsageRecord struct {
	ID             string       `json:"id"`                        // unique in the sender's source, e.g. "claude-code:msg_…:req_…"
	Time           time.Time    `json:"time"`                      // when the call started (RFC 3339)
	User           string       `json:"user,omitempty"`            // default: the caller; admins may name any active user
	Provider       string       `json:"provider,omitempty"`        // e.g. "anthropic"; helps pricing
	Model          string       `json:"model"`                     // the model that answered
	RequestedModel string       `json:"requested_model,omitempty"` // default: model
	Route          allot.Route  `json:"route,omitempty"`           // e.g. "anthropic.messages"
	Task           string       `json:"task,omitempty"`            // default: untagged
	Session        string       `json:"session,omitempty"`
	App            string       `json:"app,omitempty"`    // e.g. "claude-cli"; default "api"
	Status         int          `json:"status,omitempty"` // HTTP status of the call; default 200
	LatencyMS      int64        `json:"latency_ms,omitempty"`
	Tokens         allot.Tokens `json:"tokens"`
	// CostUSD is the sender's own cost (a decimal string or number), used
	// only for models allot has no price for.
	CostUSD json.RawMessage `json:"cost_usd,omitempty"`
}

// UsageResult is the answer: what happened to the records.
type UsageResult struct {
	Read      int      `json:"read"`
	Imported  int      `json:"imported"`  // new events stored
	Duplicate int      `json:"duplicate"` // already stored (sent before)
	Malformed int      `json:"malformed"` // refused; see problems
	Problems  []string `json:"problems,omitempty"`
}

func (h *Server) usage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, allot.Errorf(allot.EMethod, "POST your usage records to /api/v1/usage"))
		return
	}
	auth := h.AuthenticateKey
	if auth == nil {
		auth = h.Authenticate
	}
	serve(auth, h.Logger, h.post)(w, r)
}

// post stores the caller's batch.
func (h *Server) post(w http.ResponseWriter, r *http.Request, caller allot.Principal) error {
	records, err := h.read(w, r)
	if err != nil {
		return err
	}
	var sum ingest.Summary
	sum.Read = len(records)
	var people *ingest.People
	events := make([]allot.Event, 0, len(records))
	now := h.now()
	for i, raw := range records {
		rec, err := decodeUsageRecord(raw)
		if err != nil {
			sum.Malformed++
			sum.Problem("events[%d]: %v", i, err)
			continue
		}
		who := caller
		if rec.User != "" && rec.User != caller.User {
			if caller.Role != allot.RoleAdmin {
				return allot.Errorf(allot.EForbidden, "events[%d] names user %q: only admins may report usage for someone else; leave user empty to report your own", i, rec.User)
			}
			if people == nil {
				if people, err = h.attribution(r.Context(), caller.Org); err != nil {
					return err
				}
			}
			p, ok := people.ByName(rec.User)
			if !ok {
				sum.Malformed++
				sum.Problem("events[%d]: %q is not an active allot user", i, rec.User)
				continue
			}
			who = p
			who.KeyID, who.KeyLabel = caller.KeyID, caller.KeyLabel
		}
		e, err := rec.event(who, now)
		if err == nil {
			ingest.Price(h.Pricer(), &e)
			if cerr := allot.CheckCallCost("cost", e.Cost); cerr != nil {
				err = outOfBounds{fmt.Errorf("%v (priced for model %q)", allot.ErrorOf(cerr).Message, e.ServedModel)}
			}
		}
		var oob outOfBounds
		if errors.As(err, &oob) {
			return allot.Errorf(allot.EInvalid, "events[%d] (%.64s): %v; nothing in this request was stored (limits: docs/security.md)", i, rec.ID, oob.err)
		}
		if err != nil {
			sum.Malformed++
			sum.Problem("events[%d] (%s): %v", i, rec.ID, err)
			continue
		}
		events = append(events, e)
	}
	if err := ingest.Store(r.Context(), h.Ledger, events, &sum, len(events)); err != nil {
		return err
	}
	res := UsageResult{Read: sum.Read, Imported: sum.Imported, Duplicate: sum.Duplicate, Malformed: sum.Malformed, Problems: sum.Problems}
	if n := sum.MoreProblems(); n > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("… and %d more", n))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
	return nil
}

// read decodes the batch envelope, leaving each record raw so that one bad
// record is counted as malformed instead of refusing the batch.
func (h *Server) read(w http.ResponseWriter, r *http.Request) ([]json.RawMessage, error) {
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultUsageBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, allot.Errorf(allot.ETooLarge, "request body over %d bytes; send at most %d records per request", limit, MaxUsageRecords)
		}
		return nil, allot.Errorf(allot.EInvalid, "read request body: %v", err)
	}
	var batch struct {
		Events []json.RawMessage `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&batch); err != nil {
		return nil, allot.Errorf(allot.EInvalid, `body is not {"events":[…]}: %v (see docs/usage-api.md)`, err)
	}
	if len(batch.Events) > MaxUsageRecords {
		return nil, allot.Errorf(allot.ETooLarge, "%d records in one request; send at most %d", len(batch.Events), MaxUsageRecords)
	}
	return batch.Events, nil
}

func decodeUsageRecord(raw json.RawMessage) (UsageRecord, error) {
	var rec UsageRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("not a usage record: %v", err)
	}
	return rec, nil
}

// event validates rec and builds the event it stands for.
func (rec UsageRecord) event(who allot.Principal, now time.Time) (allot.Event, error) {
	var e allot.Event
	switch {
	case rec.ID == "":
		return e, fmt.Errorf("id is missing; give every record an id unique in its source, so a resend is not counted twice")
	case len(rec.ID) > maxUsageIDLen:
		return e, fmt.Errorf("id is longer than %d bytes", maxUsageIDLen)
	case rec.Time.IsZero():
		return e, fmt.Errorf("time is missing (RFC 3339, e.g. 2026-11-03T10:00:04Z)")
	case rec.Time.After(now.Add(usageClockSkew)):
		return e, fmt.Errorf("time %s is in the future", rec.Time.Format(time.RFC3339))
	case rec.Model == "":
		return e, fmt.Errorf("model is missing")
	case rec.LatencyMS < 0 || rec.LatencyMS > MaxUsageLatencyMS:
		return e, outOfBounds{fmt.Errorf("latency_ms %d is out of range 0..%d", rec.LatencyMS, MaxUsageLatencyMS)}
	case rec.Status < 0 || rec.Status > 599:
		return e, outOfBounds{fmt.Errorf("status %d is out of range 0..599", rec.Status)}
	}
	for _, s := range []string{rec.Provider, rec.Model, rec.RequestedModel, string(rec.Route), rec.Task, rec.Session, rec.App} {
		if len(s) > maxUsageStringLen {
			return e, fmt.Errorf("a text field is longer than %d bytes", maxUsageStringLen)
		}
	}
	t := rec.Tokens
	for _, f := range [...]struct {
		name string
		n    int64
	}{{"input_tokens", t.Input}, {"cache_read_tokens", t.CacheRead}, {"cache_write_5m_tokens", t.CacheWrite5m},
		{"cache_write_1h_tokens", t.CacheWrite1h}, {"output_tokens", t.Output}, {"reasoning_tokens", t.Reasoning}} {
		if err := allot.CheckCount(f.name, f.n); err != nil {
			return e, outOfBounds{errors.New(allot.ErrorOf(err).Message)}
		}
	}
	if err := t.CheckCall(); err != nil { // the counts are in bounds: cache or reasoning past its whole
		return e, errors.New(allot.ErrorOf(err).Message)
	}
	e = allot.Event{
		ID: ingest.ID(who.User, rec.ID), Time: rec.Time.UTC(), Principal: who,
		Provider: rec.Provider, RequestedModel: usageOr(rec.RequestedModel, rec.Model), ServedModel: rec.Model,
		Route: rec.Route, Task: usageOr(rec.Task, allot.UntaggedTask), Session: rec.Session, App: usageOr(rec.App, "api"),
		Source: allot.SourceImport, Status: rec.Status, Latency: time.Duration(rec.LatencyMS) * time.Millisecond,
		Tokens: t,
	}
	if e.Status == 0 {
		e.Status = 200
	}
	if len(rec.CostUSD) > 0 && string(rec.CostUSD) != "null" {
		var s string
		if err := json.Unmarshal(rec.CostUSD, &s); err != nil {
			s = string(rec.CostUSD)
		}
		cost, err := ingest.ParseReportedUSD(s)
		if err != nil && strings.HasPrefix(strings.TrimSpace(s), "-") {
			return e, outOfBounds{fmt.Errorf("cost_usd: %v", err)}
		}
		if err != nil {
			return e, fmt.Errorf("cost_usd: %v", err)
		}
		if err := allot.CheckCallCost("cost_usd", cost); err != nil {
			return e, outOfBounds{errors.New(allot.ErrorOf(err).Message)}
		}
		e.Cost, e.CostKnown = cost, true
	}
	return e, nil
}

// usageOr is s, or def when s is empty.
func usageOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// people indexes the active users for attribution by an admin.
func (h *Server) attribution(ctx context.Context, org string) (*ingest.People, error) {
	if h.People == nil {
		return nil, allot.Errorf(allot.EInvalid, "this server cannot attribute usage to other users; leave user empty")
	}
	users, err := h.People.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return ingest.NewPeople(org, users), nil
}
