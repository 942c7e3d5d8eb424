package anthropic

import (
	"fmt"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
	"github.com/allot-dev/allot/provider/internal/textfp"
)

// request holds the raw values of the top-level members allot reads from
// a request body; a member that is absent is nil.
type request struct {
	model, stream, maxTokens, metadata, system, messages, tools []byte
}

// scanRequest finds the members allot reads, with exact keys (the last of
// duplicates wins, as on the provider's side).
func scanRequest(body []byte) request {
	var r request
	var scratch [16]byte
	it := jsonwalk.Members(body)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "model":
			r.model = m.Value
		case "stream":
			r.stream = m.Value
		case "max_tokens":
			r.maxTokens = m.Value
		case "metadata":
			r.metadata = m.Value
		case "system":
			r.system = m.Value
		case "messages":
			r.messages = m.Value
		case "tools":
			r.tools = m.Value
		}
	}
	return r
}

// example is a minimal valid body for route, quoted in error messages.
func example(route allot.Route) string {
	if route == allot.RouteCountTokens {
		return `{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]}`
	}
	return `{"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]}`
}

// ParseRequest reads the model, stream flag, max_tokens, message count,
// task (metadata.task) and fingerprints of a messages or count_tokens
// request. A body that is not a JSON object, or has no usable model, is an
// EInvalid error that says what to fix. Keys are matched exactly, as
// Anthropic matches them.
func (Protocol) ParseRequest(route allot.Route, body []byte) (allot.RequestInfo, error) {
	if problem := jsonwalk.ObjectProblem(body); problem != "" {
		return allot.RequestInfo{}, invalid("", "the request body %s; send a JSON object such as %s", problem, example(route))
	}
	r := scanRequest(body)
	info := allot.RequestInfo{RequestFP: textfp.Bytes(body), Messages: jsonwalk.Len(r.messages)}
	var err error
	if info.Model, err = modelOf(r.model, example(route)); err != nil {
		return allot.RequestInfo{}, err
	}
	if info.Stream, err = boolOf("stream", r.stream); err != nil {
		return allot.RequestInfo{}, err
	}
	if info.MaxTokens, err = tokensOf("max_tokens", r.maxTokens); err != nil {
		return allot.RequestInfo{}, err
	}
	if v, ok := jsonwalk.Get(r.metadata, "task"); ok {
		info.Task, _ = jsonwalk.String(v)
	}
	// The system prompt: a string, or text blocks (whose cache_control
	// markers do not change the fingerprint).
	var fp textfp.Text
	fp.AddContent(r.system)
	info.SystemFP = fp.Sum()
	return info, nil
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
	for i := range len(model) {
		if c := model[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return model, nil
		}
	}
	return "", invalid("model", `"model" is empty; name the model to use, as in %s`, example)
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
