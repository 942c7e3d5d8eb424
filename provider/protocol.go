// Package provider is the contract between the gateway and the providers'
// wire formats (provider/openai, provider/anthropic): the Protocol each
// implements, the Tap that reads usage from a response, and how every
// application error code appears on the wire (codes.go). The domain root
// keeps the codes and knows nothing of HTTP.
package provider

import (
	"net/http"

	"github.com/allot-dev/allot"
)

// Protocol is one provider wire format (OpenAI or Anthropic): how to read a
// request, rewrite it for the upstream, tap usage from the response and
// shape errors. The gateway depends on this interface only.
type Protocol interface {
	// Name is the wire format's name: "openai" or "anthropic".
	Name() string
	// UpstreamPath returns the path to append to a provider's base_url for route.
	UpstreamPath(route allot.Route) string
	// Authorize sets the provider's credential on an outgoing request.
	Authorize(h http.Header, apiKey string)
	// ParseRequest reads the fields the gateway needs; a malformed body is an EInvalid *allot.Error.
	ParseRequest(route allot.Route, body []byte) (allot.RequestInfo, error)
	// RewriteRequest returns the body to send upstream: model set to model
	// (the served model) and, for streams, usage reporting switched on.
	RewriteRequest(route allot.Route, body []byte, info allot.RequestInfo, model string) ([]byte, error)
	// NewTap returns a tap for one response on route.
	NewTap(route allot.Route, info allot.RequestInfo) Tap
	// InputText returns the request's text for an offline token estimate.
	InputText(route allot.Route, body []byte) string
	// ErrorBody renders e in this protocol's error JSON.
	ErrorBody(e *allot.Error) []byte
}

// Tap watches one response on its way to the client and extracts usage.
type Tap interface {
	// Event is called with each server-sent event of a streamed response,
	// in order (name may be empty); it returns false to keep the event
	// from the client (e.g. a usage chunk the client did not ask for).
	Event(name string, data []byte) (forward bool)
	// Body is called once with the whole body of a non-streamed response.
	Body(data []byte)
	// Usage returns the usage seen so far, and whether the provider's input
	// and output counts arrived (a cut stream may have only the input).
	Usage() (t allot.Tokens, haveInput, haveOutput bool)
	// Model is the model the provider says answered, "" if not seen.
	Model() string
	// OutputText is the completion text seen so far, for an estimate when
	// the provider's output count never arrived. It is never stored.
	OutputText() string
}
