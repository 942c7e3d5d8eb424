package openai

import (
	"bytes"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

// tap extracts usage, model and output text from one OpenAI response. It
// reads only the members it needs, without decoding whole chunks, so a
// stream costs no allocation per chunk beyond the text it keeps.
type tap struct {
	route      allot.Route
	wantsUsage bool // the client asked for the usage chunk itself
	tokens     allot.Tokens
	have       bool
	model      string
	text       []byte
}

// NewTap returns a tap for one response on route.
func (Protocol) NewTap(route allot.Route, info allot.RequestInfo) provider.Tap {
	return &tap{route: route, wantsUsage: info.WantsUsage}
}

var done = []byte("[DONE]")

// Event taps one server-sent event. Chat streams end with a chunk that
// has no choices and the whole usage (allot asks for it, see
// RewriteRequest); it is kept from a client that did not ask for usage
// itself, so the client sees the stream it requested. Every other event
// is forwarded.
func (t *tap) Event(name string, data []byte) bool {
	if len(data) == 0 || bytes.Equal(data, done) {
		return true
	}
	if t.route == allot.RouteResponses {
		t.responsesEvent(name, data)
		return true
	}
	usageOnly := t.chatCompletion(data)
	return !usageOnly || t.wantsUsage
}

// Body taps the whole body of a non-streamed response.
func (t *tap) Body(data []byte) {
	switch t.route {
	case allot.RouteChat:
		t.chatCompletion(data)
	case allot.RouteResponses:
		t.response(data, true)
	case allot.RouteEmbeddings:
		var scratch [8]byte
		it := jsonwalk.Members(data)
		for m, ok := it.Next(); ok; m, ok = it.Next() {
			switch string(m.Name(scratch[:0])) {
			case "model":
				t.setModel(m.Value)
			case "usage":
				t.setUsage(m.Value)
			}
		}
	}
}

// Usage returns what the provider reported. OpenAI reports input and
// output together in one usage object; embeddings have no output, so
// their output is complete (zero) as soon as the usage arrives.
func (t *tap) Usage() (allot.Tokens, bool, bool) { return t.tokens, t.have, t.have }

// Model is the model the provider says answered.
func (t *tap) Model() string { return t.model }

// OutputText is the completion text seen, for estimates; it is never stored.
func (t *tap) OutputText() string { return string(t.text) }

// chatCompletion taps a chat completion or a chunk of one (ChatCompletion,
// ChatCompletionChunk) and reports whether it was a usage-only chunk.
func (t *tap) chatCompletion(data []byte) (usageOnly bool) {
	var scratch [8]byte
	choices := 0
	sawUsage := false
	it := jsonwalk.Members(data)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "model":
			t.setModel(m.Value)
		case "choices":
			cs := jsonwalk.Elements(m.Value)
			for c, ok := cs.Next(); ok; c, ok = cs.Next() {
				choices++
				t.choice(c)
			}
		case "usage":
			sawUsage = t.setUsage(m.Value)
		}
	}
	return sawUsage && choices == 0
}

// choice collects the text of a choice's delta (stream) or message.
func (t *tap) choice(c []byte) {
	var scratch [8]byte
	it := jsonwalk.Members(c)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "delta", "message":
			t.message(m.Value)
		}
	}
}

// message collects the text a model wrote: content, refusal, reasoning
// (reasoning_content or reasoning, as OpenAI-compatible servers send it)
// and tool call arguments.
func (t *tap) message(msg []byte) {
	var scratch [24]byte
	it := jsonwalk.Members(msg)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "content", "refusal", "reasoning_content", "reasoning":
			t.addText(m.Value)
		case "tool_calls":
			calls := jsonwalk.Elements(m.Value)
			for c, ok := calls.Next(); ok; c, ok = calls.Next() {
				if fn, ok := jsonwalk.Get(c, "function"); ok {
					t.arguments(fn)
				}
			}
		case "function_call":
			t.arguments(m.Value)
		}
	}
}

func (t *tap) arguments(fn []byte) {
	if args, ok := jsonwalk.Get(fn, "arguments"); ok {
		t.addText(args)
	}
}

// responsesEvent taps one Responses API stream event: text deltas, and the
// response object (model, usage) that response.created, .in_progress,
// .completed, .incomplete and .failed carry.
func (t *tap) responsesEvent(name string, data []byte) {
	var typ, delta, response []byte
	var scratch [8]byte
	it := jsonwalk.Members(data)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "type":
			typ = m.Value
		case "delta":
			delta = m.Value
		case "response":
			response = m.Value
		}
	}
	if response != nil {
		t.response(response, false)
	}
	if delta == nil {
		return
	}
	isText := textDeltas[name]
	if len(typ) >= 2 {
		isText = textDeltas[string(typ[1:len(typ)-1])]
	}
	if isText {
		t.addText(delta)
	}
}

// textDeltas are the Responses stream events whose delta is model output.
var textDeltas = map[string]bool{
	"response.output_text.delta":                true,
	"response.refusal.delta":                    true,
	"response.reasoning_text.delta":             true,
	"response.reasoning_summary_text.delta":     true,
	"response.function_call_arguments.delta":    true,
	"response.custom_tool_call_input.delta":     true,
	"response.mcp_call_arguments.delta":         true,
	"response.code_interpreter_call_code.delta": true,
}

// response taps a Response object; withText collects its output text too
// (a stream has collected it from the deltas already).
func (t *tap) response(r []byte, withText bool) {
	var scratch [8]byte
	it := jsonwalk.Members(r)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "model":
			t.setModel(m.Value)
		case "usage":
			t.setUsage(m.Value)
		case "output":
			if withText {
				t.text = appendText(t.text, m.Value, 0)
			}
		}
	}
}

// setModel keeps the model named by v, allocating only when it changes.
func (t *tap) setModel(v []byte) {
	if len(v) >= 2 && string(v[1:len(v)-1]) == t.model {
		return
	}
	if s, ok := jsonwalk.String(v); ok && s != "" {
		t.model = s
	}
}

// setUsage keeps the usage in v unless it is null; the last one wins.
func (t *tap) setUsage(v []byte) bool {
	tokens, ok := parseUsage(v)
	if ok {
		t.tokens, t.have = tokens, true
	}
	return ok
}

// addText appends the JSON string v to the output text.
func (t *tap) addText(v []byte) {
	t.text, _ = jsonwalk.AppendString(t.text, v)
}
