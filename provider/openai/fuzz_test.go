package openai

import (
	"encoding/json"
	"testing"

	"github.com/allot-dev/allot"
)

var routes = []allot.Route{allot.RouteChat, allot.RouteResponses, allot.RouteEmbeddings}

// FuzzParseRequest: on any body, ParseRequest and InputText never panic;
// what ParseRequest accepts reads as encoding/json reads it (exact keys,
// last duplicate wins), and RewriteRequest turns it into valid JSON that
// says what allot meant.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"x"}],"metadata":{"task":"t"}}`))
	f.Add([]byte(`{"model":"x","input":[1,2],"stream":true,"stream_options":{"include_usage":false}}`))
	f.Add([]byte(`{"mod\u0065l":"a","Model":"b","max_tokens":1e2,"instructions":"\ud83d\ude00"}`))
	f.Add(typicalChat)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, route := range routes {
			_ = Protocol{}.InputText(route, body)
			info, err := Protocol{}.ParseRequest(route, body)
			if err != nil {
				if allot.CodeOf(err) != allot.EInvalid || allot.ErrorOf(err).Message == "" {
					t.Fatalf("error %v is not an EInvalid with a message", err)
				}
				continue
			}
			if info.MaxTokens < 0 || info.MaxTokens > allot.MaxCallTokens {
				t.Fatalf("accepted an output limit of %d, past one call's bound", info.MaxTokens)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(body, &top); err != nil {
				t.Fatalf("accepted a body encoding/json rejects: %v", err)
			}
			var model string
			if json.Unmarshal(top["model"], &model) != nil || model != info.Model {
				t.Fatalf("model %q, encoding/json reads %s", info.Model, top["model"])
			}
			served := info.Model + "-mini"
			info.Stream, info.Task = true, "t" // exercise every rewrite
			out, err := Protocol{}.RewriteRequest(route, body, info, served)
			if err != nil {
				t.Fatalf("rewrite of an accepted body failed: %v", err)
			}
			if !json.Valid(out) {
				t.Fatalf("rewrite produced invalid JSON: %s", out)
			}
			again, err := Protocol{}.ParseRequest(route, out)
			if err != nil {
				t.Fatalf("rewritten body rejected: %v\n%s", err, out)
			}
			if again.Model != served || (route == allot.RouteChat && !again.WantsUsage) {
				t.Fatalf("rewritten body reads %+v\n%s", again, out)
			}
		}
	})
}

// FuzzChatTap: any chunk, as an event or a body, never panics, and only
// a chunk that carries usage is ever held back.
func FuzzChatTap(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`))
	f.Add([]byte(`{"model":"m","choices":[{"delta":{"content":"x","tool_calls":[{"function":{"arguments":"{}"}}]}}]}`))
	f.Add(chatChunk)
	f.Add(usageChunk)
	f.Fuzz(func(t *testing.T, data []byte) {
		tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{Stream: true})
		forwarded := tp.Event("", data)
		_, have, _ := tp.Usage()
		if !forwarded && !have {
			t.Fatalf("held back a chunk without usage: %s", data)
		}
		tp.Body(data)
		_ = tp.Model()
		_ = tp.OutputText()
		if tp := (Protocol{}).NewTap(allot.RouteChat, allot.RequestInfo{WantsUsage: true}); !tp.Event("", data) {
			t.Fatalf("held back a chunk from a client that asked for usage: %s", data)
		}
	})
}

// FuzzResponsesTap: any Responses event or body never panics and is
// always forwarded.
func FuzzResponsesTap(f *testing.F) {
	f.Add("response.completed", []byte(`{"type":"response.completed","response":{"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}`))
	f.Add("response.output_text.delta", []byte(`{"type":"response.output_text.delta","delta":"hi"}`))
	f.Add("", []byte(`{"type":"response.reasoning_text.delta","delta":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tp := Protocol{}.NewTap(allot.RouteResponses, allot.RequestInfo{Stream: true})
		if !tp.Event(name, data) {
			t.Fatal("a Responses event was held back")
		}
		tp.Body(data)
		_, _, _ = tp.Usage()
		_ = tp.OutputText()
	})
}

// FuzzUsageBody: any usage object never panics, never yields a negative
// count, and agrees with encoding/json on the counts it reads.
func FuzzUsageBody(f *testing.F) {
	f.Add([]byte(`{"prompt_tokens":2500,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920,"cache_write_tokens":3},"completion_tokens_details":{"reasoning_tokens":256}}`))
	f.Add([]byte(`{"input_tokens":4000,"input_tokens_details":{"cached_tokens":2048,"cache_write_tokens":1000},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":640}}`))
	f.Add([]byte(`{"prompt_tokens":8,"total_tokens":8}`))
	f.Fuzz(func(t *testing.T, usage []byte) {
		got, ok := parseUsage(usage)
		for _, n := range []int64{got.Input, got.CacheRead, got.CacheWrite5m, got.CacheWrite1h, got.Output, got.Reasoning} {
			if n < 0 {
				t.Fatalf("negative count in %+v", got)
			}
		}
		var ref struct {
			PromptTokens        *int64 `json:"prompt_tokens"`
			InputTokens         *int64 `json:"input_tokens"`
			PromptTokensDetails *struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		}
		if json.Unmarshal(usage, &ref) != nil || !json.Valid(usage) {
			return
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(usage, &keys)
		if _, exact := keys["prompt_tokens"]; exact && ref.PromptTokens != nil && *ref.PromptTokens >= 0 {
			if _, in := keys["input_tokens"]; !in && (!ok || got.Input != *ref.PromptTokens) {
				t.Fatalf("prompt_tokens %d read as %+v, %v", *ref.PromptTokens, got, ok)
			}
		}
		tp := Protocol{}.NewTap(allot.RouteEmbeddings, allot.RequestInfo{})
		tp.Body(append(append([]byte(`{"usage":`), usage...), '}'))
		_, _, _ = tp.Usage()
	})
}
