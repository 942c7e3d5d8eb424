package jsonwalk

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ObjectProblem says what keeps body from being one JSON object, as the
// end of a sentence about it ("is empty", "is not valid JSON: … at byte
// 19", "is an array, not a JSON object"), or "" if body is one.
func ObjectProblem(body []byte) string {
	v := Trim(body)
	if len(v) == 0 {
		return "is empty"
	}
	if !json.Valid(v) {
		var se *json.SyntaxError
		if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &se) {
			return fmt.Sprintf("is not valid JSON: %s at byte %d", se.Error(), se.Offset)
		}
		return "is not valid JSON"
	}
	if v[0] != '{' {
		return "is " + kind(v) + ", not a JSON object"
	}
	return ""
}

// kind names the kind of the JSON value v.
func kind(v []byte) string {
	switch v[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Without returns the object obj without its members named name, and the
// number of members left. A value that is not an object comes back as it is.
func Without(obj []byte, name string) ([]byte, int) {
	if len(obj) == 0 || obj[0] != '{' {
		return obj, 1
	}
	out := NewObjectBuilder(make([]byte, 0, len(obj)))
	it := Members(obj)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		if !m.Is(name) {
			out.Add(m.Key, m.Value)
		}
	}
	return out.Bytes(), out.Len()
}
