package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/allot-dev/allot"
)

// intentSpy is an allot.IntentRecorder that remembers the intents and
// events it was given, in order.
type intentSpy struct {
	next allot.Recorder

	mu      sync.Mutex
	intents map[string]allot.Event
	events  map[string]allot.Event
}

func (s *intentSpy) Intend(e allot.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intents[e.ID] = e
}

func (s *intentSpy) Record(e allot.Event) {
	s.mu.Lock()
	s.events[e.ID] = e
	s.mu.Unlock()
	s.next.Record(e)
}

func (s *intentSpy) counts() (intents, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.intents), len(s.events)
}

// TestIntentIsJournaledBeforeTheCallIsForwarded: every metered call's
// intent reaches the recorder before the provider sees the call, under the
// call's event ID, holding what recovery needs: the event to record should
// allot die in flight, with the request's input at four bytes a token and
// the reservation's worst-case output, priced, flagged estimated. Calls
// the provider does not bill (model lists, token counts) have none.
func TestIntentIsJournaledBeforeTheCallIsForwarded(t *testing.T) {
	t.Parallel()
	spy := &intentSpy{intents: map[string]allot.Event{}, events: map[string]allot.Event{}}
	var (
		mu        sync.Mutex
		upstream  int // calls the provider received
		unjournal int // of them, received with fewer intents journaled than calls
	)
	h := newHarness(t, harnessOptions{
		wrapRecorder: func(next allot.Recorder) allot.Recorder { spy.next = next; return spy },
		wrapSim: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				upstream++
				if n, _ := spy.counts(); n < upstream && r.URL.Path != "/v1/models" && r.URL.Path != "/v1/messages/count_tokens" {
					unjournal++
				}
				mu.Unlock()
				next.ServeHTTP(w, r)
			})
		},
	})
	tests := []struct {
		name, method, path, body string
		wantOutput               int64 // the intent's output tokens; -1: no intent
	}{
		{"chat with max_tokens", "POST", "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":300,"messages":[{"role":"user","content":"hi"}]}`, 300},
		{"chat stream without a limit: the model's maximum", "POST", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 16384},
		{"messages", "POST", "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, 50},
		{"embeddings: no output", "POST", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, 0},
		{"count tokens: not billed", "POST", "/v1/messages/count_tokens", `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}`, -1},
		{"models: not billed", "GET", "/v1/models", "", -1},
	}
	for _, tt := range tests { // one at a time: the upstream check counts calls
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := http.NewRequest(tt.method, h.url+tt.path, body)
			req.Header.Set("Authorization", "Bearer "+h.key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			id := resp.Header.Get("X-Allot-Request-Id")
			h.waitSimDone()
			h.events() // the handler has recorded once the writer flushed it
			spy.mu.Lock()
			in, hasIntent := spy.intents[id]
			spy.mu.Unlock()
			if tt.wantOutput < 0 {
				if hasIntent {
					t.Errorf("a call the provider does not bill has an intent: %+v", in)
				}
				return
			}
			if !hasIntent {
				t.Fatalf("call %s reached the provider without an intent", id)
			}
			want := allot.Tokens{Input: (int64(len(tt.body)) + 3) / 4, Output: tt.wantOutput}
			cost, known := h.pricer.Cost(in.Provider, in.ServedModel, in.Time, want)
			if in.Tokens != want || in.Cost != cost || in.CostKnown != known {
				t.Errorf("intent tokens %+v cost %s (known %v), want %+v cost %s (known %v)", in.Tokens, in.Cost, in.CostKnown, want, cost, known)
			}
			if !in.Estimated || in.Status != allot.StatusCrashed || in.Principal.User != "alice" || in.RequestBytes != int64(len(tt.body)) || in.ServedModel == "" {
				t.Errorf("intent %+v: want the call's principal, size and model, estimated, status %d", in, allot.StatusCrashed)
			}
			spy.mu.Lock()
			ev, recorded := spy.events[id]
			spy.mu.Unlock()
			if !recorded || ev.Estimated || ev.Status != http.StatusOK {
				t.Errorf("call %s completed, but its event is %+v (recorded %v): want the real one, completing the intent", id, ev, recorded)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if unjournal > 0 {
		t.Errorf("%d calls reached the provider before their intent was journaled", unjournal)
	}
}
