package upstreamsim

import (
	"net/http"
	"net/url"
	"time"

	allot "github.com/allot-dev/allot"
)

// Call is one request the simulator received and what it did with it. Tests
// read it to check what the gateway sent upstream (path, headers, the
// rewritten body) and to compare allot's ledger with the usage reported.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header // a copy of the request headers, credentials included
	Body   []byte      // the request body as received
	Model  string      // the request's "model" field, "" if absent
	Stream bool        // the request asked for a streamed answer

	// Status is the HTTP status sent, 0 if no header was sent (a hang).
	Status int
	// Start is when the request arrived; End when the handler returned.
	Start, End time.Time
	// CancelledAt is when the simulator saw the client go away before the
	// answer was complete; zero if it never did.
	CancelledAt time.Time
	// Cut reports that the stream was aborted on purpose (x-sim-cut-after).
	Cut bool
	// Chunks is the number of content chunks (text or reasoning deltas) written.
	Chunks int
	// Done reports that the handler has returned, so the record is final.
	Done bool

	// Usage is the usage the simulator put on the wire, normalized as allot
	// counts it (input includes cache reads and writes, output includes
	// reasoning). For a stream cut or cancelled before its final usage it is
	// the last partial report (Anthropic's message_start) or zero.
	Usage allot.Tokens
	// Planned is the usage of the whole answer, what the provider would bill
	// had the call run to its end.
	Planned allot.Tokens
}

// Cancelled reports whether the client went away before the answer was complete.
func (c Call) Cancelled() bool { return !c.CancelledAt.IsZero() }

// clone returns a copy of c that shares no mutable memory with it.
func (c Call) clone() Call {
	c.Query = cloneValues(c.Query)
	c.Header = c.Header.Clone()
	c.Body = append([]byte(nil), c.Body...)
	return c
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// record is the handler's handle on its own Call inside the server's list;
// every change goes through the server's lock, so Calls() can be read while
// handlers run.
type record struct {
	s *Server
	i int
}

// update applies f to the call under the server's lock.
func (r record) update(f func(c *Call)) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	f(&r.s.calls[r.i])
}

// report records usage that is about to be written on the wire. It runs
// before the write, so a client that has read the usage always finds it in
// Calls().
func (r record) report(t allot.Tokens) { r.update(func(c *Call) { c.Usage = t }) }

// cancelled records that the client went away, once.
func (r record) cancelled() {
	now := time.Now()
	r.update(func(c *Call) {
		if c.CancelledAt.IsZero() {
			c.CancelledAt = now
		}
	})
}
