package gateway

import (
	"net/http"
	"strconv"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// fail writes err in the route's protocol shape.
func (g *Gateway) fail(w http.ResponseWriter, route allot.Route, err error) {
	e := allot.ErrorOf(err)
	if e.Code == allot.EInternal {
		g.opts.Logger.Error("internal error", "route", route, "err", err)
	}
	g.writeError(w, route, e)
}

// writeError renders e as the route's clients expect (design invariant 6).
func (g *Gateway) writeError(w http.ResponseWriter, route allot.Route, e *allot.Error) {
	WriteError(w, g.clientProtocol(route), e)
}

// WriteError writes e with its HTTP status in proto's error JSON.
func WriteError(w http.ResponseWriter, proto provider.Protocol, e *allot.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(provider.Info(e.Code).Status)
	_, _ = w.Write(proto.ErrorBody(e))
}
