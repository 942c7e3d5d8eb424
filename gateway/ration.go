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

// admit runs the call past rationing. It reports false after answering
// the client with the refusal; on success the call may have a new served
// model and upstream (downgrade).
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, c *call) bool {
	bc := budget.Call{
		Principal: c.event.Principal,
		Task:      c.event.Task,
		Provider:  c.up.Name,
		Model:     c.info.Model,
		Time:      c.start,
		WorstCase: g.worstCase(c, c.info.Model),
	}
	adm, err := g.opts.Rationer.Admit(r.Context(), bc)
	if err != nil {
		e := allot.ErrorOf(err)
		if o := g.opts.RationObserver; o != nil && e.Code != allot.EUnavailable {
			o.Refused(c.event.Principal, bc, e)
		}
		if m := g.opts.Metrics; m != nil {
			m.refused.WithLabelValues(string(e.Code)).Inc()
		}
		w.Header().Set("X-Allot-Cost-Usd", "0")
		g.fail(w, c.route, e)
		return false
	}
	c.adm = adm
	if adm.Downgraded != "" {
		up, err := g.upstreamFor(c.route, adm.ServedModel)
		if err != nil || up.Protocol.Name() != c.up.Protocol.Name() {
			_ = adm.Release()
			c.adm = nil
			g.fail(w, c.route, allot.Errorf(allot.EInternal, "budget downgrade of %s: no provider speaking %s serves %q; an admin must fix the downgrade map", adm.Downgraded, c.up.Protocol.Name(), adm.ServedModel))
			return false
		}
		c.up = up
		c.served = adm.ServedModel
		c.event.Provider = up.Name
		w.Header().Set("X-Allot-Downgraded", adm.Downgraded)
		if o := g.opts.RationObserver; o != nil {
			o.Downgraded(c.event.Principal, bc, adm)
		}
	}
	if adm.HasUSDBudget {
		w.Header().Set("X-Allot-Budget-Remaining-Usd", adm.RemainingUSD.String())
	}
	if o := g.opts.RationObserver; o != nil && len(adm.Alerts) > 0 {
		o.Alerts(c.event.Principal, adm.Alerts)
	}
	return true
}

// remainingAfter is the tightest budget's room once this call's cost is spent.
func remainingAfter(adm *budget.Admission, cost allot.Money) allot.Money {
	return max(adm.RemainingUSD-cost, 0)
}

// endAdmission settles the call's reservation with what it really used, or
// releases it when the provider never received the call.
func (g *Gateway) endAdmission(c *call) {
	adm := c.adm
	if adm == nil {
		return
	}
	ev := &c.event
	if !c.gotResp && ev.Tokens == (allot.Tokens{}) {
		if err := adm.Release(); err != nil {
			g.opts.Logger.Error("release budget reservation", "request_id", ev.ID, "err", err)
		}
		return
	}
	alerts, err := adm.Settle(ev.Cost, ev.Tokens)
	if err != nil {
		g.opts.Logger.Error("settle budget reservation", "request_id", ev.ID, "err", err)
		return
	}
	if o := g.opts.RationObserver; o != nil && len(alerts) > 0 {
		o.Alerts(ev.Principal, alerts)
	}
}
