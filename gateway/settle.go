package gateway

import (
	"net/http"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
)

// finish settles and records a metered call, once: just before a whole
// answer's tail goes out, or, deferred right after admission, wherever
// else the call ended (refused upstream, cut short, timed out), so every
// admitted call gets exactly one event.
func (g *Gateway) finish(c *call) {
	if !c.metered || c.state >= callSettled {
		return
	}
	g.record(c, g.settle(c))
}

// settle prices the call if that is not done yet, measures its timing and
// settles its budget reservation (or releases it, when the provider never
// got the call); it returns the call's event, ready to record.
func (g *Gateway) settle(c *call) allot.Event {
	g.price(c)
	ev := &c.event
	ev.Status = c.status
	ev.Latency = g.opts.Now().Sub(c.start)
	if !c.firstAt.IsZero() {
		ev.TTFT = c.firstAt.Sub(c.start)
	}
	g.endAdmission(c)
	return *ev
}

// record hands the call's one event to the Recorder.
func (g *Gateway) record(c *call, ev allot.Event) {
	g.opts.Recorder.Record(ev)
	c.advance(callRecorded)
	if m := g.opts.Metrics; m != nil {
		m.observe(&ev)
	}
}

// price computes the call's tokens, served model and cost, once: what
// the provider reported, estimated where it may bill without reporting,
// and bounded to what one call can bill. It returns the cost.
func (g *Gateway) price(c *call) allot.Money {
	if !c.metered || c.state >= callPriced {
		return c.event.Cost
	}
	c.reached = c.state
	c.advance(callPriced)
	ev := &c.event
	ev.ServedModel = c.served
	var t allot.Tokens
	haveIn, haveOut := false, false
	if c.tap != nil {
		t, haveIn, haveOut = c.tap.Usage()
		if m := c.tap.Model(); m != "" {
			ev.ServedModel = allot.CapLabel(m) // the provider's answer may be any length
		}
	}
	// Estimate what the provider did not report, when it may bill for it:
	// a successful answer cut short, or a call abandoned or timed out after
	// the prompt was sent.
	if c.mayBill() {
		if !haveIn {
			t.Input = g.opts.Estimator.CountTokens(c.up.Protocol.InputText(c.route, c.body))
			ev.Estimated = true
		}
		if !haveOut && c.tap != nil && c.route != allot.RouteEmbeddings {
			t.Output = g.opts.Estimator.CountTokens(c.tap.OutputText())
			ev.Estimated = true
		}
	}
	// A provider's usage is recorded even when absurd (the call happened),
	// but bounded to what one call can bill, so no count or cost can
	// overflow budgets or reports; the event is flagged as estimated, since
	// its numbers are no longer the provider's own.
	t, clamped := t.ClampCall()
	ev.Tokens = t
	ev.Cost, ev.CostKnown = g.opts.Pricer.Cost(c.up.Name, ev.ServedModel, c.start, t)
	cost, costClamped := allot.ClampCallCost(ev.Cost)
	ev.Cost = cost
	if clamped || costClamped {
		ev.Estimated = true
		g.opts.Logger.Warn("provider usage past one call's bounds; recorded clamped and flagged estimated",
			"request_id", ev.ID, "provider", c.up.Name, "model", ev.ServedModel, "max_tokens_per_kind", allot.MaxCallTokens, "max_cost_usd", allot.MaxCallCost.String())
	}
	return ev.Cost
}

// costHeaders tells the client what a metered call cost and the tightest
// budget's room after it: headers on a body, trailers on a stream (its
// headers went out long ago).
func costHeaders(w http.ResponseWriter, c *call, cost allot.Money) {
	if !c.metered {
		return
	}
	w.Header().Set("X-Allot-Cost-Usd", cost.String())
	if c.res != nil && c.res.HasUSDBudget {
		w.Header().Set("X-Allot-Budget-Remaining-Usd", remainingAfter(c.res, cost).String())
	}
}

// remainingAfter is the tightest budget's room once this call's cost is spent.
func remainingAfter(res *budget.Admission, cost allot.Money) allot.Money {
	return max(res.RemainingUSD-cost, 0)
}
