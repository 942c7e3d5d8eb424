package openai

import (
	"fmt"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
	"github.com/allot-dev/allot/provider/internal/textfp"
)

// request holds the raw values of the top-level members allot reads from
// a request body; a member that is absent is nil.
type request struct {
	model, stream, streamOptions, metadata []byte
	maxTokens, maxCompletion, maxOutput    []byte
	messages, input, instructions, tools   []byte
}

// scanRequest finds the members allot reads, with exact keys (the last of
// duplicates wins, as on the provider's side).
func scanRequest(body []byte) request {
	var r request
	var scratch [32]byte
	it := jsonwalk.Members(body)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "model":
			r.model = m.Value
		case "stream":
			r.stream = m.Value
		case "stream_options":
			r.streamOptions = m.Value
		case "metadata":
			r.metadata = m.Value
		case "max_tokens":
			r.maxTokens = m.Value
		case "max_completion_tokens":
			r.maxCompletion = m.Value
		case "max_output_tokens":
			r.maxOutput = m.Value
		case "messages":
			r.messages = m.Value
		case "input":
			r.input = m.Value
		case "instructions":
			r.instructions = m.Value
		case "tools":
			r.tools = m.Value
		}
	}
	return r
}

// example is a minimal valid body for route, quoted in error messages.
func example(route allot.Route) string {
	switch route {
	case allot.RouteResponses:
		return `{"model": "gpt-4o-mini", "input": "Hello"}`
	case allot.RouteEmbeddings:
		return `{"model": "text-embedding-3-small", "input": "Hello"}`
	}
	return `{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}`
}

// ParseRequest reads the model, stream flags, output limit, message count,
// task and fingerprints of a chat, responses or embeddings request. A body
// that is not a JSON object, or has no usable model, is an EInvalid error
// that says what to fix. Keys are matched exactly, as OpenAI matches them.
func (Protocol) ParseRequest(route allot.Route, body []byte) (allot.RequestInfo, error) {
	if err := checkObject(body, example(route)); err != nil {
		return allot.RequestInfo{}, err
	}
	r := scanRequest(body)
	info := allot.RequestInfo{RequestFP: textfp.Bytes(body)}
	var err error
	if info.Model, err = modelOf(r.model, example(route)); err != nil {
		return allot.RequestInfo{}, err
	}
	if info.Stream, err = boolOf("stream", r.stream); err != nil {
		return allot.RequestInfo{}, err
	}
	if v, ok := jsonwalk.Get(r.streamOptions, "include_usage"); ok {
		info.WantsUsage, _ = jsonwalk.Bool(v)
	}
	if v, ok := jsonwalk.Get(r.metadata, "task"); ok {
		info.Task, _ = jsonwalk.String(v)
	}
	switch route {
	case allot.RouteResponses:
		if info.MaxTokens, err = tokensOf("max_output_tokens", r.maxOutput); err != nil {
			return allot.RequestInfo{}, err
		}
		info.Messages = countItems(r.input)
		info.SystemFP = responsesSystemFP(r.instructions, r.input)
	case allot.RouteEmbeddings:
		info.Messages = countEmbeddingInputs(r.input)
	default:
		completion, err := tokensOf("max_completion_tokens", r.maxCompletion)
		if err != nil {
			return allot.RequestInfo{}, err
		}
		legacy, err := tokensOf("max_tokens", r.maxTokens)
		if err != nil {
			return allot.RequestInfo{}, err
		}
		// Both set is an error upstream; the larger one is the safe worst case.
		info.MaxTokens = max(completion, legacy)
		info.Messages, info.SystemFP = chatMessages(r.messages)
	}
	return info, nil
}

// checkObject returns an EInvalid error unless body is one JSON object.
func checkObject(body []byte, example string) error {
	if problem := jsonwalk.ObjectProblem(body); problem != "" {
		return invalid("", "the request body %s; send a JSON object such as %s", problem, example)
	}
	return nil
}

func invalid(param, format string, args ...any) *allot.Error {
	e := allot.Errorf(allot.EInvalid, format, args...)
	e.Param = param
	return e
}

// modelOf returns the model named by v, or an EInvalid error for param "model".
func modelOf(v []byte, example string) (string, error) {
	if v == nil || jsonwalk.IsNull(v) {
		return "", invalid("model", `the request has no "model"; name the model to use, as in %s`, example)
	}
	model, ok := jsonwalk.String(v)
	if !ok {
		return "", invalid("model", `"model" must be a string naming a model, as in %s`, example)
	}
	if isBlank(model) {
		return "", invalid("model", `"model" is empty; name the model to use, as in %s`, example)
	}
	return model, nil
}

func isBlank(s string) bool {
	for i := range len(s) {
		if c := s[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// boolOf reads an optional boolean member.
func boolOf(name string, v []byte) (bool, error) {
	if v == nil || jsonwalk.IsNull(v) {
		return false, nil
	}
	b, ok := jsonwalk.Bool(v)
	if !ok {
		return false, invalid(name, "%q must be true or false, not %s", name, clip(v))
	}
	return b, nil
}

// tokensOf reads an optional token limit: a whole number, at least 0.
func tokensOf(name string, v []byte) (int64, error) {
	if v == nil || jsonwalk.IsNull(v) {
		return 0, nil
	}
	n, ok := jsonwalk.Int(v)
	if !ok || n < 0 {
		return 0, invalid(name, "%q must be a whole number of tokens, not %s", name, clip(v))
	}
	if n > allot.MaxCallTokens {
		// No model writes that much, and the call's worst case must stay
		// a number allot can reserve (docs/security.md, Numbers from outside).
		return 0, invalid(name, "%q is %d; at most %d tokens can be asked for", name, n, allot.MaxCallTokens)
	}
	return n, nil
}

// clip quotes at most 32 bytes of a value for an error message.
func clip(v []byte) string {
	if len(v) > 32 {
		return fmt.Sprintf("%s…", v[:32])
	}
	return string(v)
}

// chatMessages counts the messages and fingerprints the system and
// developer messages' text.
func chatMessages(messages []byte) (int, uint64) {
	var fp textfp.Text
	n := 0
	it := jsonwalk.Elements(messages)
	for msg, ok := it.Next(); ok; msg, ok = it.Next() {
		n++
		if role, content := roleContent(msg); isSystem(role) {
			fp.AddContent(content)
		}
	}
	return n, fp.Sum()
}

// roleContent returns a message's role and content values.
func roleContent(msg []byte) (role, content []byte) {
	var scratch [16]byte
	it := jsonwalk.Members(msg)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "role":
			role = m.Value
		case "content":
			content = m.Value
		}
	}
	return role, content
}

func isSystem(role []byte) bool {
	return jsonwalk.StringIs(role, "system") || jsonwalk.StringIs(role, "developer")
}

// responsesSystemFP fingerprints a Responses request's instructions and
// the system and developer messages among its input items.
func responsesSystemFP(instructions, input []byte) uint64 {
	var fp textfp.Text
	fp.Add(instructions)
	it := jsonwalk.Elements(input)
	for item, ok := it.Next(); ok; item, ok = it.Next() {
		if role, content := roleContent(item); isSystem(role) {
			fp.AddContent(content)
		}
	}
	return fp.Sum()
}

// countItems counts a Responses input: a string is one message, an array
// one per item.
func countItems(input []byte) int {
	switch {
	case len(input) == 0:
		return 0
	case input[0] == '"':
		return 1
	case input[0] == '[':
		return jsonwalk.Len(input)
	}
	return 0
}

// countEmbeddingInputs counts an embeddings input: a string, an array of
// strings, one array of token ids (one input), or an array of them.
func countEmbeddingInputs(input []byte) int {
	if len(input) > 0 && input[0] == '[' {
		it := jsonwalk.Elements(input)
		if first, ok := it.Next(); ok && first[0] != '"' && first[0] != '[' {
			return 1 // [1, 2, 3]: the token ids of one input
		}
	}
	return countItems(input)
}
