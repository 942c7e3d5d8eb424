package openai

import (
	"hash/fnv"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// fnvOf is the reference FNV-1a 64 from the standard library.
func fnvOf(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route allot.Route
		body  string
		want  allot.RequestInfo
	}{
		{"chat", allot.RouteChat,
			`{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"hi"}],"metadata":{"task":"triage"}}`,
			allot.RequestInfo{Model: "gpt-4o", MaxTokens: 50, Messages: 2, Task: "triage", SystemFP: fnvOf("Be terse.")}},
		{"chat stream asking for usage", allot.RouteChat,
			`{"model":"o3","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":9,"messages":[]}`,
			allot.RequestInfo{Model: "o3", Stream: true, WantsUsage: true, MaxTokens: 9}},
		{"chat stream not asking for usage", allot.RouteChat,
			`{"model":"o3","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"x"}]}`,
			allot.RequestInfo{Model: "o3", Stream: true, Messages: 1}},
		{"both limits: the larger is the worst case", allot.RouteChat,
			`{"model":"m","max_tokens":500,"max_completion_tokens":200}`,
			allot.RequestInfo{Model: "m", MaxTokens: 500}},
		{"pretty-printed, nulls are absent", allot.RouteChat,
			"{\n  \"model\" : \"gpt-4o\",\n  \"stream\" : null,\n  \"max_tokens\" : null,\n  \"messages\" : [ ]\n}\n",
			allot.RequestInfo{Model: "gpt-4o"}},
		{"escaped keys are the same keys", allot.RouteChat,
			`{"mod\u0065l":"gpt-4o","stre\u0061m":true}`,
			allot.RequestInfo{Model: "gpt-4o", Stream: true}},
		{"the last duplicate wins, as upstream", allot.RouteChat,
			`{"model":"gpt-4o","model":"gpt-4o-mini"}`,
			allot.RequestInfo{Model: "gpt-4o-mini"}},
		{"keys in another case are other keys", allot.RouteChat,
			`{"model":"gpt-4o-mini","MODEL":"o3","Max_Tokens":99999}`,
			allot.RequestInfo{Model: "gpt-4o-mini"}},
		{"task that is not a string is ignored", allot.RouteChat,
			`{"model":"m","metadata":{"task":7}}`,
			allot.RequestInfo{Model: "m"}},
		{"limit written as a float", allot.RouteChat,
			`{"model":"m","max_tokens":1e3}`,
			allot.RequestInfo{Model: "m", MaxTokens: 1000}},
		{"responses with instructions and input items", allot.RouteResponses,
			`{"model":"gpt-5","instructions":"Refactor.","input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"c","output":"b"}],"max_output_tokens":100,"max_tokens":7}`,
			allot.RequestInfo{Model: "gpt-5", Messages: 2, MaxTokens: 100, SystemFP: fnvOf("Refactor.")}},
		{"responses with a string input", allot.RouteResponses,
			`{"model":"gpt-5","input":"Tell me a joke","stream":true}`,
			allot.RequestInfo{Model: "gpt-5", Messages: 1, Stream: true}},
		{"responses developer message counts as system prompt", allot.RouteResponses,
			`{"model":"gpt-5","input":[{"role":"developer","content":[{"type":"input_text","text":"Refactor."}]},{"role":"user","content":"go"}]}`,
			allot.RequestInfo{Model: "gpt-5", Messages: 2, SystemFP: fnvOf("Refactor.")}},
		{"embeddings: one string", allot.RouteEmbeddings,
			`{"model":"text-embedding-3-small","input":"one string"}`,
			allot.RequestInfo{Model: "text-embedding-3-small", Messages: 1}},
		{"embeddings: strings", allot.RouteEmbeddings,
			`{"model":"text-embedding-3-small","input":["a","b","c"]}`,
			allot.RequestInfo{Model: "text-embedding-3-small", Messages: 3}},
		{"embeddings: one array of token ids", allot.RouteEmbeddings,
			`{"model":"text-embedding-3-small","input":[1,2,3,4]}`,
			allot.RequestInfo{Model: "text-embedding-3-small", Messages: 1}},
		{"embeddings: arrays of token ids", allot.RouteEmbeddings,
			`{"model":"text-embedding-3-small","input":[[1,2],[3]]}`,
			allot.RequestInfo{Model: "text-embedding-3-small", Messages: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Protocol{}.ParseRequest(tt.route, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.want.RequestFP = fnvOf(tt.body)
			if got != tt.want {
				t.Errorf("ParseRequest =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseRequestErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, param string
		says              []string // parts of the message
	}{
		{"empty", ``, "", []string{"empty", `"model"`}},
		{"blank", " \n", "", []string{"empty"}},
		{"malformed", `{"model":"gpt-4o",}`, "", []string{"not valid JSON", "at byte 19", "send a JSON object"}},
		{"cut", `{"model":`, "", []string{"not valid JSON", "unexpected end"}},
		{"an array", `["gpt-4o"]`, "", []string{"an array, not a JSON object"}},
		{"a string", `"hi"`, "", []string{"a string, not a JSON object"}},
		{"missing model", `{"messages":[]}`, "model", []string{`no "model"`, "gpt-4o-mini"}},
		{"null model", `{"model":null}`, "model", []string{`no "model"`}},
		{"model not a string", `{"model":4}`, "model", []string{`"model" must be a string`}},
		{"empty model", `{"model":" "}`, "model", []string{`"model" is empty`}},
		{"stream not a boolean", `{"model":"m","stream":"yes"}`, "stream", []string{`"stream" must be true or false, not "yes"`}},
		{"negative limit", `{"model":"m","max_tokens":-1}`, "max_tokens", []string{"whole number of tokens, not -1"}},
		{"fractional limit", `{"model":"m","max_completion_tokens":1.5}`, "max_completion_tokens", []string{"whole number"}},
		{"limit as a string", `{"model":"m","max_tokens":"100"}`, "max_tokens", []string{"whole number"}},
		// Issue #14: a limit no model writes made the reserved worst case overflow.
		{"limit of 2^31", `{"model":"m","max_tokens":2147483648}`, "max_tokens", []string{"at most 100000000 tokens"}},
		{"limit of 2^53", `{"model":"m","max_completion_tokens":9007199254740992}`, "max_completion_tokens", []string{"at most 100000000"}},
		{"limit of 2^63-1", `{"model":"m","max_completion_tokens":9223372036854775807}`, "max_completion_tokens", []string{"at most 100000000"}},
		{"limit of 1844674407370955", `{"model":"m","max_tokens":1844674407370955}`, "max_tokens", []string{"at most 100000000"}},
		{"limit past int64", `{"model":"m","max_tokens":18446744073709551616}`, "max_tokens", []string{"whole number"}},
		{"limit as a float past the bound", `{"model":"m","max_tokens":1e15}`, "max_tokens", []string{"at most 100000000"}},
		{"limit NaN", `{"model":"m","max_tokens":NaN}`, "", []string{"not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Protocol{}.ParseRequest(allot.RouteChat, []byte(tt.body))
			e := allot.ErrorOf(err)
			if err == nil || e.Code != allot.EInvalid || e.Param != tt.param {
				t.Fatalf("err = %v (param %q), want %s with param %q", err, e.Param, allot.EInvalid, tt.param)
			}
			for _, part := range tt.says {
				if !strings.Contains(e.Message, part) {
					t.Errorf("message %q does not say %q", e.Message, part)
				}
			}
		})
	}
}

// TestResponsesOutputLimitIsBounded: max_output_tokens past what any
// model writes is refused like max_tokens (issue #14).
func TestResponsesOutputLimitIsBounded(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"2147483648", "9007199254740992", "9223372036854775807", "100000001"} {
		_, err := Protocol{}.ParseRequest(allot.RouteResponses, []byte(`{"model":"gpt-5","input":"hi","max_output_tokens":`+n+`}`))
		if e := allot.ErrorOf(err); err == nil || e.Code != allot.EInvalid || e.Param != "max_output_tokens" {
			t.Errorf("max_output_tokens %s: %v, want invalid max_output_tokens", n, err)
		}
	}
	info, err := Protocol{}.ParseRequest(allot.RouteResponses, []byte(`{"model":"gpt-5","input":"hi","max_output_tokens":100000000}`))
	if err != nil || info.MaxTokens != allot.MaxCallTokens {
		t.Errorf("max_output_tokens at the bound: %+v, %v", info, err)
	}
}

// TestSystemFingerprint: one system prompt has one fingerprint, however
// it is written and whichever API carries it.
func TestSystemFingerprint(t *testing.T) {
	t.Parallel()
	fp := func(route allot.Route, body string) uint64 {
		t.Helper()
		info, err := Protocol{}.ParseRequest(route, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return info.SystemFP
	}
	want := fnvOf("You are a careful reviewer.\nBe brief.")
	same := map[string]uint64{
		"string":          fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":"You are a careful reviewer.\nBe brief."}]}`),
		"escaped":         fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":"You are a careful reviewer.\u000aBe \u0062rief."}]}`),
		"text part":       fp(allot.RouteChat, `{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"You are a careful reviewer.\nBe brief."}]}]}`),
		"two parts":       fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"You are a careful reviewer."},{"type":"text","text":"Be brief."}]}]}`),
		"two messages":    fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":"You are a careful reviewer."},{"role":"user","content":"x"},{"role":"system","content":"Be brief."}]}`),
		"instructions":    fp(allot.RouteResponses, `{"model":"m","instructions":"You are a careful reviewer.\nBe brief.","input":"x"}`),
		"user text moves": fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":"You are a careful reviewer.\nBe brief."},{"role":"user","content":"other"}]}`),
	}
	for name, got := range same {
		if got != want {
			t.Errorf("%s: SystemFP = %x, want %x", name, got, want)
		}
	}
	if got := fp(allot.RouteChat, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); got != 0 {
		t.Errorf("no system prompt: SystemFP = %x, want 0", got)
	}
	if got := fp(allot.RouteChat, `{"model":"m","messages":[{"role":"system","content":"Be brief!"}]}`); got == want || got == 0 {
		t.Errorf("another prompt has fingerprint %x", got)
	}
}

func TestInputText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route allot.Route
		body  string
		want  string
	}{
		{"chat strings, parts, tool calls and results", allot.RouteChat,
			`{"model":"m","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}]}`,
			"Be terse.\nLook:\n{\"a\":1}\n42\n"},
		{"responses instructions and items", allot.RouteResponses,
			`{"model":"m","instructions":"Refactor.","input":[{"role":"user","content":[{"type":"input_text","text":"this"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"done"}]}`,
			"Refactor.\nthis\n{}\ndone\n"},
		{"responses string input", allot.RouteResponses, `{"model":"m","input":"Hello"}`, "Hello\n"},
		{"tool definitions count as JSON", allot.RouteChat,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
			"hi\n[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]\n"},
		{"embeddings", allot.RouteEmbeddings, `{"model":"m","input":["a","b"]}`, "a\nb\n"},
		{"not JSON", allot.RouteChat, `{"model":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Protocol{}).InputText(tt.route, []byte(tt.body)); got != tt.want {
				t.Errorf("InputText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInputTextStopsAtDeepNesting(t *testing.T) {
	t.Parallel()
	body := `{"model":"m","messages":` + strings.Repeat(`[`, 100000) + `"deep"` + strings.Repeat(`]`, 100000) + `}`
	if got := (Protocol{}).InputText(allot.RouteChat, []byte(body)); got != "" {
		t.Fatalf("InputText = %q, want nothing from beyond the depth limit", got)
	}
}

func TestUpstreamPathAndAuthorize(t *testing.T) {
	t.Parallel()
	p := Protocol{}
	for route, want := range map[allot.Route]string{
		allot.RouteChat: "/chat/completions", allot.RouteResponses: "/responses", allot.RouteEmbeddings: "/embeddings",
		allot.RouteModels: "/models", allot.RouteMessages: "",
	} {
		if got := p.UpstreamPath(route); got != want {
			t.Errorf("UpstreamPath(%s) = %q, want %q", route, got, want)
		}
	}
	if p.Name() != "openai" {
		t.Errorf("Name() = %q", p.Name())
	}
	h := map[string][]string{"Authorization": {"Bearer ak-client-key"}, "X-Api-Key": {"ak-client-key"}}
	p.Authorize(h, "sk-provider")
	if got := h["Authorization"]; len(got) != 1 || got[0] != "Bearer sk-provider" || h["X-Api-Key"] != nil {
		t.Errorf("headers after Authorize: %v", h)
	}
	p.Authorize(h, "")
	if len(h) != 0 {
		t.Errorf("with no provider key the client's credential must still go: %v", h)
	}
}

// typicalChat is a chat request of about 2 KB: a system prompt, a short
// conversation, a tool and options.
var typicalChat = []byte(`{"model":"gpt-4o-2024-08-06","stream":true,"temperature":0.2,"max_completion_tokens":1024,` +
	`"metadata":{"task":"code-review"},"messages":[` +
	`{"role":"system","content":"You are a senior Go reviewer. Point out bugs, data races and unclear names.\nAnswer in short bullet points; quote the line you mean."},` +
	`{"role":"user","content":"Review this function:\n\nfunc (s *Store) Get(k string) (v []byte, ok bool) {\n\ts.mu.RLock()\n\tdefer s.mu.RUnlock()\n\tv, ok = s.m[k]\n\treturn\n}\n` + strings.Repeat(`// padding comment to make the body realistic. `, 24) + `"},` +
	`{"role":"assistant","content":"- The returned slice aliases the stored value: a caller that writes to it races with readers.\n- Consider returning a copy."},` +
	`{"role":"user","content":[{"type":"text","text":"Show the fixed version, please."}]}],` +
	`"tools":[{"type":"function","function":{"name":"run_tests","description":"Run the package tests","parameters":{"type":"object","properties":{"pkg":{"type":"string"}},"required":["pkg"]}}}]}`)

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalChat)))
	for b.Loop() {
		if _, err := (Protocol{}).ParseRequest(allot.RouteChat, typicalChat); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteRequest(b *testing.B) {
	info, err := Protocol{}.ParseRequest(allot.RouteChat, typicalChat)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalChat)))
	for b.Loop() {
		if _, err := (Protocol{}).RewriteRequest(allot.RouteChat, typicalChat, info, info.Model); err != nil {
			b.Fatal(err)
		}
	}
}
