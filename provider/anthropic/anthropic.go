// Package anthropic speaks the Anthropic Messages wire format for allot: it
// reads messages and count_tokens requests, removes allot's task tag before
// they go upstream, taps usage from JSON bodies and from the message_start
// and cumulative message_delta stream events, and shapes errors the way
// Anthropic's SDKs parse them.
//
// Field names and shapes follow the official SDK's types
// (anthropic-sdk-go v2: Message, Usage, CacheCreation, MessageDeltaUsage,
// OutputTokensDetails, MessageTokensCount, shared.ErrorResponse).
package anthropic

import (
	"net/http"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Protocol is the Anthropic wire format; it implements provider.Protocol. The
// zero value is ready to use and safe for concurrent use.
type Protocol struct{}

var _ provider.Protocol = Protocol{}

// Name is "anthropic".
func (Protocol) Name() string { return "anthropic" }

// UpstreamPath maps a route to its path below a base URL without /v1
// (https://api.anthropic.com); it is "" for a route Anthropic does not serve.
func (Protocol) UpstreamPath(route allot.Route) string {
	switch route {
	case allot.RouteMessages:
		return "/v1/messages"
	case allot.RouteCountTokens:
		return "/v1/messages/count_tokens"
	case allot.RouteModels:
		return "/v1/models"
	}
	return ""
}

// Authorize sets the provider key in x-api-key, Anthropic's header, and
// removes any Authorization header: the client's allot key must never
// reach the provider. An empty key sends no credential at all.
func (Protocol) Authorize(h http.Header, apiKey string) {
	h.Del("Authorization")
	if apiKey == "" {
		h.Del("X-Api-Key")
		return
	}
	h.Set("X-Api-Key", apiKey)
}
