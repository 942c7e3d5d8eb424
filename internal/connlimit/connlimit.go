// Package connlimit bounds what clients can hold of the server: how many
// connections (all clients, one client), for how long (header, body, idle
// and write deadlines) and how much memory a connection's headers take.
//
// A slow or idle client must never exhaust file descriptors or memory and
// so stop allot answering everyone else. The limits are chosen so that
// legitimate long calls still work: a large upload that keeps arriving at
// a minimum rate is never cut, and a streamed answer lasts as long as the
// upstream streams, because no deadline spans a whole request or response.
package connlimit

import (
	"net/http"
	"time"
)

// Limits are the bounds on client connections. Zero values are not
// defaults: config.Limits supplies them, and validates what operators set.
type Limits struct {
	// MaxConns caps simultaneous connections from all clients; a
	// connection over it is closed as soon as it is accepted.
	MaxConns int
	// MaxConnsPerClient caps simultaneous connections from one client
	// address (an IPv4 address, or an IPv6 /64); 0 means MaxConns.
	MaxConnsPerClient int
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers, from the connection's first byte or the end of its idle wait.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout is the grace a request body gets before it must be
	// arriving at BodyMinRate: each byte received extends the body's
	// deadline by 1/BodyMinRate seconds. A body that trickles is cut.
	BodyReadTimeout time.Duration
	// BodyMinRate is the slowest average rate, in bytes per second, at
	// which a request body may arrive once BodyReadTimeout is spent.
	BodyMinRate int64
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before it is closed.
	IdleTimeout time.Duration
	// WriteStallTimeout is how long one write of a response may block on a
	// client that does not read. It bounds each write, never a whole
	// response, so a stream may run for as long as the upstream streams.
	WriteStallTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers of one request.
	MaxHeaderBytes int
}

// perClient is the effective cap for one client address.
func (l Limits) perClient() int {
	if l.MaxConnsPerClient <= 0 || l.MaxConnsPerClient > l.MaxConns {
		return l.MaxConns
	}
	return l.MaxConnsPerClient
}

// Apply sets srv's connection timeouts and header cap from l. It leaves
// ReadTimeout and WriteTimeout at zero on purpose: they span a whole
// request or response, and would cut long uploads and long streams;
// Handler bounds bodies and writes by progress instead.
func (l Limits) Apply(srv *http.Server) {
	srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	srv.IdleTimeout = l.IdleTimeout
	srv.MaxHeaderBytes = l.MaxHeaderBytes
	srv.ReadTimeout = 0
	srv.WriteTimeout = 0
}
