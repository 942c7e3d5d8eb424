package anthropic

import (
	"hash/fnv"
	"net/http"
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
		{"plain", allot.RouteMessages,
			`{"model":"claude-haiku-4-5","max_tokens":64,"system":"Be terse.","messages":[{"role":"user","content":"hi"}]}`,
			allot.RequestInfo{Model: "claude-haiku-4-5", MaxTokens: 64, Messages: 1, SystemFP: fnvOf("Be terse.")}},
		{"system blocks fingerprint like the same text", allot.RouteMessages,
			`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"Be terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[]}`,
			allot.RequestInfo{Model: "m", MaxTokens: 1, SystemFP: fnvOf("Be terse.")}},
		{"several system blocks are joined by newlines", allot.RouteMessages,
			`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"You review Go."},{"type":"text","text":"Be terse."}]}`,
			allot.RequestInfo{Model: "m", MaxTokens: 1, SystemFP: fnvOf("You review Go.\nBe terse.")}},
		{"stream with a task", allot.RouteMessages,
			`{"model":"claude-sonnet-4-5","stream":true,"max_tokens":8192,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":[{"type":"text","text":"c"}]}],"metadata":{"user_id":"u-1","task":"refactor"}}`,
			allot.RequestInfo{Model: "claude-sonnet-4-5", Stream: true, MaxTokens: 8192, Messages: 3, Task: "refactor"}},
		{"count_tokens has no max_tokens", allot.RouteCountTokens,
			`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`,
			allot.RequestInfo{Model: "claude-sonnet-4-5", Messages: 1}},
		{"keys are exact, the last duplicate wins", allot.RouteMessages,
			`{"model":"claude-opus-4-1","Model":"claude-haiku-4-5","model":"claude-sonnet-4-5","MAX_TOKENS":5}`,
			allot.RequestInfo{Model: "claude-sonnet-4-5"}},
		{"escaped keys are the same keys", allot.RouteMessages,
			`{"mod\u0065l":"m","max_tok\u0065ns":3}`,
			allot.RequestInfo{Model: "m", MaxTokens: 3}},
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
		says              []string
	}{
		{"empty", ``, "", []string{"is empty", `"max_tokens"`}},
		{"malformed", `{"model":"m",`, "", []string{"not valid JSON", "unexpected end", "at byte 13"}},
		{"an array", `[{"model":"m"}]`, "", []string{"an array, not a JSON object"}},
		{"missing model", `{"max_tokens":5,"messages":[]}`, "model", []string{`no "model"`, "claude-sonnet-4-5"}},
		{"model not a string", `{"model":["a"]}`, "model", []string{`"model" must be a string`}},
		{"empty model", `{"model":""}`, "model", []string{`"model" is empty`}},
		{"stream not a boolean", `{"model":"m","stream":1}`, "stream", []string{`"stream" must be true or false, not 1`}},
		{"negative max_tokens", `{"model":"m","max_tokens":-5}`, "max_tokens", []string{"whole number of tokens, not -5"}},
		// Issue #14: a limit no model writes made the reserved worst case overflow.
		{"max_tokens of 2^31", `{"model":"m","max_tokens":2147483648}`, "max_tokens", []string{"at most 100000000 tokens"}},
		{"max_tokens of 2^53", `{"model":"m","max_tokens":9007199254740992}`, "max_tokens", []string{"at most 100000000"}},
		{"max_tokens of 2^63-1", `{"model":"m","max_tokens":9223372036854775807}`, "max_tokens", []string{"at most 100000000"}},
		{"max_tokens of 1844674407370955", `{"model":"m","max_tokens":1844674407370955}`, "max_tokens", []string{"at most 100000000"}},
		{"max_tokens past int64", `{"model":"m","max_tokens":9223372036854775808}`, "max_tokens", []string{"whole number"}},
		{"max_tokens as a string", `{"model":"m","max_tokens":"64"}`, "max_tokens", []string{"whole number"}},
		{"max_tokens fractional", `{"model":"m","max_tokens":64.5}`, "max_tokens", []string{"whole number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Protocol{}.ParseRequest(allot.RouteMessages, []byte(tt.body))
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

func TestRewriteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route allot.Route
		body  string
		model string // served model; "" means the requested one
		want  string // "" means the body must come back as it is, not copied
	}{
		{name: "nothing to change", body: `{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[],"metadata":{"user_id":"u"}}`},
		{name: "downgrade", model: "claude-haiku-4-5",
			body: `{"model": "claude-opus-4-1", "max_tokens": 1, "system": "say \"model\":\"x\"", "messages": []}`,
			want: `{"model":"claude-haiku-4-5","max_tokens":1,"system":"say \"model\":\"x\"","messages":[]}`},
		{name: "task is removed, user_id kept", // Anthropic rejects metadata keys other than user_id
			body: `{"model":"m","max_tokens":1,"messages":[],"metadata":{"task":"review","user_id":"u1"}}`,
			want: `{"model":"m","max_tokens":1,"messages":[],"metadata":{"user_id":"u1"}}`},
		{name: "metadata with only the task is removed",
			body: `{"model":"m","stream":true,"metadata":{"task":"review"},"max_tokens":1,"messages":[]}`,
			want: `{"model":"m","stream":true,"max_tokens":1,"messages":[]}`},
		{name: "count_tokens: downgrade and task", route: allot.RouteCountTokens, model: "claude-haiku-4-5",
			body: `{"model":"claude-sonnet-4-5","messages":[],"metadata":{"task":"t"}}`,
			want: `{"model":"claude-haiku-4-5","messages":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route := tt.route
			if route == "" {
				route = allot.RouteMessages
			}
			p := Protocol{}
			body := []byte(tt.body)
			info, err := p.ParseRequest(route, body)
			if err != nil {
				t.Fatal(err)
			}
			model := tt.model
			if model == "" {
				model = info.Model
			}
			out, err := p.RewriteRequest(route, body, info, model)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if &out[0] != &body[0] || len(out) != len(body) {
					t.Fatalf("body rewritten to %s; want it returned as it is", out)
				}
				return
			}
			if string(out) != tt.want {
				t.Fatalf("rewritten to\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
	if _, err := (Protocol{}).RewriteRequest(allot.RouteMessages, []byte(`{"model":`), allot.RequestInfo{Model: "a"}, "b"); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("rewriting a malformed body: %v, want %s", err, allot.EInvalid)
	}
}

func TestInputText(t *testing.T) {
	t.Parallel()
	body := `{"model":"m","max_tokens":9,"system":[{"type":"text","text":"Be terse."}],"messages":[` +
		`{"role":"user","content":"What is in it?"},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"Look.","signature":"sig"},{"type":"tool_use","id":"t1","name":"ls","input":{"dir":"/"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"bin etc"}]},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}],` +
		`"tools":[{"name":"ls","input_schema":{"type":"object"}}]}`
	want := "Be terse.\nWhat is in it?\nLook.\n{\"dir\":\"/\"}\nbin etc\n[{\"name\":\"ls\",\"input_schema\":{\"type\":\"object\"}}]\n"
	if got := (Protocol{}).InputText(allot.RouteMessages, []byte(body)); got != want {
		t.Errorf("InputText = %q, want %q", got, want)
	}
	// An estimate is best effort: of a cut body, what is whole is read.
	if got := (Protocol{}).InputText(allot.RouteMessages, []byte(`{"system":"x","messages":[{"content":"y`)); got != "x\n" {
		t.Errorf("InputText of a cut body = %q", got)
	}
}

func TestUpstreamPathAndAuthorize(t *testing.T) {
	t.Parallel()
	p := Protocol{}
	for route, want := range map[allot.Route]string{
		allot.RouteMessages: "/v1/messages", allot.RouteCountTokens: "/v1/messages/count_tokens",
		allot.RouteModels: "/v1/models", allot.RouteChat: "",
	} {
		if got := p.UpstreamPath(route); got != want {
			t.Errorf("UpstreamPath(%s) = %q, want %q", route, got, want)
		}
	}
	if p.Name() != "anthropic" {
		t.Errorf("Name() = %q", p.Name())
	}
	h := http.Header{"Authorization": {"Bearer ak-client"}, "X-Api-Key": {"ak-client"}, "Anthropic-Version": {"2023-06-01"}}
	p.Authorize(h, "sk-ant-provider")
	if h.Get("X-Api-Key") != "sk-ant-provider" || h.Get("Authorization") != "" || h.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("headers after Authorize: %v", h)
	}
	p.Authorize(h, "")
	if h.Get("X-Api-Key") != "" || h.Get("Authorization") != "" {
		t.Errorf("with no provider key the client's credential must still go: %v", h)
	}
}

// typicalMessages is a messages request of about 2 KB.
var typicalMessages = []byte(`{"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,"metadata":{"user_id":"u-42","task":"code-review"},` +
	`"system":[{"type":"text","text":"You are a senior Go reviewer. Point out bugs, data races and unclear names.\nAnswer in short bullet points; quote the line you mean.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":"Review this function:\n\nfunc (s *Store) Get(k string) (v []byte, ok bool) {\n\ts.mu.RLock()\n\tdefer s.mu.RUnlock()\n\tv, ok = s.m[k]\n\treturn\n}\n` + strings.Repeat(`// padding comment to make the body realistic. `, 24) + `"},` +
	`{"role":"assistant","content":[{"type":"text","text":"- The returned slice aliases the stored value: a caller that writes to it races with readers.\n- Consider returning a copy."}]},` +
	`{"role":"user","content":[{"type":"text","text":"Show the fixed version, please."}]}],` +
	`"tools":[{"name":"run_tests","description":"Run the package tests","input_schema":{"type":"object","properties":{"pkg":{"type":"string"}},"required":["pkg"]}}]}`)

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalMessages)))
	for b.Loop() {
		if _, err := (Protocol{}).ParseRequest(allot.RouteMessages, typicalMessages); err != nil {
			b.Fatal(err)
		}
	}
}
