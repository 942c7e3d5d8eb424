package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/provider"
	"github.com/allot-dev/allot/provider/sse"
)

// maxResponseBytes bounds a non-streamed response body held in memory.
const maxResponseBytes = 256 << 20

// call is the state of one proxied call, from request to usage event.
type call struct {
	route    allot.Route
	start    time.Time
	body     []byte
	info     allot.RequestInfo
	up       *Upstream
	served   string
	tap      provider.Tap
	event    allot.Event
	firstAt  time.Time         // first response body byte sent to the client
	status   int               // as the client saw it
	upStatus int               // as the provider answered
	gotResp  bool              // the upstream answered with headers
	adm      *budget.Admission // the call's budget reservation, nil without rationing
	complete bool              // the whole response reached the client
	billable bool              // the call is metered: it gets one event
	settled  bool              // the call's event is recorded
}

// maxHeld bounds the events a stream holds back after its usage arrived
// (see relayStream): providers send one or two; a provider that reports
// usage on every chunk is then relayed without holding.
const maxHeld = 8

func (g *Gateway) proxy(route allot.Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, route)
	})
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, route allot.Route) {
	c := &call{route: route, start: g.opts.Now()}
	id := g.ids.next()
	w.Header().Set("X-Allot-Request-Id", id)
	if m := g.opts.Metrics; m != nil {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
	}

	principal, err := g.Authenticate(r)
	if err != nil {
		g.fail(w, route, err)
		return
	}
	if route != allot.RouteModels {
		if c.body, err = readBody(w, r, g.opts.MaxBodyBytes); err != nil {
			g.fail(w, route, err)
			return
		}
	}
	proto := g.protocolFor(route)
	if route != allot.RouteModels {
		if c.info, err = protocols[proto].ParseRequest(route, c.body); err != nil {
			g.fail(w, route, err)
			return
		}
	}
	if c.up, err = g.upstreamFor(route, c.info.Model); err != nil {
		g.fail(w, route, err)
		return
	}
	c.served = c.info.Model
	c.event = allot.Event{
		ID:             id,
		Time:           c.start,
		Principal:      principal,
		Provider:       c.up.Name,
		RequestedModel: c.info.Model,
		Route:          route,
		Task:           taskOf(r.Header, c.info.Task),
		Session:        r.Header.Get("X-Allot-Session"),
		App:            appOf(r.Header),
		Source:         allot.SourceGateway,
		Stream:         c.info.Stream,
		RequestBytes:   int64(len(c.body)),
		MaxTokens:      c.info.MaxTokens,
		Messages:       c.info.Messages,
		SystemFP:       c.info.SystemFP,
		RequestFP:      c.info.RequestFP,
	}
	c.event.CapLabels() // headers and the body's model may be any length
	if c.event.Task == allot.UntaggedTask && g.opts.Tasks != nil {
		// Before rationing, so task budgets see the named task.
		if name, ok := g.opts.Tasks().Match(c.event.App, c.body, c.info.SystemFP); ok {
			c.event.Task = name
		}
	}
	c.billable = route != allot.RouteModels && route != allot.RouteCountTokens
	if c.billable && g.opts.Rationer != nil && !g.admit(w, r, c) {
		return
	}
	defer g.settle(c)
	g.forward(w, r, c)
}

// forward sends the call upstream and relays the answer.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, c *call) {
	ctx, cancel := context.WithTimeout(r.Context(), g.opts.UpstreamTimeout)
	defer cancel()

	out := c.body
	if c.route != allot.RouteModels {
		var err error
		if out, err = c.up.Protocol.RewriteRequest(c.route, c.body, c.info, c.served); err != nil {
			g.fail(w, c.route, err)
			c.status = provider.Status(err)
			return
		}
	}
	req, err := g.upstreamRequest(ctx, r, c, out)
	if err != nil {
		g.fail(w, c.route, err)
		c.status = http.StatusInternalServerError
		return
	}
	if c.billable && g.intents != nil {
		g.intend(c)
	}
	sent := g.opts.Now()
	resp, err := g.transport.RoundTrip(req)
	if m := g.opts.Metrics; m != nil {
		m.upstreamLatency.WithLabelValues(c.up.Name).Observe(time.Since(sent).Seconds())
	}
	if err != nil {
		g.upstreamFailed(w, r, c, ctx, err)
		return
	}
	defer resp.Body.Close()
	c.gotResp = true
	c.status, c.upStatus = resp.StatusCode, resp.StatusCode
	c.tap = c.up.Protocol.NewTap(c.route, c.info)

	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// The provider refused allot's own key: the caller's key was fine, and
		// the provider's message may quote the provider key, so say it plainly.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		c.status = http.StatusBadGateway
		g.fail(w, c.route, allot.Errorf(allot.EUpstream, "provider %q refused allot's provider key (HTTP %d); an admin must fix the api key of provider %q in allot's configuration", c.up.Name, resp.StatusCode, c.up.Name))
		c.complete = true
		return
	}
	copyHeaders(w.Header(), resp.Header)
	if isEventStream(resp.Header) {
		g.relayStream(w, r, c, resp, cancel)
		return
	}
	g.relayBody(w, r, c, resp)
}

// upstreamRequest builds the provider request: same path suffix and query,
// the client's provider headers, the provider's key instead of allot's.
func (g *Gateway) upstreamRequest(ctx context.Context, r *http.Request, c *call, body []byte) (*http.Request, error) {
	u := *c.up.BaseURL
	u.Path = strings.TrimRight(u.Path, "/") + c.up.Protocol.UpstreamPath(c.route)
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	var rd io.Reader
	if r.Method != http.MethodGet {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), rd)
	if err != nil {
		return nil, &allot.Error{Code: allot.EInternal, Message: "could not build the upstream request", Err: err}
	}
	copyRequestHeaders(req.Header, r.Header)
	c.up.Protocol.Authorize(req.Header, c.up.APIKey)
	if rd != nil {
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// upstreamFailed handles a call whose provider never answered with headers.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, c *call, ctx context.Context, err error) {
	switch {
	case r.Context().Err() != nil:
		c.status = allot.StatusClientGone // nobody to answer
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		c.status = http.StatusGatewayTimeout
		g.fail(w, c.route, allot.Errorf(allot.ETimeout, "provider %q did not answer within %s; retry, or ask an admin to raise upstream_timeout", c.up.Name, g.opts.UpstreamTimeout))
	default:
		c.status = http.StatusBadGateway
		g.opts.Logger.Warn("upstream unreachable", "provider", c.up.Name, "err", err)
		g.fail(w, c.route, allot.Errorf(allot.EUpstream, "provider %q could not be reached (%s); retry shortly, and tell an admin if it persists", c.up.Name, shortNetErr(err)))
	}
}

// relayStream forwards each server-sent event as it arrives and taps it.
func (g *Gateway) relayStream(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response, cancel context.CancelFunc) {
	h := w.Header()
	h.Del("Content-Length")
	if c.adm != nil && c.adm.HasUSDBudget {
		h.Set("Trailer", "X-Allot-Cost-Usd, X-Allot-Budget-Remaining-Usd")
	} else {
		h.Set("Trailer", "X-Allot-Cost-Usd")
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	rd := sse.NewReader(resp.Body)
	// Once the provider's usage is complete, the events after it (the
	// stream's end: [DONE], message_stop, response.completed) are held
	// until the stream ends and the call's event is recorded, so a client
	// that saw the whole answer is always in the ledger, even if allot is
	// killed right after.
	var held [][]byte
	for {
		ev, err := rd.Next()
		if resp.StatusCode >= 300 && len(ev.Raw) > 0 {
			ev.Raw = scrubSecrets(ev.Raw, c.up.APIKey) // an error streamed may quote the key too
		}
		if len(ev.Raw) > 0 {
			if c.tap.Event(ev.Name, ev.Data) {
				if c.firstAt.IsZero() {
					c.firstAt = g.opts.Now()
				}
				if held != nil || usageComplete(c.tap) {
					if len(held) < maxHeld {
						held = append(held, bytes.Clone(ev.Raw))
						continue
					}
					if !g.writeHeld(w, rc, c, held, cancel) {
						return
					}
					held = held[:0]
				}
				if _, werr := w.Write(ev.Raw); werr != nil {
					cancel() // stop paying for tokens nobody reads
					c.status = allot.StatusClientGone
					return
				}
				// Flush unless another complete event is already here:
				// events that arrived together leave together, none waits.
				if !rd.Pending() {
					if ferr := rc.Flush(); ferr != nil {
						cancel()
						c.status = allot.StatusClientGone
						return
					}
				}
			}
		}
		if err == io.EOF {
			c.complete = true
			g.price(c)
			w.Header().Set("X-Allot-Cost-Usd", c.event.Cost.String())
			if c.adm != nil && c.adm.HasUSDBudget {
				w.Header().Set("X-Allot-Budget-Remaining-Usd", remainingAfter(c.adm, c.event.Cost).String())
			}
			g.settle(c)
			g.writeHeld(w, rc, c, held, cancel)
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				c.status = allot.StatusClientGone
			} else {
				g.opts.Logger.Warn("upstream stream broke", "provider", c.up.Name, "err", err)
				g.writeHeld(w, rc, c, held, cancel)
			}
			return
		}
	}
}

// usageComplete reports whether the provider's input and output counts
// have both arrived.
func usageComplete(t provider.Tap) bool {
	_, in, out := t.Usage()
	return in && out
}

// writeHeld sends held events and flushes; it reports false, with the
// call marked client-gone and the upstream cancelled, when the client left.
func (g *Gateway) writeHeld(w http.ResponseWriter, rc *http.ResponseController, c *call, held [][]byte, cancel context.CancelFunc) bool {
	if len(held) == 0 {
		return true
	}
	for _, raw := range held {
		if _, err := w.Write(raw); err != nil {
			cancel()
			if !c.settled {
				c.status = allot.StatusClientGone
			}
			return false
		}
	}
	if err := rc.Flush(); err != nil {
		cancel()
		if !c.settled {
			c.status = allot.StatusClientGone
		}
		return false
	}
	return true
}

// relayBody forwards a whole (non-streamed) response after tapping it, so
// the cost can go in a header.
func (g *Gateway) relayBody(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response) {
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufferPool.Put(buf)
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
	c.firstAt = g.opts.Now()
	if err != nil {
		if r.Context().Err() != nil {
			c.status = allot.StatusClientGone
			return
		}
		c.status = http.StatusBadGateway
		g.fail(w, c.route, allot.Errorf(allot.EUpstream, "provider %q broke off its answer (%s); retry", c.up.Name, shortNetErr(err)))
		return
	}
	body := buf.Bytes()
	if resp.StatusCode < 300 {
		c.tap.Body(body)
	} else {
		body = scrubSecrets(body, c.up.APIKey)
	}
	g.price(c)
	if c.route != allot.RouteModels && c.route != allot.RouteCountTokens {
		w.Header().Set("X-Allot-Cost-Usd", c.event.Cost.String())
		if c.adm != nil && c.adm.HasUSDBudget {
			w.Header().Set("X-Allot-Budget-Remaining-Usd", remainingAfter(c.adm, c.event.Cost).String())
		}
	}
	w.Header().Set("Content-Length", itoa(len(body)))
	// Recorded before the client gets the answer, so a client that got it
	// is always in the ledger, even if allot is killed right after.
	c.complete = true
	g.settle(c)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// settle fills in usage, price and timing and records the call's one
// event; it runs once, where the call ends or just before its answer's
// last bytes go out, and later calls do nothing.
func (g *Gateway) settle(c *call) {
	if c.settled || !c.billable {
		return
	}
	c.settled = true
	g.price(c)
	ev := &c.event
	ev.Status = c.status
	end := g.opts.Now()
	ev.Latency = end.Sub(c.start)
	if !c.firstAt.IsZero() {
		ev.TTFT = c.firstAt.Sub(c.start)
	}
	g.endAdmission(c)
	g.opts.Recorder.Record(*ev)
	if m := g.opts.Metrics; m != nil {
		m.observe(ev)
	}
}

// price computes the call's tokens and cost once; later calls are no-ops.
func (g *Gateway) price(c *call) {
	ev := &c.event
	if ev.ServedModel != "" {
		return
	}
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
	mayBill := (c.gotResp && c.upStatus < 300) ||
		(!c.gotResp && (c.status == allot.StatusClientGone || c.status == http.StatusGatewayTimeout))
	if mayBill && c.route != allot.RouteModels && c.route != allot.RouteCountTokens {
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
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// shortNetErr describes a transport error without URLs or internals.
func shortNetErr(err error) string {
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return "connection refused or host unreachable"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed early"
	case isTimeout(err):
		return "timed out"
	}
	return "network error"
}
