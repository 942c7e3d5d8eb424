package anthropic

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

func replay(t testing.TB, tp allot.Tap, file string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(file, ".sse") {
		tp.Body(b)
		return
	}
	rd := sse.NewReader(strings.NewReader(string(b)))
	for {
		ev, err := rd.Next()
		if len(ev.Raw) > 0 && !tp.Event(ev.Name, ev.Data) {
			t.Fatalf("event %q was held back from the client", ev.Name)
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
		file            string
		want            allot.Tokens
		haveIn, haveOut bool
		model, text     string
	}{
		// input 1000 uncached + 4000 read + 4000 written (1500 5m, 2500 1h) = 9000
		{"message.json", allot.Tokens{Input: 9000, CacheRead: 4000, CacheWrite5m: 1500, CacheWrite1h: 2500, Output: 320}, true, true, "claude-sonnet-4-5-20250929", "Here is a summary."},
		// no 5m/1h breakdown: every cache write counts as a 5-minute write
		{"message_nosplit.json", allot.Tokens{Input: 320, CacheWrite5m: 300, Output: 5}, true, true, "claude-3-5-haiku-20241022", "ok"},
		// message_delta counts are cumulative: the last one (15) is the total, not 7+15
		{"stream.sse", allot.Tokens{Input: 2025, CacheRead: 2000, Output: 15}, true, true, "claude-haiku-4-5-20251001", "Hello world"},
		// cut after message_start: input known exactly, output not reported
		{"stream_cut.sse", allot.Tokens{Input: 777}, true, false, "claude-sonnet-4-5", "Partial"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{})
			replay(t, tp, tt.file)
			got, in, out := tp.Usage()
			if got != tt.want || in != tt.haveIn || out != tt.haveOut {
				t.Errorf("Usage() = %+v, %v, %v; want %+v, %v, %v", got, in, out, tt.want, tt.haveIn, tt.haveOut)
			}
			if tp.Model() != tt.model || tp.OutputText() != tt.text {
				t.Errorf("model %q text %q; want %q %q", tp.Model(), tp.OutputText(), tt.model, tt.text)
			}
		})
	}
}

func TestCountTokensIsFree(t *testing.T) {
	t.Parallel()
	tp := Protocol{}.NewTap(allot.RouteCountTokens, allot.RequestInfo{})
	tp.Body([]byte(`{"input_tokens":1234}`))
	if got, in, out := tp.Usage(); !got.IsZero() || !in || !out {
		t.Fatalf("count_tokens usage = %+v %v %v, want zero and complete", got, in, out)
	}
}

func TestParseAndRewriteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       allot.RequestInfo
		err        bool
		model      string
		wantBody   map[string]any // fields after the rewrite; "metadata" absent if nil value
		same       bool
	}{
		{name: "plain", body: `{"model":"claude-haiku-4-5","max_tokens":64,"system":"Be terse.","messages":[{"role":"user","content":"hi"}]}`,
			want: allot.RequestInfo{Model: "claude-haiku-4-5", MaxTokens: 64, Messages: 1, SystemFP: fingerprint([]byte("Be terse."))}, model: "claude-haiku-4-5", same: true},
		{name: "system blocks fingerprint like text", body: `{"model":"m","max_tokens":1,"system":[{"type":"text","text":"Be terse.","cache_control":{"type":"ephemeral"}}],"messages":[]}`,
			want: allot.RequestInfo{Model: "m", MaxTokens: 1, SystemFP: fingerprint([]byte("Be terse.\n"))}, model: "m", same: true},
		{name: "task is read and stripped", body: `{"model":"m","max_tokens":1,"messages":[],"metadata":{"task":"review","user_id":"u1"}}`,
			want: allot.RequestInfo{Model: "m", MaxTokens: 1, Task: "review"}, model: "m", wantBody: map[string]any{"metadata": map[string]any{"user_id": "u1"}}},
		{name: "task only: metadata removed", body: `{"model":"m","stream":true,"max_tokens":1,"messages":[],"metadata":{"task":"review"}}`,
			want: allot.RequestInfo{Model: "m", Stream: true, MaxTokens: 1, Task: "review"}, model: "m", wantBody: map[string]any{"metadata": nil}},
		{name: "downgrade", body: `{"model":"claude-opus-4-1","max_tokens":1,"messages":[]}`,
			want: allot.RequestInfo{Model: "claude-opus-4-1", MaxTokens: 1}, model: "claude-haiku-4-5", wantBody: map[string]any{"model": "claude-haiku-4-5"}},
		{name: "malformed", body: `[1,2`, err: true},
		{name: "missing model", body: `{"max_tokens":5}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Protocol{}
			info, err := p.ParseRequest(allot.RouteMessages, []byte(tt.body))
			if tt.err {
				if allot.CodeOf(err) != allot.EInvalid {
					t.Fatalf("err = %v, want EInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.RequestFP = fingerprint([]byte(tt.body))
			if info != tt.want {
				t.Errorf("info = %+v\nwant %+v", info, tt.want)
			}
			out, err := p.RewriteRequest(allot.RouteMessages, []byte(tt.body), info, tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if tt.same {
				if string(out) != tt.body {
					t.Errorf("body changed: %s", out)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.wantBody {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(v)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s", k, gb, wb)
				}
			}
		})
	}
}

func TestErrorBodyShape(t *testing.T) {
	t.Parallel()
	b := Protocol{}.ErrorBody(allot.Errorf(allot.ETooLarge, "too big"))
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type != "request_too_large" || e.Error.Message != "too big" {
		t.Fatalf("error body %s", b)
	}
}

func FuzzMessagesTap(f *testing.F) {
	f.Add("message_start", []byte(`{"type":"message_start","message":{"usage":{"input_tokens":3}}}`))
	f.Add("message_delta", []byte(`{"type":"message_delta","usage":{"output_tokens":3}}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{})
		if !tp.Event(name, data) {
			t.Fatal("an Anthropic event was held back")
		}
		tp.Body(data)
		tp.Usage()
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add(`{"model":"m","max_tokens":1,"messages":[],"metadata":{"task":"x"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		info, err := Protocol{}.ParseRequest(allot.RouteMessages, []byte(body))
		if err == nil {
			if _, err := (Protocol{}).RewriteRequest(allot.RouteMessages, []byte(body), info, "other"); err != nil {
				t.Fatalf("rewrite of a parsed request failed: %v", err)
			}
		}
		_ = Protocol{}.InputText(allot.RouteMessages, []byte(body))
	})
}
