package anthropic

import (
	"encoding/json"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// FuzzMessagesTap: any event or body never panics, is always forwarded,
// and never yields a negative count or reasoning beyond the output.
func FuzzMessagesTap(f *testing.F) {
	f.Add("message_start", []byte(`{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"cache_creation_input_tokens":4,"cache_creation":{"ephemeral_1h_input_tokens":9},"output_tokens":1}}}`))
	f.Add("message_delta", []byte(`{"type":"message_delta","usage":{"output_tokens":3,"output_tokens_details":{"thinking_tokens":5}}}`))
	f.Add("content_block_delta", []byte(`{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`))
	f.Add("", []byte(`{"model":"m","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":1,"output_tokens":2}}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		once := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{Stream: true})
		tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{Stream: true})
		once.Event(name, data)
		for range 2 {
			if !tp.Event(name, data) {
				t.Fatal("an Anthropic event was kept from the client")
			}
		}
		if a, b := usageOf(once), usageOf(tp); a != b {
			t.Fatalf("counts are cumulative, but an event seen twice reads %+v, once %+v", b, a)
		}
		tp.Body(data)
		got, _, _ := tp.Usage()
		for _, n := range []int64{got.Input, got.CacheRead, got.CacheWrite5m, got.CacheWrite1h, got.Output, got.Reasoning} {
			if n < 0 {
				t.Fatalf("negative count in %+v", got)
			}
		}
		if got.Reasoning > got.Output || got.Uncached() != got.Input-got.CacheRead-got.CacheWrite() {
			t.Fatalf("inconsistent usage %+v", got)
		}
		_ = tp.Model()
		_ = tp.OutputText()
	})
}

func usageOf(tp provider.Tap) allot.Tokens {
	t, _, _ := tp.Usage()
	return t
}

// FuzzParseRequest: on any body, ParseRequest and InputText never panic;
// what ParseRequest accepts reads as encoding/json reads it (exact keys,
// last duplicate wins), and RewriteRequest turns it into valid JSON with
// the served model and without allot's task.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[],"metadata":{"task":"x","user_id":"u"}}`))
	f.Add([]byte(`{"model":"m","system":[{"type":"text","text":"s"}],"stream":true}`))
	f.Add([]byte(`{"mod\u0065l":"a","Model":"b","max_tokens":1e2}`))
	f.Add(typicalMessages)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, route := range []allot.Route{allot.RouteMessages, allot.RouteCountTokens} {
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
			served := info.Model + "-haiku"
			info.Task = "t" // exercise every rewrite
			out, err := Protocol{}.RewriteRequest(route, body, info, served)
			if err != nil {
				t.Fatalf("rewrite of an accepted body failed: %v", err)
			}
			again, err := Protocol{}.ParseRequest(route, out)
			if err != nil || !json.Valid(out) {
				t.Fatalf("rewritten body rejected: %v\n%s", err, out)
			}
			if again.Model != served || again.Task != "" {
				t.Fatalf("rewritten body reads %+v\n%s", again, out)
			}
		}
	})
}
