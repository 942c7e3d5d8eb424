package upstreamsim

import (
	"encoding/json"
	"time"

	allot "github.com/allot-dev/allot"
)

// response is OpenAI's Responses API response object.
type response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"`
	Background         bool               `json:"background"`
	Error              *struct{}          `json:"error"`
	IncompleteDetails  *incompleteDetails `json:"incomplete_details"`
	Instructions       json.RawMessage    `json:"instructions"`
	MaxOutputTokens    *int64             `json:"max_output_tokens"`
	Model              string             `json:"model"`
	Output             []outputItem       `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Reasoning          reasoningConfig    `json:"reasoning"`
	ServiceTier        string             `json:"service_tier"`
	Store              bool               `json:"store"`
	Temperature        float64            `json:"temperature"`
	Text               textConfig         `json:"text"`
	ToolChoice         string             `json:"tool_choice"`
	Tools              []struct{}         `json:"tools"`
	TopP               float64            `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *responsesUsage    `json:"usage"`
	User               *string            `json:"user"`
	Metadata           map[string]string  `json:"metadata"`
}

type incompleteDetails struct {
	Reason string `json:"reason"`
}

type reasoningConfig struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type textConfig struct {
	Format    json.RawMessage `json:"format"`
	Verbosity string          `json:"verbosity"`
}

// outputItem is a Responses output item: a "message" or a "reasoning" item.
type outputItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Status  string        `json:"status,omitempty"`
	Role    string        `json:"role,omitempty"`
	Content *[]outputText `json:"content,omitempty"`
	Summary *[]struct{}   `json:"summary,omitempty"`
}

// outputText is an output_text content part.
type outputText struct {
	Type        string     `json:"type"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
	Text        string     `json:"text"`
}

// responsesUsage is the usage object of the Responses API.
type responsesUsage struct {
	InputTokens         int64                `json:"input_tokens"`
	InputTokensDetails  responsesInputDetail `json:"input_tokens_details"`
	OutputTokens        int64                `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

type responsesInputDetail struct {
	CachedTokens            int64             `json:"cached_tokens"`
	CacheWriteTokens        int64             `json:"cache_write_tokens"`
	CacheWriteTokensDetails *cacheWriteDetail `json:"cache_write_tokens_details,omitempty"`
}

// cacheWriteDetail splits OpenAI cache writes by retention; the simulator
// maps its short (5m) writes to ttl_30m and its long (1h) writes to ttl_12h.
type cacheWriteDetail struct {
	TTL12h int64 `json:"ttl_12h_tokens"`
	TTL30m int64 `json:"ttl_30m_tokens"`
}

func newResponsesUsage(t allot.Tokens) *responsesUsage {
	u := &responsesUsage{InputTokens: t.Input, OutputTokens: t.Output, TotalTokens: t.Total()}
	u.InputTokensDetails = responsesInputDetail{CachedTokens: t.CacheRead, CacheWriteTokens: t.CacheWrite()}
	if t.CacheWrite() > 0 {
		u.InputTokensDetails.CacheWriteTokensDetails = &cacheWriteDetail{TTL12h: t.CacheWrite1h, TTL30m: t.CacheWrite5m}
	}
	u.OutputTokensDetails.ReasoningTokens = t.Reasoning
	return u
}

// serveResponses answers POST /v1/responses.
func (s *Server) serveResponses(x *exchange) {
	o := s.plan(x.req, x.ctl)
	x.rec.update(func(c *Call) { c.Planned = o.tokens })
	var body struct {
		Instructions json.RawMessage   `json:"instructions"`
		Metadata     map[string]string `json:"metadata"`
	}
	_ = json.Unmarshal(x.body, &body)
	r := response{
		ID: s.nextID("resp_"), Object: "response", CreatedAt: time.Now().Unix(), Status: "in_progress",
		Instructions: body.Instructions, Model: x.req.model, Output: []outputItem{},
		ParallelToolCalls: true, ServiceTier: "default", Store: true, Temperature: 1, TopP: 1,
		Text:       textConfig{Format: json.RawMessage(`{"type":"text"}`), Verbosity: "medium"},
		ToolChoice: "auto", Tools: []struct{}{}, Truncation: "disabled", Metadata: body.Metadata,
	}
	if len(r.Instructions) == 0 {
		r.Instructions = json.RawMessage("null")
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	if x.req.maxTokens > 0 {
		r.MaxOutputTokens = &x.req.maxTokens
	}
	if reasoningModel(x.req.model) {
		effort := x.req.effort
		if effort == "" {
			effort = "medium"
		}
		r.Reasoning.Effort = &effort
	}
	var reasoning *outputItem
	if o.tokens.Reasoning > 0 {
		reasoning = &outputItem{ID: s.nextID("rs_"), Type: "reasoning", Summary: &[]struct{}{}}
	}
	msgID := s.nextID("msg_")
	done := r
	done.Status, done.Usage = "completed", newResponsesUsage(o.tokens)
	msgStatus := "completed"
	if o.truncated {
		done.Status, msgStatus = "incomplete", "incomplete"
		done.IncompleteDetails = &incompleteDetails{Reason: "max_output_tokens"}
	}
	text := outputText{Type: "output_text", Annotations: []struct{}{}, Logprobs: []struct{}{}, Text: answerText(words, o.hash, o.visible)}
	if reasoning != nil {
		done.Output = append(done.Output, *reasoning)
	}
	done.Output = append(done.Output, outputItem{ID: msgID, Type: "message", Status: msgStatus, Role: "assistant", Content: &[]outputText{text}})
	if !x.req.stream {
		x.answer(o.visible, o.tokens, done)
		return
	}
	_ = s.streamResponses(x, o, r, done, reasoning, msgID)
}

func (s *Server) streamResponses(x *exchange, o outcome, r, done response, reasoning *outputItem, msgID string) error {
	st := x.startStream()
	seq := 0
	ev := func(fields map[string]any) map[string]any {
		fields["sequence_number"] = seq
		seq++
		return fields
	}
	send := func(typ string, fields map[string]any) error {
		fields["type"] = typ
		return st.event(typ, ev(fields))
	}
	if err := send("response.created", map[string]any{"response": r}); err != nil {
		return err
	}
	if err := send("response.in_progress", map[string]any{"response": r}); err != nil {
		return err
	}
	out := 0
	if reasoning != nil {
		for _, typ := range []string{"response.output_item.added", "response.output_item.done"} {
			if err := send(typ, map[string]any{"output_index": out, "item": reasoning}); err != nil {
				return err
			}
		}
		out++
	}
	msg := outputItem{ID: msgID, Type: "message", Status: "in_progress", Role: "assistant", Content: &[]outputText{}}
	if err := send("response.output_item.added", map[string]any{"output_index": out, "item": msg}); err != nil {
		return err
	}
	part := outputText{Type: "output_text", Annotations: []struct{}{}, Logprobs: []struct{}{}}
	at := func(fields map[string]any) map[string]any {
		fields["item_id"], fields["output_index"], fields["content_index"] = msgID, out, 0
		return fields
	}
	if err := send("response.content_part.added", at(map[string]any{"part": part})); err != nil {
		return err
	}
	for i := range o.visible {
		const typ = "response.output_text.delta"
		fields := at(map[string]any{"type": typ, "delta": piece(words, o.hash, i), "logprobs": []struct{}{}})
		if err := st.content(typ, ev(fields)); err != nil {
			return err
		}
	}
	st.checkCut(true)
	final := done.Output[len(done.Output)-1]
	part = (*final.Content)[0]
	if err := send("response.output_text.done", at(map[string]any{"text": part.Text, "logprobs": []struct{}{}})); err != nil {
		return err
	}
	if err := send("response.content_part.done", at(map[string]any{"part": part})); err != nil {
		return err
	}
	if err := send("response.output_item.done", map[string]any{"output_index": out, "item": final}); err != nil {
		return err
	}
	terminal := "response.completed"
	if done.Status == "incomplete" {
		terminal = "response.incomplete"
	}
	x.rec.report(o.tokens)
	return send(terminal, map[string]any{"response": done})
}
