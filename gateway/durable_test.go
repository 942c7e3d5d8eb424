package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// slowRecorder records events after a delay, and remembers their ids.
type slowRecorder struct {
	next  allot.Recorder
	mu    sync.Mutex
	ids   map[string]bool
	delay time.Duration
}

func (s *slowRecorder) Record(e allot.Event) {
	time.Sleep(s.delay)
	s.mu.Lock()
	s.ids[e.ID] = true
	s.mu.Unlock()
	s.next.Record(e)
}

func (s *slowRecorder) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// TestAnswerEndsOnlyAfterItsEventIsRecorded: a client that received a
// whole answer, streamed or not, finds its call already recorded, even
// when recording is slow: the gateway holds the stream's last events
// (and a plain answer's body) until the event is handed to the ledger,
// so killing allot right after an answer never loses its usage.
func TestAnswerEndsOnlyAfterItsEventIsRecorded(t *testing.T) {
	t.Parallel()
	rec := &slowRecorder{ids: map[string]bool{}, delay: 50 * time.Millisecond}
	h := newHarness(t, harnessOptions{wrapRecorder: func(next allot.Recorder) allot.Recorder { rec.next = next; return rec }})
	tests := []struct {
		name, path, body, end string
	}{
		{"chat stream without usage asked", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "[DONE]"},
		{"chat stream with usage", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, "[DONE]"},
		{"chat", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, `"usage"`},
		{"responses stream", "/v1/responses", `{"model":"gpt-4o","stream":true,"input":"hi"}`, "response.completed"},
		{"messages stream", "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "message_stop"},
		{"messages", "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, `"usage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := h.post(context.Background(), tt.path, tt.body, map[string]string{"x-sim-output-tokens": "20"})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// Read as a client does that stops at the answer's end marker
			// rather than waiting for the connection's end of body.
			var body []byte
			buf := make([]byte, 4096)
			for !strings.Contains(string(body), tt.end) {
				n, err := resp.Body.Read(buf)
				body = append(body, buf[:n]...)
				if err != nil {
					break
				}
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tt.end) {
				t.Fatalf("status %d, body lacks %q:\n%s", resp.StatusCode, tt.end, body)
			}
			if id := resp.Header.Get("X-Allot-Request-Id"); !rec.has(id) {
				t.Errorf("the client has the whole answer but call %s is not recorded yet", id)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		})
	}
}
