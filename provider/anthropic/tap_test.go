package anthropic

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
// by event (every event must be forwarded), anything else as a whole body.
func replay(t testing.TB, tp provider.Tap, file string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(file, ".sse") {
		tp.Body(b)
		return
	}
	rd := sse.NewReader(bytes.NewReader(b))
	for {
		ev, err := rd.Next()
		if len(ev.Raw) > 0 && !tp.Event(ev.Name, ev.Data) {
			t.Fatalf("event %q was kept from the client", ev.Name)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTapNormalizesUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		file            string
		route           allot.Route
		want            allot.Tokens
		haveIn, haveOut bool
		model, text     string
	}{
		{name: "cache reads and 5m and 1h writes are parts of the input",
			file:   "message.json", // 1000 uncached + 4000 read + 4000 written (1500 for 5m, 2500 for 1h)
			want:   allot.Tokens{Input: 9000, CacheRead: 4000, CacheWrite5m: 1500, CacheWrite1h: 2500, Output: 320},
			haveIn: true, haveOut: true, model: "claude-sonnet-4-5-20250929", text: "Here is a summary.\n"},
		{name: "without a breakdown every cache write is a 5-minute write",
			file:   "message_no_breakdown.json",
			want:   allot.Tokens{Input: 320, CacheWrite5m: 300, Output: 5},
			haveIn: true, haveOut: true, model: "claude-3-5-haiku-20241022", text: "ok\n"},
		{name: "thinking is part of the output",
			file:   "message_thinking.json",
			want:   allot.Tokens{Input: 50, Output: 180, Reasoning: 120},
			haveIn: true, haveOut: true, model: "claude-opus-4-5-20251101", text: "The user wants a haiku.\nAutumn moonlight\n{\"title\":\"haiku\"}\n"},
		{name: "stream: message_delta counts are cumulative, the last is the total",
			file:   "stream.sse", // 7 then 15 output tokens: 15, not 22
			want:   allot.Tokens{Input: 2025, CacheRead: 2000, Output: 15},
			haveIn: true, haveOut: true, model: "claude-haiku-4-5-20251001", text: "Hello wörld"},
		{name: "stream: tool input, thinking, and the cache breakdown from message_start",
			file:   "stream_tool_use.sse",
			want:   allot.Tokens{Input: 15472, CacheRead: 12000, CacheWrite5m: 1000, CacheWrite1h: 2000, Output: 89, Reasoning: 40},
			haveIn: true, haveOut: true, model: "claude-sonnet-4-5-20250929", text: `Need the weather. {"location": "San Francisco, CA"}`},
		{name: "stream cut after message_start: the input is known, the output is not",
			file:   "stream_cut.sse",
			want:   allot.Tokens{Input: 877, CacheWrite5m: 100, Output: 1},
			haveIn: true, haveOut: false, model: "claude-sonnet-4-5-20250929", text: "Partial"},
		{name: "stream ended by an error event",
			file:   "stream_error.sse",
			want:   allot.Tokens{Input: 4096, Output: 1},
			haveIn: true, haveOut: false, model: "claude-opus-4-1-20250805", text: "Let me"},
		{name: "count_tokens is free: recorded with zero tokens, complete",
			file: "count_tokens.json", route: allot.RouteCountTokens,
			haveIn: true, haveOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route := tt.route
			if route == "" {
				route = allot.RouteMessages
			}
			tp := Protocol{}.NewTap(route, allot.RequestInfo{Stream: strings.HasSuffix(tt.file, ".sse")})
			replay(t, tp, tt.file)
			got, in, out := tp.Usage()
			if got != tt.want || in != tt.haveIn || out != tt.haveOut {
				t.Errorf("Usage() = %+v, %v, %v\nwant      %+v, %v, %v", got, in, out, tt.want, tt.haveIn, tt.haveOut)
			}
			if tp.Model() != tt.model || tp.OutputText() != tt.text {
				t.Errorf("Model() = %q, OutputText() = %q; want %q, %q", tp.Model(), tp.OutputText(), tt.model, tt.text)
			}
		})
	}
}

func TestTapEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events [][2]string // name, data
		want   allot.Tokens
		in     bool
		out    bool
	}{
		{"a zero in a later delta does not lower a count", [][2]string{
			{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}`},
			{"message_delta", `{"type":"message_delta","usage":{"input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`},
		}, allot.Tokens{Input: 15, CacheRead: 5, Output: 9}, true, true},
		{"a delta may raise the input (server tools run several turns)", [][2]string{
			{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}`},
			{"message_delta", `{"type":"message_delta","usage":{"input_tokens":30,"cache_creation_input_tokens":4,"output_tokens":9}}`},
		}, allot.Tokens{Input: 34, CacheWrite5m: 4, Output: 9}, true, true},
		{"writes above the breakdown count as 5-minute writes", [][2]string{
			{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":1,"cache_creation_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":60},"output_tokens":1}}}`},
			{"message_delta", `{"type":"message_delta","usage":{"output_tokens":2}}`},
		}, allot.Tokens{Input: 101, CacheWrite5m: 40, CacheWrite1h: 60, Output: 2}, true, true},
		{"a breakdown without a total still counts", [][2]string{
			{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":7,"ephemeral_1h_input_tokens":3},"output_tokens":1}}}`},
		}, allot.Tokens{Input: 11, CacheWrite5m: 7, CacheWrite1h: 3, Output: 1}, true, false},
		{"the type member decides, not the event name", [][2]string{
			{"", `{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}`},
			{"ping", `{"type":"message_delta","usage":{"output_tokens":4}}`},
		}, allot.Tokens{Input: 3, Output: 4}, true, true},
		{"nothing but pings", [][2]string{{"ping", `{"type": "ping"}`}, {"", ""}}, allot.Tokens{}, false, false},
		{"malformed events are ignored", [][2]string{
			{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":"3"}}}`},
			{"message_delta", `{"type":"message_delta","usage":{"output_tokens":-2}}`},
			{"message_delta", `not json`},
		}, allot.Tokens{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{Stream: true})
			for _, e := range tt.events {
				if !tp.Event(e[0], []byte(e[1])) {
					t.Fatalf("event %s was kept from the client", e[0])
				}
			}
			if got, in, out := tp.Usage(); got != tt.want || in != tt.in || out != tt.out {
				t.Errorf("Usage() = %+v, %v, %v; want %+v, %v, %v", got, in, out, tt.want, tt.in, tt.out)
			}
		})
	}
}

// TestStreamTapDoesNotAllocatePerEvent: tapping an event costs no
// allocation beyond the growth of the kept output text. (Not parallel:
// AllocsPerRun measures the whole process.)
func TestStreamTapDoesNotAllocatePerEvent(t *testing.T) {
	delta := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token"}}`)
	ping := []byte(`{"type": "ping"}`)
	tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{Stream: true})
	if n := testing.AllocsPerRun(1000, func() {
		tp.Event("content_block_delta", delta)
		tp.Event("ping", ping)
	}); n > 0 {
		t.Fatalf("%.2f allocations per event, want 0", n)
	}
}

// BenchmarkMessagesStreamTap taps a 300-delta stream: one op is one stream.
func BenchmarkMessagesStreamTap(b *testing.B) {
	start := []byte(`{"type":"message_start","message":{"id":"msg_03","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":2000,"output_tokens":1}}}`)
	delta := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" token"}}`)
	end := []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":300}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(start) + 300*len(delta) + len(end)))
	for b.Loop() {
		tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{Stream: true})
		tp.Event("message_start", start)
		for range 300 {
			tp.Event("content_block_delta", delta)
		}
		tp.Event("message_delta", end)
		if _, _, out := tp.Usage(); !out {
			b.Fatal("no usage")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/302, "ns/event")
}
