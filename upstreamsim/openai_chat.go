package upstreamsim

import (
	"encoding/json"
	"time"

	allot "github.com/allot-dev/allot"
)

// chatCompletion is OpenAI's chat.completion object.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             chatUsage    `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type chatMessage struct {
	Role        string   `json:"role"`
	Content     string   `json:"content"`
	Refusal     *string  `json:"refusal"`
	Annotations []string `json:"annotations"`
}

// chatChunk is OpenAI's chat.completion.chunk object. Usage is "null" on
// every chunk but the last when the client asked for usage, absent otherwise.
type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	ServiceTier       string            `json:"service_tier"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             json.RawMessage   `json:"usage,omitempty"`
}

type chatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        chatDelta `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

// chatUsage is the usage object of chat completions.
type chatUsage struct {
	PromptTokens            int64                 `json:"prompt_tokens"`
	CompletionTokens        int64                 `json:"completion_tokens"`
	TotalTokens             int64                 `json:"total_tokens"`
	PromptTokensDetails     chatPromptDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails chatCompletionDetails `json:"completion_tokens_details"`
}

type chatPromptDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
	AudioTokens      int64 `json:"audio_tokens"`
}

type chatCompletionDetails struct {
	ReasoningTokens          int64 `json:"reasoning_tokens"`
	AudioTokens              int64 `json:"audio_tokens"`
	AcceptedPredictionTokens int64 `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int64 `json:"rejected_prediction_tokens"`
}

func newChatUsage(t allot.Tokens) chatUsage {
	return chatUsage{
		PromptTokens:            t.Input,
		CompletionTokens:        t.Output,
		TotalTokens:             t.Total(),
		PromptTokensDetails:     chatPromptDetails{CachedTokens: t.CacheRead, CacheWriteTokens: t.CacheWrite()},
		CompletionTokensDetails: chatCompletionDetails{ReasoningTokens: t.Reasoning},
	}
}

const systemFingerprint = "fp_upstreamsim"

func finishReason(truncated bool) string {
	if truncated {
		return "length"
	}
	return "stop"
}

// serveChat answers POST /v1/chat/completions.
func (s *Server) serveChat(x *exchange) {
	o := s.plan(x.req, x.ctl)
	x.rec.update(func(c *Call) { c.Planned = o.tokens })
	id, created := s.nextID("chatcmpl-"), time.Now().Unix()
	if !x.req.stream {
		x.answer(o.visible, o.tokens, chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: x.req.model,
			Choices: []chatChoice{{
				Message:      chatMessage{Role: "assistant", Content: answerText(words, o.hash, o.visible), Annotations: []string{}},
				FinishReason: finishReason(o.truncated),
			}},
			Usage:       newChatUsage(o.tokens),
			ServiceTier: "default", SystemFingerprint: systemFingerprint,
		})
		return
	}
	_ = s.streamChat(x, o, id, created)
}

func (s *Server) streamChat(x *exchange, o outcome, id string, created int64) error {
	st := x.startStream()
	var usageNull json.RawMessage
	if x.req.includeUsage {
		usageNull = json.RawMessage("null")
	}
	chunk := func(d chatDelta, finish *string) chatChunk {
		return chatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: x.req.model,
			ServiceTier: "default", SystemFingerprint: systemFingerprint,
			Choices: []chatChunkChoice{{Delta: d, FinishReason: finish}},
			Usage:   usageNull,
		}
	}
	empty := ""
	if err := st.event("", chunk(chatDelta{Role: "assistant", Content: &empty}, nil)); err != nil {
		return err
	}
	for i := range o.visible {
		p := piece(words, o.hash, i)
		if err := st.content("", chunk(chatDelta{Content: &p}, nil)); err != nil {
			return err
		}
	}
	st.checkCut(true)
	finish := finishReason(o.truncated)
	if err := st.event("", chunk(chatDelta{}, &finish)); err != nil {
		return err
	}
	if x.req.includeUsage {
		last := chunk(chatDelta{}, nil)
		last.Choices = []chatChunkChoice{}
		u, _ := json.Marshal(newChatUsage(o.tokens))
		last.Usage = u
		x.rec.report(o.tokens)
		if err := st.event("", last); err != nil {
			return err
		}
	}
	return st.raw("", []byte("[DONE]"))
}
