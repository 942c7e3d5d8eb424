package openai

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/allot-dev/allot"
)

// usage is the union of the usage objects of chat, responses and embeddings.
type usage struct {
	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	InputTokens         *int64 `json:"input_tokens"`
	OutputTokens        *int64 `json:"output_tokens"`
	PromptTokensDetails *struct {
		CachedTokens     int64 `json:"cached_tokens"`
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
	InputTokensDetails *struct {
		CachedTokens            int64 `json:"cached_tokens"`
		CacheWriteTokens        int64 `json:"cache_write_tokens"`
		CacheWriteTokensDetails *struct {
			TTL30m int64 `json:"ttl_30m_tokens"`
			TTL12h int64 `json:"ttl_12h_tokens"`
		} `json:"cache_write_tokens_details"`
	} `json:"input_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	OutputTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// tokens normalizes u per design invariant 4: OpenAI's input already
// includes cached and cache-write tokens, its output includes reasoning.
func (u *usage) tokens() allot.Tokens {
	var t allot.Tokens
	switch {
	case u.PromptTokens != nil:
		t.Input = *u.PromptTokens
		if u.CompletionTokens != nil {
			t.Output = *u.CompletionTokens
		}
		if d := u.PromptTokensDetails; d != nil {
			t.CacheRead, t.CacheWrite5m = d.CachedTokens, d.CacheWriteTokens
		}
		if d := u.CompletionTokensDetails; d != nil {
			t.Reasoning = d.ReasoningTokens
		}
	case u.InputTokens != nil:
		t.Input = *u.InputTokens
		if u.OutputTokens != nil {
			t.Output = *u.OutputTokens
		}
		if d := u.InputTokensDetails; d != nil {
			t.CacheRead = d.CachedTokens
			if w := d.CacheWriteTokensDetails; w != nil && w.TTL30m+w.TTL12h == d.CacheWriteTokens {
				// Short-lived writes are priced as 5-minute writes, extended ones as 1-hour.
				t.CacheWrite5m, t.CacheWrite1h = w.TTL30m, w.TTL12h
			} else {
				t.CacheWrite5m = d.CacheWriteTokens
			}
		}
		if d := u.OutputTokensDetails; d != nil {
			t.Reasoning = d.ReasoningTokens
		}
	}
	return t
}

// tap extracts usage, model and output text from one OpenAI response.
type tap struct {
	route      allot.Route
	wantsUsage bool
	tokens     allot.Tokens
	have       bool
	model      string
	text       strings.Builder
}

// NewTap returns a tap for one response on route.
func (Protocol) NewTap(route allot.Route, info allot.RequestInfo) allot.Tap {
	return &tap{route: route, wantsUsage: info.WantsUsage}
}

// chatChunk is a chat completion (chunk): the fields allot reads.
type chatChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta   *delta `json:"delta"`
		Message *delta `json:"message"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

type delta struct {
	Content          *string `json:"content"`
	Refusal          *string `json:"refusal"`
	ReasoningContent *string `json:"reasoning_content"`
	ToolCalls        []struct {
		Function struct {
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// responsesEvent is a Responses API stream event or response body.
type responsesEvent struct {
	Type     string          `json:"type"`
	Delta    json.RawMessage `json:"delta"`
	Response *responseBody   `json:"response"`
}

type responseBody struct {
	Model  string `json:"model"`
	Usage  *usage `json:"usage"`
	Output []struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
}

func (t *tap) addText(d *delta) {
	if d == nil {
		return
	}
	for _, s := range []*string{d.Content, d.Refusal, d.ReasoningContent} {
		if s != nil {
			t.text.WriteString(*s)
		}
	}
	for _, c := range d.ToolCalls {
		t.text.WriteString(c.Function.Arguments)
	}
}

func (t *tap) setUsage(u *usage) {
	if u == nil || (u.PromptTokens == nil && u.InputTokens == nil) {
		return
	}
	t.tokens, t.have = u.tokens(), true
}

// Event taps one server-sent event. It drops the final usage-only chat
// chunk when the client did not ask for usage itself.
func (t *tap) Event(name string, data []byte) bool {
	if len(data) == 0 || bytes.Equal(data, []byte("[DONE]")) {
		return true
	}
	if t.route == allot.RouteResponses {
		var ev responsesEvent
		if json.Unmarshal(data, &ev) != nil {
			return true
		}
		if ev.Type == "" {
			ev.Type = name
		}
		switch ev.Type {
		case "response.output_text.delta", "response.reasoning_summary_text.delta", "response.function_call_arguments.delta", "response.refusal.delta":
			var s string
			if json.Unmarshal(ev.Delta, &s) == nil {
				t.text.WriteString(s)
			}
		}
		if ev.Response != nil {
			if ev.Response.Model != "" {
				t.model = ev.Response.Model
			}
			t.setUsage(ev.Response.Usage)
		}
		return true
	}
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return true
	}
	if c.Model != "" {
		t.model = c.Model
	}
	for _, ch := range c.Choices {
		t.addText(ch.Delta)
	}
	if c.Usage != nil {
		t.setUsage(c.Usage)
		if len(c.Choices) == 0 && !t.wantsUsage {
			return false
		}
	}
	return true
}

// Body taps a whole (non-streamed) response.
func (t *tap) Body(data []byte) {
	if t.route == allot.RouteResponses {
		var r responseBody
		if json.Unmarshal(data, &r) != nil {
			return
		}
		t.model = r.Model
		for _, o := range r.Output {
			for _, c := range o.Content {
				t.text.WriteString(c.Text)
			}
		}
		t.setUsage(r.Usage)
		return
	}
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return
	}
	t.model = c.Model
	for _, ch := range c.Choices {
		t.addText(ch.Message)
	}
	t.setUsage(c.Usage)
}

// Usage returns what the provider reported; OpenAI reports input and
// output together, in one usage object.
func (t *tap) Usage() (allot.Tokens, bool, bool) { return t.tokens, t.have, t.have }

// Model is the model the provider says answered.
func (t *tap) Model() string { return t.model }

// OutputText is the completion text seen, for estimates; never stored.
func (t *tap) OutputText() string { return t.text.String() }
