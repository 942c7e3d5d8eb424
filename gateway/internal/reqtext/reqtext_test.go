package reqtext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValuesKeepsValuesNotKeys(t *testing.T) {
	t.Parallel()
	got := string(Values([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a \"quoted\" line\nnext"}]}],"n":3,"ok":true}`)))
	want := "m\nuser\ntext\na \"quoted\" line\nnext\n"
	if got != want {
		t.Errorf("Values = %q, want %q", got, want)
	}
}

// FuzzValues: any body is read without panicking, and every string
// value of a valid UTF-8 JSON body is in the text.
func FuzzValues(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `["x",{"y":["z\u00e9"]}]`, `{"a":"unterminated`, `"\`, `{"k":{"k2":"v"},"k3":"w"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		text := string(Values(body))
		var v any
		if !utf8.Valid(body) || json.Unmarshal(body, &v) != nil {
			return // the decoder would replace invalid bytes; rules see them raw
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if !strings.Contains(text, v) {
					t.Fatalf("value %q missing from %q", v, text)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			case map[string]any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(v)
	})
}
