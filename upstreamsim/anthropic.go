package upstreamsim

import (
	"encoding/base64"
	"net/http"

	allot "github.com/allot-dev/allot"
)

// message is Anthropic's Messages API response object.
type message struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []contentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        messageUsage   `json:"usage"`
}

// contentBlock is a "text" or "thinking" content block.
type contentBlock struct {
	Type      string  `json:"type"`
	Text      *string `json:"text,omitempty"`
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
}

// messageUsage is the usage of a message; input_tokens excludes the cache.
type messageUsage struct {
	InputTokens              int64          `json:"input_tokens"`
	CacheCreationInputTokens int64          `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64          `json:"cache_read_input_tokens"`
	CacheCreation            *cacheCreation `json:"cache_creation,omitempty"`
	OutputTokens             int64          `json:"output_tokens"`
	OutputTokensDetails      thinkingDetail `json:"output_tokens_details"`
	ServiceTier              string         `json:"service_tier,omitempty"`
}

type cacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

type thinkingDetail struct {
	ThinkingTokens int64 `json:"thinking_tokens"`
}

// newMessageUsage renders t in Anthropic's shape: the full object of a
// message (full) or the cumulative counts of a message_delta.
func newMessageUsage(t allot.Tokens, full bool) messageUsage {
	u := messageUsage{
		InputTokens:              t.Uncached(),
		CacheCreationInputTokens: t.CacheWrite(),
		CacheReadInputTokens:     t.CacheRead,
		OutputTokens:             t.Output,
	}
	if full {
		u.CacheCreation = &cacheCreation{Ephemeral5m: t.CacheWrite5m, Ephemeral1h: t.CacheWrite1h}
		u.ServiceTier = "standard"
	}
	u.OutputTokensDetails.ThinkingTokens = t.Reasoning
	return u
}

func stopReason(truncated bool) string {
	if truncated {
		return "max_tokens"
	}
	return "end_turn"
}

// signature is the opaque signature of a thinking block.
func signature(h uint64) string {
	var b [48]byte
	for i := range b {
		b[i] = byte(h >> (8 * (i % 8)) * uint64(i+1))
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// serveMessages answers POST /v1/messages.
func (s *Server) serveMessages(x *exchange) {
	o := s.plan(x.req, x.ctl)
	x.rec.update(func(c *Call) { c.Planned = o.tokens })
	id := s.nextID("msg_")
	thinkHash := o.hash ^ 0x9e3779b97f4a7c15
	if !x.req.stream {
		m := message{ID: id, Type: "message", Role: "assistant", Model: x.req.model, Content: []contentBlock{}, Usage: newMessageUsage(o.tokens, true)}
		if o.tokens.Reasoning > 0 {
			th, sig := answerText(thinkingWords, thinkHash, o.tokens.Reasoning), signature(o.hash)
			m.Content = append(m.Content, contentBlock{Type: "thinking", Thinking: &th, Signature: &sig})
		}
		if o.visible > 0 || o.tokens.Reasoning == 0 {
			text := answerText(words, o.hash, o.visible)
			m.Content = append(m.Content, contentBlock{Type: "text", Text: &text})
		}
		reason := stopReason(o.truncated)
		m.StopReason = &reason
		x.answer(o.visible+o.tokens.Reasoning, o.tokens, m)
		return
	}
	_ = s.streamMessages(x, o, id, thinkHash)
}

func (s *Server) streamMessages(x *exchange, o outcome, id string, thinkHash uint64) error {
	st := x.startStream()
	start := o.tokens
	start.Output, start.Reasoning = 1, 0 // as the real API: a placeholder until message_delta
	x.rec.report(start)
	m := message{ID: id, Type: "message", Role: "assistant", Model: x.req.model, Content: []contentBlock{}, Usage: newMessageUsage(start, true)}
	if err := st.event("message_start", map[string]any{"type": "message_start", "message": m}); err != nil {
		return err
	}
	index, pinged := 0, false
	sofar := start // cumulative output for intermediate message_deltas
	sofar.Output = 0
	block := func(startBlock contentBlock, n int64, delta func(i int64) map[string]any, thinking bool) error {
		if err := st.event("content_block_start", map[string]any{"type": "content_block_start", "index": index, "content_block": startBlock}); err != nil {
			return err
		}
		if !pinged {
			pinged = true
			if err := st.raw("ping", []byte(`{"type": "ping"}`)); err != nil {
				return err
			}
		}
		for i := range n {
			if err := st.content("content_block_delta", map[string]any{"type": "content_block_delta", "index": index, "delta": delta(i)}); err != nil {
				return err
			}
			sofar.Output++
			if thinking {
				sofar.Reasoning++
			}
			if e := x.ctl.usageEvery; e > 0 && st.chunks%e == 0 && sofar.Output < o.tokens.Output {
				x.rec.report(sofar)
				if err := st.event("message_delta", map[string]any{
					"type":  "message_delta",
					"delta": map[string]any{"stop_reason": nil, "stop_sequence": nil},
					"usage": newMessageUsage(sofar, false),
				}); err != nil {
					return err
				}
			}
		}
		if thinking {
			sig := signature(o.hash)
			if err := st.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "signature_delta", "signature": sig}}); err != nil {
				return err
			}
		}
		st.checkCut(false)
		err := st.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
		return err
	}
	if o.tokens.Reasoning > 0 {
		empty := ""
		err := block(contentBlock{Type: "thinking", Thinking: &empty, Signature: &empty}, o.tokens.Reasoning, func(i int64) map[string]any {
			return map[string]any{"type": "thinking_delta", "thinking": piece(thinkingWords, thinkHash, i)}
		}, true)
		if err != nil {
			return err
		}
	}
	if o.visible > 0 || o.tokens.Reasoning == 0 {
		empty := ""
		err := block(contentBlock{Type: "text", Text: &empty}, o.visible, func(i int64) map[string]any {
			return map[string]any{"type": "text_delta", "text": piece(words, o.hash, i)}
		}, false)
		if err != nil {
			return err
		}
	}
	st.checkCut(true)
	x.rec.report(o.tokens)
	if err := st.event("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": stopReason(o.truncated), "stop_sequence": nil},
		"usage": newMessageUsage(o.tokens, false),
	}); err != nil {
		return err
	}
	return st.event("message_stop", map[string]any{"type": "message_stop"})
}

// serveCountTokens answers POST /v1/messages/count_tokens. Counting is
// free, so the call reports no usage.
func (s *Server) serveCountTokens(x *exchange) {
	o := s.plan(x.req, x.ctl)
	x.writeJSON(http.StatusOK, map[string]int64{"input_tokens": o.tokens.Input})
}
