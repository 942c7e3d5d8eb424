package upstreamsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// route is one API the simulator answers.
type route int

const (
	routeChat route = iota
	routeResponses
	routeEmbeddings
	routeMessages
	routeCountTokens
)

// segment is one piece of prompt text, in the order a provider's prompt
// cache reads the prompt (tools, system, messages).
type segment struct {
	text   string
	system bool   // part of the system prompt / instructions
	ttl    string // cache breakpoint after this segment: "5m", "1h", or "" for none
	tokens int64  // exact token count when the client sent tokens, else -1
}

// request is what the simulator needs from a request body, whatever the API.
type request struct {
	route        route
	model        string
	stream       bool
	includeUsage bool  // OpenAI chat: stream_options.include_usage
	maxTokens    int64 // 0: no limit given
	segments     []segment
	messages     int
	effort       string // OpenAI reasoning effort, "" if not given
	thinking     bool   // Anthropic extended thinking enabled
	budget       int64  // Anthropic thinking budget_tokens, 0 if not given
	inputs       int    // embeddings: number of inputs
	encoding     string // embeddings: "float" or "base64"
	dimensions   int    // embeddings: requested dimensions, 0 for the model's own
}

// errBadRequest marks a request the real provider would reject with a 400.
var errBadRequest = errors.New("invalid request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// parseRequest reads body for rt. Its errors wrap errBadRequest and carry
// the message the provider would send.
func parseRequest(rt route, body []byte) (request, error) {
	if !json.Valid(body) {
		return request{}, badRequest("the request body is not valid JSON")
	}
	switch rt {
	case routeChat:
		return parseChat(body)
	case routeResponses:
		return parseResponses(body)
	case routeEmbeddings:
		return parseEmbeddings(body)
	default:
		return parseMessages(rt, body)
	}
}

func parseChat(body []byte) (request, error) {
	var b struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		MaxTokens           int64 `json:"max_tokens"`
		MaxCompletionTokens int64 `json:"max_completion_tokens"`
		Messages            []struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"messages"`
		Tools           json.RawMessage `json:"tools"`
		ReasoningEffort string          `json:"reasoning_effort"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return request{}, badRequest("the request body does not match the chat completions schema: %v", err)
	}
	if b.Model == "" {
		return request{}, badRequest("you must provide a model parameter")
	}
	if len(b.Messages) == 0 {
		return request{}, badRequest("'messages' must contain at least one message")
	}
	r := request{route: routeChat, model: b.Model, stream: b.Stream, messages: len(b.Messages), effort: b.ReasoningEffort}
	r.includeUsage = b.StreamOptions != nil && b.StreamOptions.IncludeUsage
	r.maxTokens = b.MaxCompletionTokens
	if r.maxTokens == 0 {
		r.maxTokens = b.MaxTokens
	}
	r.segments = appendRaw(r.segments, b.Tools, false)
	for _, m := range b.Messages {
		sys := m.Role == "system" || m.Role == "developer"
		r.segments = append(r.segments, segment{text: contentText(m.Content), system: sys, tokens: -1})
		r.segments = appendRaw(r.segments, m.ToolCalls, false)
	}
	return r, nil
}

func parseResponses(body []byte) (request, error) {
	var b struct {
		Model           string          `json:"model"`
		Stream          bool            `json:"stream"`
		MaxOutputTokens int64           `json:"max_output_tokens"`
		Instructions    json.RawMessage `json:"instructions"`
		Input           json.RawMessage `json:"input"`
		Tools           json.RawMessage `json:"tools"`
		Reasoning       *struct {
			Effort string `json:"effort"`
		} `json:"reasoning"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return request{}, badRequest("the request body does not match the responses schema: %v", err)
	}
	if b.Model == "" {
		return request{}, badRequest("you must provide a model parameter")
	}
	r := request{route: routeResponses, model: b.Model, stream: b.Stream, maxTokens: b.MaxOutputTokens}
	if b.Reasoning != nil {
		r.effort = b.Reasoning.Effort
	}
	r.segments = appendRaw(r.segments, b.Tools, false)
	if t := contentText(b.Instructions); t != "" {
		r.segments = append(r.segments, segment{text: t, system: true, tokens: -1})
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b.Input, &items); err != nil {
		// a plain string, or absent
		r.messages = 1
		r.segments = append(r.segments, segment{text: contentText(b.Input), tokens: -1})
		return r, nil
	}
	r.messages = len(items)
	for _, raw := range items {
		var it struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			Output    json.RawMessage `json:"output"`
			Arguments string          `json:"arguments"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return request{}, badRequest("input items must be objects: %v", err)
		}
		text := contentText(it.Content) + contentText(it.Output) + it.Arguments
		if len(it.Content) == 0 && len(it.Output) == 0 && it.Arguments == "" {
			text = string(raw)
		}
		sys := it.Role == "system" || it.Role == "developer"
		r.segments = append(r.segments, segment{text: text, system: sys, tokens: -1})
	}
	return r, nil
}

func parseEmbeddings(body []byte) (request, error) {
	var b struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return request{}, badRequest("the request body does not match the embeddings schema: %v", err)
	}
	if b.Model == "" {
		return request{}, badRequest("you must provide a model parameter")
	}
	if b.Dimensions < 0 || b.Dimensions > 1<<14 {
		return request{}, badRequest("dimensions must be between 1 and %d", 1<<14)
	}
	r := request{route: routeEmbeddings, model: b.Model, encoding: "float", dimensions: b.Dimensions}
	switch b.EncodingFormat {
	case "", "float":
	case "base64":
		r.encoding = "base64"
	default:
		return request{}, badRequest("encoding_format must be 'float' or 'base64', got %q", b.EncodingFormat)
	}
	var one string
	var many []string
	var tokens []int64
	var tokenLists [][]int64
	switch {
	case json.Unmarshal(b.Input, &one) == nil:
		r.segments = []segment{{text: one, tokens: -1}}
	case json.Unmarshal(b.Input, &many) == nil:
		for _, s := range many {
			r.segments = append(r.segments, segment{text: s, tokens: -1})
		}
	case json.Unmarshal(b.Input, &tokens) == nil:
		r.segments = []segment{{tokens: int64(len(tokens))}}
	case json.Unmarshal(b.Input, &tokenLists) == nil:
		for _, l := range tokenLists {
			r.segments = append(r.segments, segment{tokens: int64(len(l))})
		}
	default:
		return request{}, badRequest("'input' must be a string, an array of strings, or an array of token arrays")
	}
	if len(r.segments) == 0 {
		return request{}, badRequest("'input' must not be empty")
	}
	r.inputs = len(r.segments)
	return r, nil
}

func parseMessages(rt route, body []byte) (request, error) {
	var b struct {
		Model     *string         `json:"model"`
		Stream    bool            `json:"stream"`
		MaxTokens *int64          `json:"max_tokens"`
		System    json.RawMessage `json:"system"`
		Tools     json.RawMessage `json:"tools"`
		Messages  *[]struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Thinking *struct {
			Type         string `json:"type"`
			BudgetTokens int64  `json:"budget_tokens"`
		} `json:"thinking"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return request{}, badRequest("the request body does not match the messages schema: %v", err)
	}
	switch {
	case b.Model == nil || *b.Model == "":
		return request{}, badRequest("model: Field required")
	case b.Messages == nil:
		return request{}, badRequest("messages: Field required")
	case rt == routeMessages && b.MaxTokens == nil:
		return request{}, badRequest("max_tokens: Field required")
	case b.MaxTokens != nil && *b.MaxTokens < 1:
		return request{}, badRequest("max_tokens: must be at least 1")
	}
	r := request{route: rt, model: *b.Model, stream: b.Stream, messages: len(*b.Messages)}
	if b.MaxTokens != nil {
		r.maxTokens = *b.MaxTokens
	}
	if b.Thinking != nil && (b.Thinking.Type == "enabled" || b.Thinking.Type == "adaptive") {
		r.thinking = true
		r.budget = b.Thinking.BudgetTokens
	}
	var tools []json.RawMessage
	_ = json.Unmarshal(b.Tools, &tools)
	for _, t := range tools {
		r.segments = append(r.segments, segment{text: string(t), ttl: cacheTTL(t), tokens: -1})
	}
	r.segments = appendBlocks(r.segments, b.System, true)
	for _, m := range *b.Messages {
		r.segments = appendBlocks(r.segments, m.Content, false)
	}
	// A top-level cache_control puts a breakpoint on the last block.
	if ttl := cacheTTL(body); ttl != "" && len(r.segments) > 0 && r.segments[len(r.segments)-1].ttl == "" {
		r.segments[len(r.segments)-1].ttl = ttl
	}
	return r, nil
}

// appendBlocks appends Anthropic content (a string or an array of blocks)
// as one segment per block, so each cache_control breakpoint sits at its
// block's end.
func appendBlocks(segs []segment, raw json.RawMessage, system bool) []segment {
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		if t := contentText(raw); t != "" {
			segs = append(segs, segment{text: t, system: system, tokens: -1})
		}
		return segs
	}
	for _, b := range blocks {
		segs = append(segs, segment{text: contentText(json.RawMessage("[" + string(b) + "]")), system: system, ttl: cacheTTL(b), tokens: -1})
	}
	return segs
}

// appendRaw appends a JSON value (tool definitions, tool calls) as the text
// the model reads.
func appendRaw(segs []segment, raw json.RawMessage, system bool) []segment {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return segs
	}
	return append(segs, segment{text: string(raw), system: system, tokens: -1})
}

// cacheTTL returns the cache lifetime a block's cache_control asks for, ""
// if it has none.
func cacheTTL(block json.RawMessage) string {
	var b struct {
		CacheControl *struct {
			TTL string `json:"ttl"`
		} `json:"cache_control"`
	}
	if json.Unmarshal(block, &b) != nil || b.CacheControl == nil {
		return ""
	}
	if b.CacheControl.TTL == "1h" {
		return "1h"
	}
	return "5m"
}

// contentText returns the text of a message content: a string, or an array
// of parts whose "text" (or nested "content", as in tool results) is read;
// parts without text (images, files) count as their JSON.
func contentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return string(raw)
	}
	var sb strings.Builder
	for _, p := range parts {
		var part struct {
			Text     *string         `json:"text"`
			Thinking *string         `json:"thinking"`
			Content  json.RawMessage `json:"content"`
			Input    json.RawMessage `json:"input"`
		}
		if json.Unmarshal(p, &part) != nil {
			sb.Write(p)
			continue
		}
		switch {
		case part.Text != nil:
			sb.WriteString(*part.Text)
		case part.Thinking != nil:
			sb.WriteString(*part.Thinking)
		case len(part.Content) > 0:
			sb.WriteString(contentText(part.Content))
		case len(part.Input) > 0:
			sb.Write(part.Input)
		default:
			sb.Write(p)
		}
	}
	return sb.String()
}
