package anthropic

import (
	"encoding/json"
	"strings"

	"github.com/allot-dev/allot"
)

// usage is Anthropic's usage object; pointers tell present from zero, since
// message_delta may repeat only some counts.
type usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens        *int64 `json:"output_tokens"`
	OutputTokensDetails *struct {
		ThinkingTokens int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// tap extracts usage, model and output text from one Anthropic response.
type tap struct {
	route      allot.Route
	input      int64 // uncached input_tokens
	cacheRead  int64
	cacheWrite int64 // cache_creation_input_tokens
	write5m    int64
	write1h    int64
	splitKnown bool
	output     int64
	thinking   int64
	haveIn     bool
	haveOut    bool
	model      string
	text       strings.Builder
}

// NewTap returns a tap for one response on route.
func (Protocol) NewTap(route allot.Route, info allot.RequestInfo) allot.Tap {
	return &tap{route: route}
}

// merge takes every count present in u; later reports replace earlier ones
// because message_delta counts are cumulative.
func (t *tap) merge(u *usage, final bool) {
	if u == nil {
		return
	}
	if u.InputTokens != nil {
		t.input, t.haveIn = *u.InputTokens, true
	}
	if u.CacheReadInputTokens != nil {
		t.cacheRead = *u.CacheReadInputTokens
	}
	if u.CacheCreationInputTokens != nil {
		t.cacheWrite = *u.CacheCreationInputTokens
	}
	if c := u.CacheCreation; c != nil {
		t.write5m, t.write1h, t.splitKnown = c.Ephemeral5m, c.Ephemeral1h, true
	}
	if u.OutputTokens != nil {
		t.output = *u.OutputTokens
		if final {
			t.haveOut = true
		}
	}
	if d := u.OutputTokensDetails; d != nil {
		t.thinking = d.ThinkingTokens
	}
}

type streamEvent struct {
	Type    string `json:"type"`
	Message *struct {
		Model string `json:"model"`
		Usage *usage `json:"usage"`
	} `json:"message"`
	Delta *struct {
		Text        string `json:"text"`
		Thinking    string `json:"thinking"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"`
	Usage *usage `json:"usage"`
}

// Event taps one server-sent event; every event is forwarded.
func (t *tap) Event(name string, data []byte) bool {
	if len(data) == 0 {
		return true
	}
	var ev streamEvent
	if json.Unmarshal(data, &ev) != nil {
		return true
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			t.model = ev.Message.Model
			// message_start's output count is a placeholder (usually 1).
			t.merge(ev.Message.Usage, false)
		}
	case "content_block_delta":
		if d := ev.Delta; d != nil {
			t.text.WriteString(d.Text)
			t.text.WriteString(d.Thinking)
			t.text.WriteString(d.PartialJSON)
		}
	case "message_delta":
		t.merge(ev.Usage, true)
	}
	return true
}

// Body taps a whole (non-streamed) response.
func (t *tap) Body(data []byte) {
	if t.route == allot.RouteCountTokens {
		// Counting tokens is free: nothing is billed.
		t.haveIn, t.haveOut = true, true
		return
	}
	var m struct {
		Model   string `json:"model"`
		Usage   *usage `json:"usage"`
		Content []struct {
			Text     string `json:"text"`
			Thinking string `json:"thinking"`
		} `json:"content"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	t.model = m.Model
	for _, c := range m.Content {
		t.text.WriteString(c.Text)
		t.text.WriteString(c.Thinking)
	}
	t.merge(m.Usage, true)
}

// Usage normalizes per design invariant 4: Anthropic's input_tokens
// excludes cache reads and writes, so they are added to the input total;
// without a 5m/1h breakdown every cache write counts as a 5-minute write.
func (t *tap) Usage() (allot.Tokens, bool, bool) {
	w5, w1 := t.cacheWrite, int64(0)
	if t.splitKnown && t.write5m+t.write1h == t.cacheWrite {
		w5, w1 = t.write5m, t.write1h
	}
	tok := allot.Tokens{
		Input:        t.input + t.cacheRead + t.cacheWrite,
		CacheRead:    t.cacheRead,
		CacheWrite5m: w5,
		CacheWrite1h: w1,
		Reasoning:    t.thinking,
	}
	if t.haveOut {
		tok.Output = t.output
	}
	return tok, t.haveIn, t.haveOut
}

// Model is the model the provider says answered.
func (t *tap) Model() string { return t.model }

// OutputText is the completion text seen, for estimates; never stored.
func (t *tap) OutputText() string { return t.text.String() }
