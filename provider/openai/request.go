// Package openai speaks the OpenAI wire format for allot: it reads chat,
// responses and embeddings requests, asks streams for usage, taps usage
// from JSON bodies and server-sent events, and shapes errors as OpenAI's
// SDKs expect.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"strings"

	"github.com/allot-dev/allot"
)

// Protocol is the OpenAI wire format; it implements allot.Protocol.
type Protocol struct{}

var _ allot.Protocol = Protocol{}

// Name is "openai".
func (Protocol) Name() string { return "openai" }

// UpstreamPath maps a route to its path below a base URL ending in /v1.
func (Protocol) UpstreamPath(route allot.Route) string {
	switch route {
	case allot.RouteResponses:
		return "/responses"
	case allot.RouteEmbeddings:
		return "/embeddings"
	case allot.RouteModels:
		return "/models"
	}
	return "/chat/completions"
}

// Authorize sets the provider key as a Bearer token.
func (Protocol) Authorize(h http.Header, apiKey string) {
	h.Del("X-Api-Key")
	if apiKey == "" {
		h.Del("Authorization")
		return
	}
	h.Set("Authorization", "Bearer "+apiKey)
}

// request holds the fields allot reads from any OpenAI request body.
type request struct {
	Model               *string         `json:"model"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           int64           `json:"max_tokens"`
	MaxCompletionTokens int64           `json:"max_completion_tokens"`
	MaxOutputTokens     int64           `json:"max_output_tokens"`
	Messages            []message       `json:"messages"`
	Input               json.RawMessage `json:"input"`
	Instructions        json.RawMessage `json:"instructions"`
	Metadata            map[string]any  `json:"metadata"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// decodeObject decodes a JSON object body into v, with errors that say
// what is wrong and what to do.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return &allot.Error{Code: allot.EInvalid, Message: "request body is empty; send a JSON object with at least a model"}
	}
	if trimmed[0] != '{' {
		return &allot.Error{Code: allot.EInvalid, Message: "request body is not a JSON object; send a JSON object with at least a model"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &allot.Error{Code: allot.EInvalid, Param: typeErr.Field, Message: "request field " + typeErr.Field + " has the wrong type (" + typeErr.Value + "); check it against the API reference"}
		}
		return &allot.Error{Code: allot.EInvalid, Message: "request body is not valid JSON: " + err.Error() + "; send a JSON object"}
	}
	return nil
}

// ParseRequest reads model, stream, limits, message count, task and fingerprints.
func (Protocol) ParseRequest(route allot.Route, body []byte) (allot.RequestInfo, error) {
	var r request
	if err := decodeObject(body, &r); err != nil {
		return allot.RequestInfo{}, err
	}
	if r.Model == nil || strings.TrimSpace(*r.Model) == "" {
		return allot.RequestInfo{}, &allot.Error{Code: allot.EInvalid, Param: "model", Message: "you must provide a model parameter, e.g. \"model\": \"gpt-4o-mini\""}
	}
	info := allot.RequestInfo{
		Model:     *r.Model,
		Stream:    r.Stream,
		RequestFP: Fingerprint(body),
	}
	if r.StreamOptions != nil {
		info.WantsUsage = r.StreamOptions.IncludeUsage
	}
	if t, ok := r.Metadata["task"].(string); ok {
		info.Task = t
	}
	switch route {
	case allot.RouteResponses:
		info.MaxTokens = r.MaxOutputTokens
		info.Messages = countInput(r.Input)
		if s := rawText(r.Instructions); s != "" {
			info.SystemFP = Fingerprint([]byte(s))
		}
	case allot.RouteEmbeddings:
		info.Messages = countInput(r.Input)
	default:
		info.MaxTokens = r.MaxCompletionTokens
		if info.MaxTokens == 0 {
			info.MaxTokens = r.MaxTokens
		}
		info.Messages = len(r.Messages)
		h, system := fnv.New64a(), false
		for _, m := range r.Messages {
			if m.Role == "system" || m.Role == "developer" {
				_, _ = h.Write(m.Content)
				system = true
			}
		}
		if system {
			info.SystemFP = h.Sum64()
		}
	}
	return info, nil
}

// Fingerprint is the 64-bit FNV-1a hash allot uses for prompts and bodies:
// stable across processes and versions, so fingerprints can be compared
// over time without storing text.
func Fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// countInput counts the items of an input that is a string or an array.
func countInput(raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0
	}
	if raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			return len(items)
		}
	}
	return 1
}

// rawText returns a JSON string's value, or "" for anything else.
func rawText(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// RewriteRequest sets the served model and, for chat streams, asks the
// provider to include usage. It returns body itself when nothing changes.
func (Protocol) RewriteRequest(route allot.Route, body []byte, info allot.RequestInfo, model string) ([]byte, error) {
	needUsage := route == allot.RouteChat && info.Stream && !info.WantsUsage
	if model == info.Model && !needUsage {
		return body, nil
	}
	if model == info.Model && !bytes.Contains(body, []byte(`"stream_options"`)) {
		// Fast path: add the option as the first key without re-encoding.
		i := bytes.IndexByte(body, '{')
		out := make([]byte, 0, len(body)+40)
		out = append(out, body[:i+1]...)
		out = append(out, `"stream_options":{"include_usage":true}`...)
		if rest := bytes.TrimLeft(body[i+1:], " \t\r\n"); len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, body[i+1:]...), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &allot.Error{Code: allot.EInvalid, Message: "request body is not valid JSON: " + err.Error()}
	}
	if model != info.Model {
		b, _ := json.Marshal(model)
		m["model"] = b
	}
	if needUsage {
		var so map[string]json.RawMessage
		_ = json.Unmarshal(m["stream_options"], &so)
		if so == nil {
			so = map[string]json.RawMessage{}
		}
		so["include_usage"] = json.RawMessage("true")
		b, _ := json.Marshal(so)
		m["stream_options"] = b
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, &allot.Error{Code: allot.EInternal, Message: "could not rewrite the request", Err: err}
	}
	return out, nil
}

// InputText returns the request's text (messages, input, instructions) for
// an offline token estimate.
func (Protocol) InputText(route allot.Route, body []byte) string {
	var r request
	if json.Unmarshal(body, &r) != nil {
		return string(body)
	}
	var b strings.Builder
	b.WriteString(rawText(r.Instructions))
	for _, m := range r.Messages {
		appendText(&b, m.Content)
	}
	appendText(&b, r.Input)
	return b.String()
}

// appendText appends every string found in a JSON value (a string, text
// parts, nested input items) to b.
func appendText(b *strings.Builder, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
			b.WriteByte('\n')
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, k := range []string{"text", "content", "input"} {
				if e, ok := x[k]; ok {
					walk(e)
				}
			}
		}
	}
	walk(v)
}

// ErrorBody renders e as OpenAI's error JSON.
func (Protocol) ErrorBody(e *allot.Error) []byte {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	var param *string
	if e.Param != "" {
		param = &e.Param
	}
	b, _ := json.Marshal(map[string]body{"error": {Message: e.Message, Type: e.Code.Info().OpenAIType, Param: param, Code: string(e.Code)}})
	return b
}
