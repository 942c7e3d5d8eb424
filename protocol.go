package allot

import "net/http"

// RequestInfo is what the gateway learns from a request body. It holds
// sizes, limits and fingerprints, never text (design invariant 7).
type RequestInfo struct {
	Model      string // "model" field; empty is an EInvalid error for routes that need it
	Stream     bool   // the client asked for a streamed response
	WantsUsage bool   // OpenAI chat: the client itself set stream_options.include_usage
	MaxTokens  int64  // max_tokens / max_completion_tokens / max_output_tokens, 0 if absent
	Messages   int    // number of input messages (or input items)
	Task       string // metadata.task, "" if absent
	SystemFP   uint64 // fingerprint of the system prompt / instructions, 0 if none
	RequestFP  uint64 // fingerprint of the whole body
}

// Protocol is one provider wire format (OpenAI or Anthropic): how to read a
// request, rewrite it for the upstream, tap usage from the response and
// shape errors. The gateway depends on this interface only.
type Protocol interface {
	// Name is the wire format's name: "openai" or "anthropic".
	Name() string
	// UpstreamPath returns the path to append to a provider's base_url for route.
	UpstreamPath(route Route) string
	// Authorize sets the provider's credential on an outgoing request.
	Authorize(h http.Header, apiKey string)
	// ParseRequest reads the fields the gateway needs; a malformed body is an EInvalid *Error.
	ParseRequest(route Route, body []byte) (RequestInfo, error)
	// RewriteRequest returns the body to send upstream: model set to model
	// (the served model) and, for streams, usage reporting switched on.
	RewriteRequest(route Route, body []byte, info RequestInfo, model string) ([]byte, error)
	// NewTap returns a tap for one response on route.
	NewTap(route Route, info RequestInfo) Tap
	// InputText returns the request's text for an offline token estimate.
	InputText(route Route, body []byte) string
	// ErrorBody renders e in this protocol's error JSON.
	ErrorBody(e *Error) []byte
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
	Usage() (t Tokens, haveInput, haveOutput bool)
	// Model is the model the provider says answered, "" if not seen.
	Model() string
	// OutputText is the completion text seen so far, for an estimate when
	// the provider's output count never arrived. It is never stored.
	OutputText() string
}

// Estimator counts tokens in text offline, for events whose usage never arrived.
type Estimator interface {
	CountTokens(text string) int64
}
