// Package reqtext reads the text of a JSON request body as task rules see
// it: its string values, never its keys. It is its own package so that
// its fuzz target builds without the gateway's SDK-heavy tests.
package reqtext

import "encoding/json"

// Values returns the string values of a JSON request body (not its
// keys), unescaped, one per line: the prompt's text as rules see it. A
// malformed body yields what could be read.
func Values(body []byte) []byte {
	type frame struct{ object, wantKey bool }
	var stack []frame
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			stack = append(stack, frame{object: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = false
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		case '"':
			end, escaped := i+1, false
			for end < len(body) && body[end] != '"' {
				if body[end] == '\\' {
					escaped = true
					end++
				}
				end++
			}
			if n := len(stack); n == 0 || !stack[n-1].object || !stack[n-1].wantKey {
				out = appendJSONString(out, body[i:min(end+1, len(body))], escaped)
				out = append(out, '\n')
			}
			i = end
		}
	}
	return out
}

// appendJSONString appends the content of the quoted JSON string q.
func appendJSONString(out, q []byte, escaped bool) []byte {
	if escaped {
		var s string
		if err := json.Unmarshal(q, &s); err == nil {
			return append(out, s...)
		}
	}
	q = q[1:] // the opening quote
	if n := len(q); n > 0 && q[n-1] == '"' {
		q = q[:n-1]
	}
	return append(out, q...)
}
