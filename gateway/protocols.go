package gateway

import (
	"strings"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Protocols is the registry of wire formats the gateway speaks, by name:
// "openai" and "anthropic", the names providers' type: takes. A route's
// requests are read and its errors shaped by its clients' format; an
// upstream's requests rewritten and its answers tapped by its own. The
// gateway imports no wire format: cmd/allot passes provider/openai's and
// provider/anthropic's, and so do the tests.
type Protocols map[string]provider.Protocol

// clientProtocols are the wire formats the gateway's routes serve.
var clientProtocols = []string{"openai", "anthropic"}

// protocolFor returns the name of the wire format a route's clients speak.
func protocolFor(route allot.Route) string {
	if strings.HasPrefix(string(route), "anthropic.") {
		return "anthropic"
	}
	return "openai"
}

// clientProtocol returns the wire format a route's clients speak.
func (g *Gateway) clientProtocol(route allot.Route) provider.Protocol {
	return g.opts.Protocols[protocolFor(route)]
}
