package otlp

import (
	"context"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// batch is the processing of one export request.
type batch struct {
	r   *Receiver
	st  *state
	ctx context.Context
	who allot.Principal // the key's owner
	now time.Time

	rejected int64
	reason   string
	emails   map[string]allot.Principal // user.email lookups of this request

	groups     []*group // metric groups, in order of first point
	byKey      map[string]*group
	costs      map[string]allot.Money // claude_code.cost.usage by user, session, model and interval
	costGroups map[string]int         // token groups per cost key
}

// reject counts an item refused as malformed; the first reason is sent
// back in the partial success message.
func (b *batch) reject(format string, args ...any) {
	b.rejected++
	b.st.stats.rejected.Add(1)
	if b.reason == "" {
		b.reason = fmt.Sprintf(format, args...)
	}
}

// principal is who a record belongs to: the key's owner, or, for an
// admin's key and a record naming a known user.email, that user.
func (b *batch) principal(a attrs) allot.Principal {
	if b.who.Role != allot.RoleAdmin || b.r.UserByEmail == nil {
		return b.who
	}
	email := a.str("user.email")
	if email == "" {
		return b.who
	}
	if p, ok := b.emails[email]; ok {
		return p
	}
	p := b.who
	u, ok, err := b.r.UserByEmail(b.ctx, email)
	switch {
	case err != nil:
		if b.r.Logger != nil {
			b.r.Logger.Warn("otlp: look up user.email; attributing to the key's owner", "err", err)
		}
	case ok:
		p = allot.Principal{Org: b.who.Org, Team: u.Team, User: u.Name, Role: u.Role, KeyID: b.who.KeyID, KeyLabel: b.who.KeyLabel}
	}
	if b.emails == nil {
		b.emails = map[string]allot.Principal{}
	}
	b.emails[email] = p
	return p
}

// eventTime turns OTLP nanoseconds into an event time: now when unset, and
// never in the future (a skewed client clock must not move usage into a
// budget period that has not begun).
func (b *batch) eventTime(nanos uint64) time.Time {
	if nanos == 0 || nanos > 1<<62 {
		return b.now.UTC()
	}
	t := time.Unix(0, int64(nanos)).UTC()
	if t.After(b.now) {
		return b.now.UTC()
	}
	return t
}

// sessionOf is the session a record belongs to, for the preference of
// per-request events over metrics; generic applications without a session
// are told apart by service.
func sessionOf(fam *family, a attrs) string {
	if s := a.first("session.id", "conversation.id", "gen_ai.conversation.id"); s != "" {
		return s
	}
	if fam == genAI {
		return "service:" + a.str("service.name") + "/" + a.str("service.instance.id")
	}
	return ""
}

// event builds the parts of an event that every source shares.
func (b *batch) event(fam *family, a attrs, at time.Time, key string, t allot.Tokens) allot.Event {
	who := b.principal(a)
	model := a.first("model", "gen_ai.response.model", "gen_ai.request.model")
	if model == "" {
		model = "unknown"
	}
	requested := a.first("gen_ai.request.model")
	if requested == "" {
		requested = model
	}
	provider, app := fam.provider, fam.app
	if fam == genAI {
		provider = genAIProvider(a.first("gen_ai.provider.name", "gen_ai.system"))
		if app = a.str("service.name"); app == "" {
			app = "unknown"
		}
	}
	task := a.first("allot.task", "task")
	if task == "" {
		task = allot.UntaggedTask
	}
	return allot.Event{
		ID: ingest.ID(who.User, key), Time: at, Principal: who,
		Provider: provider, RequestedModel: requested, ServedModel: model, Route: fam.route,
		Task: task, Session: a.first("session.id", "conversation.id", "gen_ai.conversation.id"), App: app,
		Source: allot.SourceOTLP, Status: 200, Tokens: t,
	}
}

// finish turns the metric groups into events, after the whole request
// was read (a group's points may be spread over it).
func (b *batch) finish() {
	for _, g := range b.groups {
		if g.tokens.IsZero() {
			continue
		}
		e := b.event(g.fam, g.a, b.eventTime(g.end), g.key, settle(g.tokens))
		if c, ok := b.costs[g.costKey]; ok && b.costGroups[g.costKey] == 1 {
			e.Cost, e.CostKnown = c, true
		}
		if err := ingest.CheckCall(e); err != nil {
			for range g.points {
				b.reject("%s: %v", g.fam.name, err)
			}
			continue
		}
		b.st.pref.offer(b.r, e, sessionKey(e.User, g.fam, sessionOf(g.fam, g.a)), g.points)
	}
	if b.rejected > 1 {
		b.reason = fmt.Sprintf("%s (and %d more rejected)", b.reason, b.rejected-1)
	}
}
