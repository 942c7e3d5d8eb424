package gateway

import (
	"context"
	"net/http"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
)

// Admitter decides whether a call may go ahead and reserves its worst case:
// *budget.Rationer, or a wrapper that swaps rationers when the policy changes.
type Admitter interface {
	Admit(ctx context.Context, c budget.Call) (*budget.Admission, error)
}

// RationObserver hears what rationing decided, to store and deliver alerts;
// its methods must not block (the call waits for them).
type RationObserver interface {
	// Alerts receives budget thresholds crossed by a call's admission or settlement.
	Alerts(p allot.Principal, alerts []budget.Alert)
	// Refused receives a call refused for a budget, a rate limit or model access.
	Refused(p allot.Principal, call budget.Call, err *allot.Error)
	// Downgraded receives a call whose model a downgrade budget rewrote.
	Downgraded(p allot.Principal, call budget.Call, adm *budget.Admission)
}

// maxOutputFor returns the output limit to reserve for model.
func (g *Gateway) maxOutputFor(model string) int64 {
	if g.opts.MaxOutput == nil {
		return allot.MaxCallTokens
	}
	return min(max(g.opts.MaxOutput(model), 0), allot.MaxCallTokens)
}

// worstCase bounds a call's usage before it is sent: every byte of the
// body counted as an input token (a token is at least one byte of text),
// priced as the dearest input kind the provider bills (Anthropic's 1-hour
// cache write), plus the requested output limit or the model's maximum.
func (g *Gateway) worstCase(c *call, model string) allot.Tokens {
	// No call bills more than MaxCallTokens of one kind, however big its
	// body; the output limit was bounded when the request was parsed, and
	// a configured maximum past the bound is capped, so the Rationer can
	// always price the worst case (it refuses one it cannot).
	in := min(int64(len(c.body)), allot.MaxCallTokens)
	t := allot.Tokens{Input: in}
	if c.up.Protocol.Name() == "anthropic" {
		t.CacheWrite1h = in
	}
	if c.route == allot.RouteEmbeddings {
		return t
	}
	if c.info.MaxTokens > 0 {
		t.Output = c.info.MaxTokens
	} else {
		t.Output = g.maxOutputFor(model)
	}
	t.Output = min(max(t.Output, 0), allot.MaxCallTokens)
	return t
}

// admission is what rationing decided for a call it let through: the
// upstream and model to serve it with (a downgrade changes both), and the
// budget reservation to settle when the call ends (nil without rationing).
type admission struct {
	up     *Upstream
	served string
	res    *budget.Admission
}

// admit runs a metered call past rationing: model access, rate limits and
// every budget's reservation of the call's worst case. A refusal is an
// error to answer the client with; it has told the observer and metrics.
// Without a Rationer every call is admitted as asked.
func (g *Gateway) admit(ctx context.Context, c *call) (admission, error) {
	if g.opts.Rationer == nil {
		return admission{up: c.up, served: c.info.Model}, nil
	}
	bc := budget.Call{
		Principal: c.event.Principal,
		Task:      c.event.Task,
		Provider:  c.up.Name,
		Model:     c.info.Model,
		Time:      c.start,
		WorstCase: g.worstCase(c, c.info.Model),
	}
	res, err := g.opts.Rationer.Admit(ctx, bc)
	if err != nil {
		e := allot.ErrorOf(err)
		if o := g.opts.RationObserver; o != nil && e.Code != allot.EUnavailable {
			o.Refused(c.event.Principal, bc, e)
		}
		if m := g.opts.Metrics; m != nil {
			m.refused.WithLabelValues(string(e.Code)).Inc()
		}
		return admission{}, e
	}
	adm := admission{up: c.up, served: c.info.Model, res: res}
	if res.Downgraded != "" {
		up, err := g.upstreamFor(c.route, res.ServedModel)
		if err != nil || up.Protocol.Name() != c.up.Protocol.Name() {
			_ = res.Release()
			return admission{}, allot.Errorf(allot.EInternal, "budget downgrade of %s: no provider speaking %s serves %q; an admin must fix the downgrade map", res.Downgraded, c.up.Protocol.Name(), res.ServedModel)
		}
		adm.up, adm.served = up, res.ServedModel
		if o := g.opts.RationObserver; o != nil {
			o.Downgraded(c.event.Principal, bc, res)
		}
	}
	if o := g.opts.RationObserver; o != nil && len(res.Alerts) > 0 {
		o.Alerts(c.event.Principal, res.Alerts)
	}
	return adm, nil
}

// admitted applies an admission to the call and tells the client what it
// changed: a downgrade, and the tightest budget's room.
func (c *call) admitted(w http.ResponseWriter, adm admission) {
	c.up, c.served, c.res = adm.up, adm.served, adm.res
	c.event.Provider = adm.up.Name
	if adm.res != nil && adm.res.Downgraded != "" {
		w.Header().Set("X-Allot-Downgraded", adm.res.Downgraded)
	}
	if adm.res != nil && adm.res.HasUSDBudget {
		w.Header().Set("X-Allot-Budget-Remaining-Usd", adm.res.RemainingUSD.String())
	}
	c.advance(callAdmitted)
}

// endAdmission settles the call's reservation with what it really used,
// or releases it when the provider never received the call.
func (g *Gateway) endAdmission(c *call) {
	defer c.advance(callSettled)
	if c.res == nil {
		return
	}
	ev := &c.event
	if c.reached < callSent {
		if err := c.res.Release(); err != nil {
			g.opts.Logger.Error("release budget reservation", "request_id", ev.ID, "err", err)
		}
		return
	}
	alerts, err := c.res.Settle(ev.Cost, ev.Tokens)
	if err != nil {
		g.opts.Logger.Error("settle budget reservation", "request_id", ev.ID, "err", err)
		return
	}
	if o := g.opts.RationObserver; o != nil && len(alerts) > 0 {
		o.Alerts(ev.Principal, alerts)
	}
}
