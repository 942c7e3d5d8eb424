package gateway_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func (h *harness) post(ctx context.Context, path, body string, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

// TestClientGoneCancelsUpstream: a client that leaves mid-stream stops the
// upstream call within 100 ms and still leaves one estimated event.
func TestClientGoneCancelsUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body string
	}{
		{"openai chat", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Tell me a long story about budgets"}]}`},
		{"anthropic messages", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"Tell me a long story about budgets"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := h.post(ctx, tt.path, tt.body, map[string]string{"x-sim-output-tokens": "400", "x-sim-chunk-delay": "20ms"})
			if err != nil {
				t.Fatal(err)
			}
			rd := bufio.NewReader(resp.Body)
			for seen := 0; seen < 6; {
				line, err := rd.ReadString('\n')
				if err != nil {
					t.Fatalf("stream ended early: %v", err)
				}
				if strings.HasPrefix(line, "data:") {
					seen++
				}
			}
			left := time.Now()
			cancel()
			resp.Body.Close()

			calls := h.waitSimDone()
			sim := calls[0]
			if !sim.Cancelled() {
				t.Fatalf("upstream call was not cancelled; it ran to the end (%d chunks)", sim.Chunks)
			}
			if d := sim.CancelledAt.Sub(left); d > 100*time.Millisecond {
				t.Errorf("upstream cancelled %v after the client left, want under 100ms", d)
			}
			ev := h.waitEvents(1)[0]
			if ev.Status != allot.StatusClientGone {
				t.Errorf("status = %d, want %d", ev.Status, allot.StatusClientGone)
			}
			if !ev.Estimated || ev.Tokens.Output <= 0 || ev.Tokens.Input <= 0 {
				t.Errorf("want an estimated event with input and output, got estimated=%v %+v", ev.Estimated, ev.Tokens)
			}
			if ev.Tokens.Output >= 400 {
				t.Errorf("estimated output %d counts tokens nobody read", ev.Tokens.Output)
			}
			if ev.Cost <= 0 || !ev.CostKnown {
				t.Errorf("estimated event is not priced: %s known=%v", ev.Cost, ev.CostKnown)
			}
		})
	}
}

// TestUpstreamCutStream: the provider drops the connection mid-stream. The
// input Anthropic reported in message_start is kept exactly; the output is
// estimated from the text seen.
func TestUpstreamCutStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	resp, err := h.post(context.Background(), "/v1/messages",
		`{"model":"claude-sonnet-4-5","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hello"}]}`,
		map[string]string{"x-sim-output-tokens": "100", "x-sim-cut-after": "5", "x-sim-input-tokens": "777"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sim := h.waitSimDone()[0]
	ev := h.waitEvents(1)[0]
	if ev.Tokens.Input != 777 || sim.Usage.Input != 777 {
		t.Errorf("input = %d (simulator %d), want the 777 reported in message_start", ev.Tokens.Input, sim.Usage.Input)
	}
	if !ev.Estimated || ev.Tokens.Output < 1 || ev.Tokens.Output > 20 {
		t.Errorf("want output estimated from 5 chunks of text, got estimated=%v output=%d", ev.Estimated, ev.Tokens.Output)
	}
}

// TestStreamIsNotBuffered: each upstream chunk reaches the client as it
// arrives (design invariant 5), and the stream's cost comes as a trailer.
func TestStreamIsNotBuffered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	start := time.Now()
	resp, err := h.post(context.Background(), "/v1/chat/completions",
		`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"count"}]}`,
		map[string]string{"x-sim-output-tokens": "6", "x-sim-chunk-delay": "120ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	var firstContent time.Duration
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			break
		}
		if firstContent == 0 && strings.Contains(line, `"content"`) {
			firstContent = time.Since(start)
		}
	}
	total := time.Since(start)
	if total < 600*time.Millisecond {
		t.Fatalf("stream took %v; the simulator delay was not applied", total)
	}
	if firstContent == 0 || firstContent > 400*time.Millisecond {
		t.Errorf("first content chunk arrived after %v of %v: the stream was buffered", firstContent, total)
	}
	ev := h.waitEvents(1)[0]
	if got := resp.Trailer.Get("X-Allot-Cost-Usd"); got != ev.Cost.String() {
		t.Errorf("cost trailer = %q, want %q", got, ev.Cost.String())
	}
}

// TestPassThrough: query strings and provider headers reach the provider;
// allot's own headers and the client's key do not; the cost header is set.
func TestPassThrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	resp, err := h.post(context.Background(), "/v1/messages?beta=true",
		`{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}],"metadata":{"task":"triage"}}`,
		map[string]string{"anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31", "X-Allot-Session": "s-42", "User-Agent": "claude-cli/2.0.14 (external, cli)"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sim := h.waitSimDone()[0]
	if sim.Query.Get("beta") != "true" {
		t.Errorf("query string lost: %v", sim.Query)
	}
	if sim.Header.Get("anthropic-beta") != "prompt-caching-2024-07-31" || sim.Header.Get("anthropic-version") != "2023-06-01" {
		t.Errorf("provider headers lost: %v", sim.Header)
	}
	if sim.Header.Get("X-Allot-Session") != "" || sim.Header.Get("Authorization") != "" || sim.Header.Get("X-Api-Key") != providerKey {
		t.Errorf("wrong credentials or allot headers upstream: %v", sim.Header)
	}
	ev := h.waitEvents(1)[0]
	if ev.Task != "triage" || ev.Session != "s-42" || ev.App != "claude-cli" {
		t.Errorf("attribution task=%q session=%q app=%q", ev.Task, ev.Session, ev.App)
	}
	if resp.Header.Get("X-Allot-Cost-Usd") != ev.Cost.String() {
		t.Errorf("cost header %q, event cost %s", resp.Header.Get("X-Allot-Cost-Usd"), ev.Cost)
	}
}

// TestUnknownModelKeepsTokens: a model without a price is recorded with its
// tokens and cost_known=false, and listed as unpriced.
func TestUnknownModelKeepsTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	resp, err := h.post(context.Background(), "/v1/chat/completions",
		`{"model":"my-secret-finetune","messages":[{"role":"user","content":"hi"}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ev := h.waitEvents(1)[0]
	if ev.CostKnown || ev.Cost != 0 || ev.Tokens.Input == 0 || ev.Tokens.Output == 0 {
		t.Errorf("unknown model event: known=%v cost=%s tokens=%+v", ev.CostKnown, ev.Cost, ev.Tokens)
	}
	missing, err := h.db.Unpriced(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0].Model != "my-secret-finetune" || missing[0].Requests != 1 {
		t.Errorf("unpriced models = %+v", missing)
	}
}
