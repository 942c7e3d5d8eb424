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
	"github.com/allot-dev/allot/provider"
)

// proxy is the handler of one provider route.
func (g *Gateway) proxy(route allot.Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, route)
	})
}

// serve is one call's lifecycle, top to bottom: authenticate, parse,
// admit, journal the intent, forward, relay, price, settle and record,
// then deliver the answer's held tail. Each phase returns what the next
// needs; the call's state (callState) says how far it got, so the
// deferred finish records exactly one event for every admitted call,
// however it ended (docs/design.md "A call's lifecycle").
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, route allot.Route) {
	start := g.opts.Now()
	id := g.ids.next()
	w.Header().Set("X-Allot-Request-Id", id)
	if m := g.opts.Metrics; m != nil {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
	}

	principal, err := g.Authenticate(r) // before the body is read
	if err != nil {
		g.fail(w, route, err)
		return
	}
	cv, err := g.parse(w, r, route, principal)
	if err != nil {
		g.fail(w, route, err)
		return
	}
	c := &cv // stays on the stack: no phase keeps it
	c.start, c.event.ID, c.event.Time = start, id, start
	if c.metered {
		adm, err := g.admit(r.Context(), c)
		if err != nil {
			w.Header().Set("X-Allot-Cost-Usd", "0")
			g.fail(w, route, err)
			return
		}
		c.admitted(w, adm)
		defer g.finish(c) // one event, however the call ends
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.opts.UpstreamTimeout)
	defer cancel()
	req, err := g.outbound(ctx, r, c)
	if err != nil {
		c.status = provider.Status(err)
		g.fail(w, route, err)
		return
	}
	g.intend(c)
	resp, err := g.forward(r, c, req)
	if err != nil {
		g.fail(w, route, err) // a client that left reads nothing
		return
	}
	defer resp.Body.Close()

	rel := g.relay(w, r, c, resp, cancel)
	defer rel.free()
	if !rel.whole {
		return // cut short: the deferred finish records what was used
	}
	costHeaders(w, c, g.price(c))
	g.finish(c) // before the answer's last bytes: a client that got it all is in the ledger
	g.deliver(w, c, rel, cancel)
}

// parse reads what the call needs from the request: its body, the fields
// the client's wire format carries, the upstream that serves its model,
// and the event it will be recorded as (labels capped, task named).
func (g *Gateway) parse(w http.ResponseWriter, r *http.Request, route allot.Route, principal allot.Principal) (call, error) {
	c := call{state: callParsed, route: route, metered: meteredRoute(route)}
	if route != allot.RouteModels {
		var err error
		if c.body, err = readBody(w, r, g.opts.MaxBodyBytes); err != nil {
			return call{}, err
		}
		if c.info, err = g.clientProtocol(route).ParseRequest(route, c.body); err != nil {
			return call{}, err
		}
	}
	up, err := g.upstreamFor(route, c.info.Model)
	if err != nil {
		return call{}, err
	}
	c.up, c.served = up, c.info.Model
	c.event = allot.Event{
		Principal:      principal,
		Provider:       up.Name,
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
	return c, nil
}

// outbound builds the provider's request: the body rewritten for the
// served model (and usage in streams), the same path suffix and query,
// the client's provider headers, the provider's key instead of allot's.
func (g *Gateway) outbound(ctx context.Context, r *http.Request, c *call) (*http.Request, error) {
	body := c.body
	if c.route != allot.RouteModels {
		var err error
		if body, err = c.up.Protocol.RewriteRequest(c.route, c.body, c.info, c.served); err != nil {
			return nil, err
		}
	}
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

// forward sends the call to the provider and returns its answer, headers
// read and body unread. An error is the client's answer: the provider
// could not be reached, did not answer in time, or refused allot's own
// key; the call's state then says whether the provider may bill it.
func (g *Gateway) forward(r *http.Request, c *call, req *http.Request) (*http.Response, error) {
	sent := g.opts.Now()
	resp, err := g.transport.RoundTrip(req)
	if m := g.opts.Metrics; m != nil {
		m.upstreamLatency.WithLabelValues(c.up.Name).Observe(time.Since(sent).Seconds())
	}
	if err != nil {
		return nil, g.unanswered(r, c, req.Context(), err)
	}
	c.advance(callForwarded)
	c.status, c.upStatus = resp.StatusCode, resp.StatusCode
	c.tap = c.up.Protocol.NewTap(c.route, c.info)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// The provider refused allot's own key: the caller's key was fine, and
		// the provider's message may quote the provider key, so say it plainly.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		c.status = http.StatusBadGateway
		return nil, allot.Errorf(allot.EUpstream, "provider %q refused allot's provider key (HTTP %d); an admin must fix the api key of provider %q in allot's configuration", c.up.Name, resp.StatusCode, c.up.Name)
	}
	return resp, nil
}

// unanswered is the error of a call whose provider never answered with
// headers. A call the client left or that timed out was sent and may be
// billed (callSent); one that never reached the provider was not.
func (g *Gateway) unanswered(r *http.Request, c *call, ctx context.Context, err error) error {
	switch {
	case r.Context().Err() != nil:
		c.advance(callSent)
		c.status = allot.StatusClientGone // nobody to answer
		return allot.Errorf(allot.ETimeout, "the call was cancelled before provider %q answered", c.up.Name)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		c.advance(callSent)
		c.status = http.StatusGatewayTimeout
		return allot.Errorf(allot.ETimeout, "provider %q did not answer within %s; retry, or ask an admin to raise upstream_timeout", c.up.Name, g.opts.UpstreamTimeout)
	default:
		c.status = http.StatusBadGateway
		g.opts.Logger.Warn("upstream unreachable", "provider", c.up.Name, "err", err)
		return allot.Errorf(allot.EUpstream, "provider %q could not be reached (%s); retry shortly, and tell an admin if it persists", c.up.Name, shortNetErr(err))
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
