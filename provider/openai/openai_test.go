package openai

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/sse"
)

// replay feeds a recorded-shape response through a tap and returns the
// events it forwarded.
func replay(t testing.TB, tp allot.Tap, file string) (forwarded int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(file, ".sse") {
		tp.Body(b)
		return 0
	}
	rd := sse.NewReader(strings.NewReader(string(b)))
	for {
		ev, err := rd.Next()
		if len(ev.Raw) > 0 && tp.Event(ev.Name, ev.Data) {
			forwarded++
		}
		if err == io.EOF {
			return forwarded
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTapNormalizesUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		route      allot.Route
		wantsUsage bool
		want       allot.Tokens
		have       bool
		model      string
		text       string
		forwarded  int
	}{
		{file: "chat.json", route: allot.RouteChat, have: true, model: "o4-mini-2025-04-16", text: "The answer is 4.",
			want: allot.Tokens{Input: 2500, CacheRead: 1920, Output: 300, Reasoning: 256}},
		{file: "chat_stream_usage.sse", route: allot.RouteChat, wantsUsage: true, have: true, model: "gpt-4o-2024-08-06", text: "Hello there", forwarded: 6,
			want: allot.Tokens{Input: 1300, CacheRead: 1152, Output: 2}},
		{file: "chat_stream_usage.sse", route: allot.RouteChat, wantsUsage: false, have: true, model: "gpt-4o-2024-08-06", text: "Hello there", forwarded: 5,
			want: allot.Tokens{Input: 1300, CacheRead: 1152, Output: 2}},
		{file: "chat_stream_cut.sse", route: allot.RouteChat, have: false, model: "gpt-4o-mini", text: "Once upon", forwarded: 2},
		{file: "responses.json", route: allot.RouteResponses, have: true, model: "gpt-5-2025-08-07", text: "Renamed.",
			want: allot.Tokens{Input: 4000, CacheRead: 2048, CacheWrite5m: 400, CacheWrite1h: 600, Output: 900, Reasoning: 640}},
		{file: "responses_stream.sse", route: allot.RouteResponses, have: true, model: "gpt-4o-2024-08-06", text: "Silent code", forwarded: 4,
			want: allot.Tokens{Input: 37, Output: 11}},
		{file: "responses_incomplete.sse", route: allot.RouteResponses, have: true, model: "gpt-4o", text: "Long", forwarded: 2,
			want: allot.Tokens{Input: 50, Output: 16}},
		{file: "embeddings.json", route: allot.RouteEmbeddings, have: true, model: "text-embedding-3-small",
			want: allot.Tokens{Input: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(tt.route, allot.RequestInfo{WantsUsage: tt.wantsUsage, Stream: true})
			fwd := replay(t, tp, tt.file)
			got, haveIn, haveOut := tp.Usage()
			if got != tt.want || haveIn != tt.have || haveOut != tt.have {
				t.Errorf("Usage() = %+v, %v, %v; want %+v, %v", got, haveIn, haveOut, tt.want, tt.have)
			}
			if tp.Model() != tt.model {
				t.Errorf("Model() = %q, want %q", tp.Model(), tt.model)
			}
			if tp.OutputText() != tt.text {
				t.Errorf("OutputText() = %q, want %q", tp.OutputText(), tt.text)
			}
			if fwd != tt.forwarded {
				t.Errorf("forwarded %d events, want %d", fwd, tt.forwarded)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route allot.Route
		body  string
		want  allot.RequestInfo
		err   allot.ErrorCode
		param string
	}{
		{name: "chat", route: allot.RouteChat, body: `{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"hi"}],"metadata":{"task":"triage"}}`,
			want: allot.RequestInfo{Model: "gpt-4o", MaxTokens: 50, Messages: 2, Task: "triage", SystemFP: fnvString(`"Be terse."`)}},
		{name: "chat stream with usage", route: allot.RouteChat, body: `{"model":"o3","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":9,"messages":[]}`,
			want: allot.RequestInfo{Model: "o3", Stream: true, WantsUsage: true, MaxTokens: 9}},
		{name: "responses", route: allot.RouteResponses, body: `{"model":"gpt-5","instructions":"Refactor.","input":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"max_output_tokens":100}`,
			want: allot.RequestInfo{Model: "gpt-5", Messages: 2, MaxTokens: 100, SystemFP: fnvString("Refactor.")}},
		{name: "embeddings", route: allot.RouteEmbeddings, body: `{"model":"text-embedding-3-small","input":"one string"}`,
			want: allot.RequestInfo{Model: "text-embedding-3-small", Messages: 1}},
		{name: "malformed", route: allot.RouteChat, body: `{"model":`, err: allot.EInvalid},
		{name: "not an object", route: allot.RouteChat, body: `["gpt-4o"]`, err: allot.EInvalid},
		{name: "empty", route: allot.RouteChat, body: ``, err: allot.EInvalid},
		{name: "missing model", route: allot.RouteChat, body: `{"messages":[]}`, err: allot.EInvalid, param: "model"},
		{name: "wrong type", route: allot.RouteChat, body: `{"model":"gpt-4o","stream":"yes"}`, err: allot.EInvalid, param: "stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Protocol{}.ParseRequest(tt.route, []byte(tt.body))
			if tt.err != "" {
				e := allot.ErrorOf(err)
				if err == nil || e.Code != tt.err || e.Param != tt.param || e.Message == "" {
					t.Fatalf("err = %v (param %q), want %s (param %q)", err, e.Param, tt.err, tt.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.RequestFP = Fingerprint([]byte(tt.body))
			if got != tt.want {
				t.Errorf("ParseRequest = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func fnvString(s string) uint64 { return Fingerprint([]byte(s)) }

func TestRewriteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, model string
		want              map[string]any // top-level fields that must hold after the rewrite
		same              bool           // the body must come back untouched
	}{
		{name: "nothing to change", body: `{"model":"gpt-4o","messages":[]}`, model: "gpt-4o", same: true},
		{name: "stream gets usage", body: `{"model":"gpt-4o","stream":true,"messages":[]}`, model: "gpt-4o",
			want: map[string]any{"stream_options": map[string]any{"include_usage": true}, "stream": true}},
		{name: "existing stream options kept", body: `{"model":"gpt-4o","stream":true,"stream_options":{"include_obfuscation":false}}`, model: "gpt-4o",
			want: map[string]any{"stream_options": map[string]any{"include_usage": true, "include_obfuscation": false}}},
		{name: "downgrade", body: `{"model":"gpt-4o","messages":[]}`, model: "gpt-4o-mini", want: map[string]any{"model": "gpt-4o-mini"}},
		{name: "empty object stream", body: `{"stream":true,"model":"x"}`, model: "x", want: map[string]any{"model": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Protocol{}
			info, err := p.ParseRequest(allot.RouteChat, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.RewriteRequest(allot.RouteChat, []byte(tt.body), info, tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if tt.same {
				if string(out) != tt.body {
					t.Fatalf("body changed: %s", out)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("rewritten body is not JSON: %v: %s", err, out)
			}
			for k, v := range tt.want {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(v)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s (body %s)", k, gb, wb, out)
				}
			}
		})
	}
}

func TestErrorBodyParsesAsOpenAIError(t *testing.T) {
	t.Parallel()
	b := Protocol{}.ErrorBody(&allot.Error{Code: allot.EBudget, Message: "budget x exhausted", Param: ""})
	var e struct {
		Error struct {
			Message, Type, Code string
			Param               *string
		}
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message != "budget x exhausted" || e.Error.Type != "budget_exceeded" || e.Error.Param != nil {
		t.Fatalf("error body %s", b)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(`{"model":"gpt-4o","messages":[{"role":"system","content":"x"}]}`)
	f.Add(`{"model":"x","input":[1,2],"stream":true}`)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range []allot.Route{allot.RouteChat, allot.RouteResponses, allot.RouteEmbeddings} {
			info, err := Protocol{}.ParseRequest(r, []byte(body))
			if err == nil {
				if _, err := (Protocol{}).RewriteRequest(r, []byte(body), info, info.Model+"-x"); err != nil {
					t.Fatalf("rewrite of a parsed request failed: %v", err)
				}
			}
			_ = Protocol{}.InputText(r, []byte(body))
		}
	})
}

func FuzzChatTap(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{})
		tp.Event("", data)
		tp.Body(data)
		tp.Usage()
	})
}

func FuzzResponsesTap(f *testing.F) {
	f.Add("response.completed", []byte(`{"type":"response.completed","response":{"usage":{"input_tokens":3}}}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tp := Protocol{}.NewTap(allot.RouteResponses, allot.RequestInfo{})
		tp.Event(name, data)
		tp.Body(data)
		tp.Usage()
	})
}

func BenchmarkParseRequest(b *testing.B) {
	body := []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"` + strings.Repeat("You are helpful. ", 60) + `"},{"role":"user","content":"` + strings.Repeat("Explain this. ", 60) + `"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Protocol{}.ParseRequest(allot.RouteChat, body)
	}
}

func BenchmarkChatStreamTap(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hello"},"finish_reason":null}],"usage":null}`)
	b.ReportAllocs()
	for b.Loop() {
		tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{})
		for i := 0; i < 20; i++ {
			tp.Event("", chunk)
		}
	}
}
