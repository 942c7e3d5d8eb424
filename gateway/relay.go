package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
	"github.com/allot-dev/allot/provider/sse"
)

// maxResponseBytes bounds a non-streamed response body held in memory.
const maxResponseBytes = 256 << 20

// maxHeld bounds the events a stream holds back after its usage arrived
// (see relayStream): providers send one or two; a provider that reports
// usage on every chunk is then relayed without holding.
const maxHeld = 8

// relayed is what relaying an answer yields: when its first byte went
// out, the status the client saw, whether it arrived whole, and, for a
// whole answer, its tail still to deliver once the call's event is
// recorded (the usage itself is in the call's tap).
type relayed struct {
	firstAt time.Time
	status  int
	whole   bool
	stream  bool
	held    [][]byte      // stream: the events after its usage
	body    []byte        // otherwise: the whole body
	buf     *bytes.Buffer // pooled buffer behind body
}

// free returns the relay's pooled buffer.
func (rel *relayed) free() {
	if rel.buf != nil {
		bufferPool.Put(rel.buf)
		rel.buf = nil
	}
}

// relay passes the provider's answer to the client, tapping its usage on
// the way: a stream event by event as it arrives (never buffered), a
// body whole so its cost can go in a header.
func (g *Gateway) relay(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response, cancel context.CancelFunc) relayed {
	copyHeaders(w.Header(), resp.Header)
	var rel relayed
	if isEventStream(resp.Header) {
		rel = g.relayStream(w, r, c, resp, cancel)
	} else {
		rel = g.relayBody(w, r, c, resp)
	}
	c.firstAt, c.status = rel.firstAt, rel.status
	c.advance(callRelayed)
	return rel
}

// relayStream forwards each server-sent event as it arrives and taps it.
// Once the provider's usage is complete, the events after it (the
// stream's end: [DONE], message_stop, response.completed) are held in
// the result, to be delivered once the call's event is recorded, so a
// client that saw the whole answer is always in the ledger, even if
// allot is killed right after.
func (g *Gateway) relayStream(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response, cancel context.CancelFunc) relayed {
	rel := relayed{status: resp.StatusCode, stream: true}
	h := w.Header()
	h.Del("Content-Length")
	if c.res != nil && c.res.HasUSDBudget {
		h.Set("Trailer", "X-Allot-Cost-Usd, X-Allot-Budget-Remaining-Usd")
	} else {
		h.Set("Trailer", "X-Allot-Cost-Usd")
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	rd := sse.NewReader(resp.Body)
	for {
		ev, err := rd.Next()
		if resp.StatusCode >= 300 && len(ev.Raw) > 0 {
			ev.Raw = scrubSecrets(ev.Raw, c.up.APIKey) // an error streamed may quote the key too
		}
		if len(ev.Raw) > 0 && c.tap.Event(ev.Name, ev.Data) {
			if rel.firstAt.IsZero() {
				rel.firstAt = g.opts.Now()
			}
			if rel.held != nil || usageComplete(c.tap) {
				if len(rel.held) < maxHeld {
					rel.held = append(rel.held, bytes.Clone(ev.Raw))
					continue
				}
				if !writeHeld(w, rc, rel.held, cancel) {
					rel.status = allot.StatusClientGone
					return rel
				}
				rel.held = rel.held[:0]
			}
			if _, werr := w.Write(ev.Raw); werr != nil {
				cancel() // stop paying for tokens nobody reads
				rel.status = allot.StatusClientGone
				return rel
			}
			// Flush unless another complete event is already here:
			// events that arrived together leave together, none waits.
			if !rd.Pending() {
				if ferr := rc.Flush(); ferr != nil {
					cancel()
					rel.status = allot.StatusClientGone
					return rel
				}
			}
		}
		switch {
		case err == io.EOF:
			rel.whole = true
			return rel
		case err != nil && r.Context().Err() != nil:
			rel.status = allot.StatusClientGone
			return rel
		case err != nil:
			// Not the end of a whole answer: nothing to hold back.
			g.opts.Logger.Warn("upstream stream broke", "provider", c.up.Name, "err", err)
			if !writeHeld(w, rc, rel.held, cancel) {
				rel.status = allot.StatusClientGone
			}
			rel.held = nil
			return rel
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
// upstream cancelled, when the client left.
func writeHeld(w http.ResponseWriter, rc *http.ResponseController, held [][]byte, cancel context.CancelFunc) bool {
	if len(held) == 0 {
		return true
	}
	for _, raw := range held {
		if _, err := w.Write(raw); err != nil {
			cancel()
			return false
		}
	}
	if err := rc.Flush(); err != nil {
		cancel()
		return false
	}
	return true
}

// relayBody reads a whole (non-streamed) response and taps it; nothing
// is written yet, so the cost can go in a header. A provider's error
// body is scrubbed of keys.
func (g *Gateway) relayBody(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response) relayed {
	rel := relayed{status: resp.StatusCode, buf: bufferPool.Get().(*bytes.Buffer)}
	rel.buf.Reset()
	_, err := rel.buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
	rel.firstAt = g.opts.Now()
	if err != nil {
		if r.Context().Err() != nil {
			rel.status = allot.StatusClientGone
			return rel
		}
		rel.status = http.StatusBadGateway
		g.fail(w, c.route, allot.Errorf(allot.EUpstream, "provider %q broke off its answer (%s); retry", c.up.Name, shortNetErr(err)))
		return rel
	}
	rel.body = rel.buf.Bytes()
	if resp.StatusCode < 300 {
		c.tap.Body(rel.body)
	} else {
		rel.body = scrubSecrets(rel.body, c.up.APIKey)
	}
	rel.whole = true
	return rel
}

// deliver sends a whole answer's tail, once its event is recorded: a
// stream's held events, or a body with its status. A client that leaves
// now changes nothing: the call is settled.
func (g *Gateway) deliver(w http.ResponseWriter, c *call, rel relayed, cancel context.CancelFunc) {
	if rel.stream {
		writeHeld(w, http.NewResponseController(w), rel.held, cancel)
		return
	}
	w.Header().Set("Content-Length", itoa(len(rel.body)))
	w.WriteHeader(c.upStatus)
	_, _ = w.Write(rel.body)
}
