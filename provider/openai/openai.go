// Package openai speaks the OpenAI wire format for allot: it reads chat
// completions, responses and embeddings requests, switches usage reporting
// on in chat streams, taps usage from JSON bodies and server-sent events,
// and shapes errors the way OpenAI's SDKs parse them.
//
// Field names and shapes follow the official SDK's types (openai-go v3:
// ChatCompletion, ChatCompletionChunk, CompletionUsage, responses.Response,
// responses.ResponseUsage, CreateEmbeddingResponse).
package openai

import (
	"net/http"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Protocol is the OpenAI wire format; it implements provider.Protocol. The
// zero value is ready to use and safe for concurrent use.
type Protocol struct{}

var _ provider.Protocol = Protocol{}

// Name is "openai".
func (Protocol) Name() string { return "openai" }

// UpstreamPath maps a route to its path below a base URL that ends in /v1
// (https://api.openai.com/v1); it is "" for a route OpenAI does not serve.
func (Protocol) UpstreamPath(route allot.Route) string {
	switch route {
	case allot.RouteChat:
		return "/chat/completions"
	case allot.RouteResponses:
		return "/responses"
	case allot.RouteEmbeddings:
		return "/embeddings"
	case allot.RouteModels:
		return "/models"
	}
	return ""
}

// Authorize sets the provider key as a Bearer token, replacing whatever
// credential the client sent: its allot key must never reach the provider.
// An empty key (a local server without auth) sends no credential at all.
func (Protocol) Authorize(h http.Header, apiKey string) {
	h.Del("X-Api-Key")
	if apiKey == "" {
		h.Del("Authorization")
		return
	}
	h.Set("Authorization", "Bearer "+apiKey)
}
