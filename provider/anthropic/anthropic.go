// Package anthropic speaks the Anthropic Messages wire format for allot:
// it reads requests, taps usage from JSON bodies and from the message_start
// and cumulative message_delta stream events, and shapes errors as
// Anthropic's SDKs expect.
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"strings"

	"github.com/allot-dev/allot"
)

// Protocol is the Anthropic wire format; it implements allot.Protocol.
type Protocol struct{}

var _ allot.Protocol = Protocol{}

// Name is "anthropic".
func (Protocol) Name() string { return "anthropic" }

// UpstreamPath maps a route to its path below a base URL without /v1.
func (Protocol) UpstreamPath(route allot.Route) string {
	switch route {
	case allot.RouteCountTokens:
		return "/v1/messages/count_tokens"
	case allot.RouteModels:
		return "/v1/models"
	}
	return "/v1/messages"
}

// Authorize sets the provider key as x-api-key, Anthropic's header.
func (Protocol) Authorize(h http.Header, apiKey string) {
	h.Del("Authorization")
	if apiKey == "" {
		h.Del("X-Api-Key")
		return
	}
	h.Set("X-Api-Key", apiKey)
}

// request holds the fields allot reads from a Messages request.
type request struct {
	Model     *string         `json:"model"`
	Stream    bool            `json:"stream"`
	MaxTokens int64           `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Metadata map[string]any `json:"metadata"`
}

// ParseRequest reads model, stream, max_tokens, message count, task and fingerprints.
func (Protocol) ParseRequest(route allot.Route, body []byte) (allot.RequestInfo, error) {
	var r request
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Message: "request body is empty; send a JSON object with model, max_tokens and messages"}
	case trimmed[0] != '{':
		return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Message: "request body is not a JSON object; send a JSON object with model, max_tokens and messages"}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Param: typeErr.Field, Message: typeErr.Field + ": wrong type (" + typeErr.Value + "); check it against the Messages API reference"}
		}
		return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Message: "request body is not valid JSON: " + err.Error() + "; send a JSON object"}
	}
	if r.Model == nil || strings.TrimSpace(*r.Model) == "" {
		return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Param: "model", Message: "model: field required, e.g. \"model\": \"claude-sonnet-4-5\""}
	}
	info := allot.RequestInfo{
		Model:     *r.Model,
		Stream:    r.Stream,
		MaxTokens: r.MaxTokens,
		Messages:  len(r.Messages),
		RequestFP: fingerprint(body),
	}
	if t, ok := r.Metadata["task"].(string); ok {
		info.Task = t
	}
	if sys := bytes.TrimSpace(r.System); len(sys) > 0 && !bytes.Equal(sys, []byte("null")) {
		info.SystemFP = fingerprint([]byte(systemText(sys)))
	}
	return info, nil
}

// systemText returns the text of a system prompt given as a string or as
// text blocks, so the fingerprint ignores cache_control markers.
func systemText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		var b strings.Builder
		for _, bl := range blocks {
			b.WriteString(bl.Text)
			b.WriteByte('\n')
		}
		return b.String()
	}
	return string(raw)
}

// fingerprint is 64-bit FNV-1a, the same hash as the OpenAI side.
func fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// RewriteRequest sets the served model and removes metadata.task, which
// Anthropic's API would reject (its metadata takes only user_id).
func (Protocol) RewriteRequest(route allot.Route, body []byte, info allot.RequestInfo, model string) ([]byte, error) {
	if model == info.Model && info.Task == "" {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &allot.Error{Code: allot.EInvalid, Message: "request body is not valid JSON: " + err.Error()}
	}
	if model != info.Model {
		b, _ := json.Marshal(model)
		m["model"] = b
	}
	if info.Task != "" {
		var meta map[string]json.RawMessage
		if json.Unmarshal(m["metadata"], &meta) == nil {
			delete(meta, "task")
			if len(meta) == 0 {
				delete(m, "metadata")
			} else {
				b, _ := json.Marshal(meta)
				m["metadata"] = b
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, &allot.Error{Code: allot.EInternal, Message: "could not rewrite the request", Err: err}
	}
	return out, nil
}

// InputText returns the system prompt and messages' text for an offline estimate.
func (Protocol) InputText(route allot.Route, body []byte) string {
	var r request
	if json.Unmarshal(body, &r) != nil {
		return string(body)
	}
	var b strings.Builder
	if len(r.System) > 0 {
		b.WriteString(systemText(r.System))
	}
	for _, m := range r.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			b.WriteString(s)
			b.WriteByte('\n')
			continue
		}
		var blocks []struct {
			Text    string          `json:"text"`
			Content json.RawMessage `json:"content"`
			Input   json.RawMessage `json:"input"`
		}
		if json.Unmarshal(m.Content, &blocks) == nil {
			for _, bl := range blocks {
				b.WriteString(bl.Text)
				if len(bl.Content) > 0 {
					b.Write(bl.Content)
				}
				if len(bl.Input) > 0 {
					b.Write(bl.Input)
				}
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// ErrorBody renders e as Anthropic's error JSON.
func (Protocol) ErrorBody(e *allot.Error) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":  "error",
		"error": map[string]string{"type": e.Code.Info().AnthropicType, "message": e.Message},
	})
	return b
}
