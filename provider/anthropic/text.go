package anthropic

import (
	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

// maxTextDepth bounds the nesting InputText follows, so a hostile body
// cannot make it recurse without limit.
const maxTextDepth = 32

// InputText returns the text of a request (the system prompt, the
// messages' text, thinking, tool inputs and tool results, then the tool
// definitions as JSON), one piece per line, for an offline token estimate
// when the provider reported no usage. Images and documents are not counted.
func (Protocol) InputText(route allot.Route, body []byte) string {
	r := scanRequest(body)
	out := appendText(nil, r.system, 0)
	out = appendText(out, r.messages, 0)
	if len(r.tools) > 0 && r.tools[0] == '[' {
		out = append(append(out, r.tools...), '\n')
	}
	return string(out)
}

// appendText appends the text found in the JSON value v: strings, and in
// objects the members that hold text a model reads. A tool_use input is
// JSON the model reads as it is.
func appendText(dst, v []byte, depth int) []byte {
	if len(v) == 0 || depth > maxTextDepth {
		return dst
	}
	switch v[0] {
	case '"':
		if s, ok := jsonwalk.AppendString(dst, v); ok {
			return append(s, '\n')
		}
	case '[':
		it := jsonwalk.Elements(v)
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			dst = appendText(dst, e, depth+1)
		}
	case '{':
		var scratch [16]byte
		it := jsonwalk.Members(v)
		for m, ok := it.Next(); ok; m, ok = it.Next() {
			switch string(m.Name(scratch[:0])) {
			case "content", "text", "thinking":
				dst = appendText(dst, m.Value, depth+1)
			case "input":
				dst = append(append(dst, m.Value...), '\n')
			}
		}
	}
	return dst
}
