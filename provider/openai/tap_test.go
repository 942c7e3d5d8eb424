package openai

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
	"github.com/allot-dev/allot/provider/sse"
)

// replay feeds a recorded-shape response through a tap: a .sse file event
// by event, anything else as a whole body. It returns the bytes the client
// would receive of a stream.
func replay(t testing.TB, tp provider.Tap, file string) (forwarded string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(file, ".sse") {
		tp.Body(b)
		return ""
	}
	var out strings.Builder
	rd := sse.NewReader(bytes.NewReader(b))
	for {
		ev, err := rd.Next()
		if len(ev.Raw) > 0 && tp.Event(ev.Name, ev.Data) {
			out.Write(ev.Raw)
		}
		if err == io.EOF {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTapNormalizesUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       string
		route      allot.Route
		wantsUsage bool
		want       allot.Tokens
		have       bool // input and output reported
		model      string
		text       string
		hidden     string // what of the stream the client must not see
	}{
		{name: "chat: cached input and reasoning are parts of the totals", file: "chat.json", route: allot.RouteChat,
			want: allot.Tokens{Input: 2500, CacheRead: 1920, Output: 300, Reasoning: 256}, have: true,
			model: "o4-mini-2025-04-16", text: "The answer is 4."},
		{name: "chat: cache writes and tool call arguments", file: "chat_tool_call.json", route: allot.RouteChat,
			want: allot.Tokens{Input: 6144, CacheRead: 4096, CacheWrite5m: 2048, Output: 90, Reasoning: 64}, have: true,
			model: "gpt-5.1-2025-11-13", text: `{"city":"Paris"}`},
		{name: "chat stream: client asked for usage and sees it", file: "chat_stream_usage.sse", route: allot.RouteChat, wantsUsage: true,
			want: allot.Tokens{Input: 1300, CacheRead: 1152, Output: 3}, have: true, model: "gpt-4o-2024-08-06", text: "Hello thére"},
		{name: "chat stream: usage chunk allot asked for is hidden", file: "chat_stream_usage.sse", route: allot.RouteChat,
			want: allot.Tokens{Input: 1300, CacheRead: 1152, Output: 3}, have: true, model: "gpt-4o-2024-08-06", text: "Hello thére",
			hidden: `"choices":[],"usage":{`},
		{name: "chat stream: tool call argument deltas", file: "chat_stream_tools.sse", route: allot.RouteChat,
			want: allot.Tokens{Input: 3000, CacheRead: 2048, CacheWrite5m: 512, Output: 500, Reasoning: 448}, have: true,
			model: "o3-2025-04-16", text: `{"q":"allot"}`, hidden: `"prompt_tokens"`},
		{name: "chat stream without a usage chunk", file: "chat_stream_no_usage.sse", route: allot.RouteChat,
			model: "gpt-4o-mini-2024-07-18", text: "Hi"},
		{name: "chat stream cut mid-chunk", file: "chat_stream_cut.sse", route: allot.RouteChat,
			model: "gpt-4o-mini-2024-07-18", text: "Once upon"},
		{name: "responses: cache writes of any retention are one rate", file: "responses.json", route: allot.RouteResponses,
			want: allot.Tokens{Input: 4000, CacheRead: 2048, CacheWrite5m: 1000, Output: 900, Reasoning: 640}, have: true,
			model: "gpt-5-2025-08-07", text: "Checked the scope.\nRenamed.\n"},
		{name: "responses stream: usage from response.completed", file: "responses_stream.sse", route: allot.RouteResponses,
			want: allot.Tokens{Input: 37, Output: 11}, have: true, model: "gpt-4.1-2025-04-14", text: "Silent code"},
		{name: "responses stream: usage from response.incomplete", file: "responses_incomplete.sse", route: allot.RouteResponses,
			want: allot.Tokens{Input: 50, Output: 16, Reasoning: 12}, have: true, model: "o4-mini-2025-04-16", text: "Thinking. Long"},
		{name: "responses stream: usage from response.failed", file: "responses_failed.sse", route: allot.RouteResponses,
			want: allot.Tokens{Input: 120}, have: true, model: "gpt-4.1-2025-04-14"},
		{name: "embeddings: input only, and complete", file: "embeddings.json", route: allot.RouteEmbeddings,
			want: allot.Tokens{Input: 8}, have: true, model: "text-embedding-3-small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(tt.route, allot.RequestInfo{Stream: strings.HasSuffix(tt.file, ".sse"), WantsUsage: tt.wantsUsage})
			forwarded := replay(t, tp, tt.file)
			got, haveIn, haveOut := tp.Usage()
			if got != tt.want || haveIn != tt.have || haveOut != tt.have {
				t.Errorf("Usage() = %+v, %v, %v\nwant      %+v, %v, %v", got, haveIn, haveOut, tt.want, tt.have, tt.have)
			}
			if tp.Model() != tt.model {
				t.Errorf("Model() = %q, want %q", tp.Model(), tt.model)
			}
			if tp.OutputText() != tt.text {
				t.Errorf("OutputText() = %q, want %q", tp.OutputText(), tt.text)
			}
			if !strings.HasSuffix(tt.file, ".sse") {
				return
			}
			whole, _ := os.ReadFile(filepath.Join("testdata", tt.file))
			if tt.hidden != "" {
				if strings.Contains(forwarded, tt.hidden) {
					t.Errorf("the client saw %s", tt.hidden)
				}
				if !strings.Contains(forwarded, "data: [DONE]") {
					t.Error("the client did not see the end of the stream")
				}
			} else if forwarded != string(whole) {
				t.Errorf("the client saw\n%s\nwant the stream unchanged", forwarded)
			}
		})
	}
}

func TestTapIgnoresWhatIsNotUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event, data string
		route             allot.Route
	}{
		{"usage null", "", `{"choices":[],"usage":null}`, allot.RouteChat},
		{"error chunk", "", `{"error":{"message":"overloaded","type":"server_error"}}`, allot.RouteChat},
		{"not JSON", "", `{"choices":[{"delta":{"content":"x"`, allot.RouteChat},
		{"keep-alive", "", ``, allot.RouteChat},
		{"usage not an object", "", `{"choices":[],"usage":"lots"}`, allot.RouteChat},
		{"usage key in another case", "", `{"choices":[],"Usage":{"prompt_tokens":5}}`, allot.RouteChat},
		{"responses usage null", "response.created", `{"type":"response.created","response":{"usage":null}}`, allot.RouteResponses},
		{"responses error event", "error", `{"type":"error","code":"server_error","message":"boom"}`, allot.RouteResponses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(tt.route, allot.RequestInfo{Stream: true})
			if !tp.Event(tt.event, []byte(tt.data)) {
				t.Error("an event without usage was kept from the client")
			}
			if got, in, out := tp.Usage(); !got.IsZero() || in || out {
				t.Errorf("Usage() = %+v, %v, %v; want nothing reported", got, in, out)
			}
		})
	}
}

func TestTapNormalizesCompatibleServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       allot.Tokens
		text       string
	}{
		{"DeepSeek cache hits without details", `{"model":"deepseek-chat","choices":[{"message":{"content":"ok","reasoning_content":"hm "}}],"usage":{"prompt_tokens":100,"completion_tokens":10,"prompt_cache_hit_tokens":60,"prompt_cache_miss_tokens":40}}`,
			allot.Tokens{Input: 100, CacheRead: 60, Output: 10}, "okhm "},
		{"counts as floats, negative counts", `{"model":"m","choices":[],"usage":{"prompt_tokens":1e2,"completion_tokens":-5}}`,
			allot.Tokens{Input: 100}, ""},
		{"later usage wins", `{"model":"m","choices":[],"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}`,
			allot.Tokens{Input: 2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{})
			tp.Body([]byte(tt.body))
			if got, in, out := tp.Usage(); got != tt.want || !in || !out {
				t.Errorf("Usage() = %+v, %v, %v; want %+v", got, in, out, tt.want)
			}
			if tp.OutputText() != tt.text {
				t.Errorf("OutputText() = %q, want %q", tp.OutputText(), tt.text)
			}
		})
	}
}

func TestModelsListHasNoUsage(t *testing.T) {
	t.Parallel()
	tp := Protocol{}.NewTap(allot.RouteModels, allot.RequestInfo{})
	tp.Body([]byte(`{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1,"owned_by":"system"}]}`))
	if got, in, out := tp.Usage(); !got.IsZero() || in || out {
		t.Fatalf("Usage() = %+v, %v, %v", got, in, out)
	}
}

// TestChatTapDoesNotAllocatePerChunk: tapping a chunk costs no allocation
// beyond the growth of the kept output text. (Not parallel: AllocsPerRun
// measures the whole process.)
func TestChatTapDoesNotAllocatePerChunk(t *testing.T) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"token"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{Stream: true})
	if n := testing.AllocsPerRun(1000, func() { tp.Event("", chunk) }); n > 0 {
		t.Fatalf("%.2f allocations per chunk, want 0", n)
	}
}

var (
	chatChunk  = []byte(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x3"}`)
	usageChunk = []byte(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":1300,"completion_tokens":300,"total_tokens":1600,"prompt_tokens_details":{"cached_tokens":1152,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`)
)

// BenchmarkChatStreamTap taps a 300-chunk chat stream (about 80 KB): one
// op is one whole stream, with its usage chunk and [DONE].
func BenchmarkChatStreamTap(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(300*len(chatChunk) + len(usageChunk)))
	for b.Loop() {
		tp := Protocol{}.NewTap(allot.RouteChat, allot.RequestInfo{Stream: true})
		for range 300 {
			tp.Event("", chatChunk)
		}
		tp.Event("", usageChunk)
		tp.Event("", done)
		if _, ok, _ := tp.Usage(); !ok {
			b.Fatal("no usage")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/302, "ns/chunk")
}
