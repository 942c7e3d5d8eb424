//go:build !nosdk

package upstreamsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

func asError[T error](err error, target *T) bool { return errors.As(err, target) }

// isStatus reports whether err is an API error of either SDK with status code.
func isStatus(err error, code int) bool {
	var o *openai.Error
	var a *anthropic.Error
	switch {
	case errors.As(err, &o):
		return o.StatusCode == code
	case errors.As(err, &a):
		return a.StatusCode == code
	}
	return false
}

func TestStatusHeaderAnswersAnErrorInTheCallersProtocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status        int
		openAIType    string
		anthropicType string
	}{
		{400, "invalid_request_error", "invalid_request_error"},
		{401, "invalid_request_error", "authentication_error"},
		{403, "permission_error", "permission_error"},
		{404, "invalid_request_error", "not_found_error"},
		{429, "requests", "rate_limit_error"},
		{500, "server_error", "api_error"},
		{503, "server_error", "api_error"},
		{529, "server_error", "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, Options{})
			status := fmt.Sprint(tt.status)
			wantMsg := "simulated " + status

			_, err := openAIClient(srv).Chat.Completions.New(context.Background(), chatParams("gpt-4o", "hi"), ohdr("x-sim-status", status)...)
			var oe *openai.Error
			if !asError(err, &oe) || oe.StatusCode != tt.status || oe.Type != tt.openAIType || !strings.Contains(oe.Message, wantMsg) {
				t.Errorf("openai: %v %+v, want status %d type %s", err, oe, tt.status, tt.openAIType)
			}
			stream := openAIClient(srv).Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-4o"}, ohdr("x-sim-status", status)...)
			for stream.Next() {
				t.Error("a failed stream produced an event")
			}
			if !isStatus(stream.Err(), tt.status) {
				t.Errorf("openai stream: %v, want status %d", stream.Err(), tt.status)
			}

			_, err = anthropicClient(srv).Messages.New(context.Background(), msgParams("claude-haiku-4-5", nil, anthropic.NewTextBlock("hi")), ahdr("x-sim-status", status)...)
			var ae *anthropic.Error
			if !asError(err, &ae) || ae.StatusCode != tt.status || string(ae.Type()) != tt.anthropicType || !strings.Contains(ae.Message, wantMsg) || !strings.HasPrefix(ae.RequestID, "req_") {
				t.Errorf("anthropic: %v %+v, want status %d type %s", err, ae, tt.status, tt.anthropicType)
			}
			for _, c := range sim.Calls() {
				if c.Status != tt.status || !c.Usage.IsZero() || c.Model == "" {
					t.Errorf("call %s recorded status %d usage %+v model %q", c.Path, c.Status, c.Usage, c.Model)
				}
			}
		})
	}
}

func TestRetryAfterHeaderComesWithTheError(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{RequireKey: "-"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{}`))
	req.Header.Set("x-api-key", "-")
	req.Header.Set("x-sim-status", "429")
	req.Header.Set("x-sim-retry-after", "7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != 429 || res.Header.Get("retry-after") != "7" {
		t.Errorf("status %d retry-after %q", res.StatusCode, res.Header.Get("retry-after"))
	}
}

func TestRequestsTheProviderWouldRejectAreRejected(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	tests := []struct {
		name, path, body string
		headers          []string
		status           int
		message          string
	}{
		{"malformed control header", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			[]string{"x-sim-output-tokens", "many"}, 400, "x-sim-output-tokens"},
		{"invalid JSON", "/v1/chat/completions", `{"model":`, nil, 400, "not valid JSON"},
		{"no model", "/v1/responses", `{"input":"hi"}`, nil, 400, "model"},
		{"no messages", "/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, nil, 400, "messages"},
		{"anthropic without max_tokens", "/v1/messages", `{"model":"claude-haiku-4-5","messages":[]}`, nil, 400, "max_tokens: Field required"},
		{"unknown model under strict models", "/v1/messages", `{"model":"claude-nope","max_tokens":5,"messages":[]}`,
			[]string{"x-sim-strict-models", "1"}, 404, "claude-nope"},
		{"unknown model accepted by default", "/v1/messages", `{"model":"claude-nope","max_tokens":5,"messages":[]}`, nil, 200, ""},
		{"dated snapshot of a listed model", "/v1/chat/completions", `{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"x"}]}`,
			[]string{"x-sim-strict-models", "1"}, 200, ""},
		{"unknown path", "/v1/nope", `{}`, nil, 404, "Invalid URL"},
		{"wrong method", "/v1/embeddings", "", nil, 405, "use POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := http.MethodPost
			if tt.body == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("x-api-key", testKey)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(body), tt.message) {
				t.Errorf("got %d %s, want %d mentioning %q", res.StatusCode, body, tt.status, tt.message)
			}
		})
	}
}

func TestCutStreamsNeverDeliverTheirFinalUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		run   func(client clients, headers []string) (chunks int, err error)
		cut   string
		wantC int
	}{
		{"chat", streamChatChunks, "3", 3},
		{"chat cut after the last chunk", streamChatChunks, "10", 5},
		{"responses", streamResponsesChunks, "2", 2},
		{"anthropic", streamMessageChunks, "4", 4},
		{"non-streamed chat", func(c clients, h []string) (int, error) {
			_, err := c.openai.Chat.Completions.New(context.Background(), chatParams("gpt-4o", "hi"), ohdr(h...)...)
			return 0, err
		}, "0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, Options{})
			chunks, err := tt.run(clients{openAIClient(srv), anthropicClient(srv)}, []string{"x-sim-output-tokens", "5", "x-sim-cut-after", tt.cut})
			if err == nil {
				t.Fatal("a cut stream ended without an error")
			}
			_ = sim.WaitIdle(context.Background())
			c := sim.Last()
			if !c.Cut || c.Chunks != tt.wantC || chunks != tt.wantC {
				t.Errorf("cut %v, simulator wrote %d chunks, client read %d; want %d", c.Cut, c.Chunks, chunks, tt.wantC)
			}
			if c.Usage.Output > 1 || c.Planned.Output != 5 {
				t.Errorf("reported %+v (planned %+v): the final usage must not arrive", c.Usage, c.Planned)
			}
		})
	}
}

type clients struct {
	openai    *openai.Client
	anthropic *anthropic.Client
}

func streamChatChunks(c clients, headers []string) (int, error) {
	p := chatParams("gpt-4o", "hi")
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	s := c.openai.Chat.Completions.NewStreaming(context.Background(), p, ohdr(headers...)...)
	n := 0
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			n++
		}
	}
	return n, s.Err()
}

func streamResponsesChunks(c clients, headers []string) (int, error) {
	s := c.openai.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-4o",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}, ohdr(headers...)...)
	n := 0
	for s.Next() {
		if s.Current().Type == "response.output_text.delta" {
			n++
		}
	}
	return n, s.Err()
}

func streamMessageChunks(c clients, headers []string) (int, error) {
	s := c.anthropic.Messages.NewStreaming(context.Background(), msgParams("claude-sonnet-4-5", nil, anthropic.NewTextBlock("hi")), ahdr(headers...)...)
	n := 0
	var m anthropic.Message
	for s.Next() {
		_ = m.Accumulate(s.Current())
		if s.Current().Type == "content_block_delta" {
			n++
		}
	}
	if m.Usage.OutputTokens != 1 || m.Usage.InputTokens == 0 {
		return n, fmt.Errorf("message_start usage %+v, want the input and 1 output token", m.Usage)
	}
	return n, s.Err()
}

func TestClientCancellationIsRecorded(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{ChunkDelay: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	s := openAIClient(srv).Chat.Completions.NewStreaming(ctx, chatParams("gpt-4o", "hi"), ohdr("x-sim-output-tokens", "1000")...)
	for n := 0; s.Next(); n++ {
		if n == 2 {
			cancel()
		}
	}
	cancel()
	if err := sim.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := sim.Last()
	if !c.Cancelled() || c.CancelledAt.Before(c.Start) || c.Chunks >= 1000 || !c.Usage.IsZero() || c.Cut {
		t.Errorf("call %+v: want cancelled early with no usage reported", c)
	}
}

func TestHangWaitsUntilTheClientGivesUp(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{})
	// The client gives up once the simulator holds its call (a fixed
	// deadline could expire before a loaded machine delivers the request).
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	gaveUp := errors.New("the client gave up")
	go func() {
		for len(sim.Calls()) == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		cancel(gaveUp)
	}()
	_, err := anthropicClient(srv).Messages.New(ctx, msgParams("claude-haiku-4-5", nil, anthropic.NewTextBlock("hi")), ahdr("x-sim-hang", "1")...)
	if !errors.Is(context.Cause(ctx), gaveUp) || err == nil {
		t.Fatalf("err %v (cause %v), want the call to end only when the client gave up", err, context.Cause(ctx))
	}
	if err := sim.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := sim.Last(); !c.Cancelled() || c.Status != 0 {
		t.Errorf("call %+v: want cancelled without a status", c)
	}
}

func TestChunkDelayAlsoPacesNonStreamedAnswers(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	start := time.Now()
	_, err := openAIClient(srv).Chat.Completions.New(context.Background(), chatParams("gpt-4o", "hi"),
		ohdr("x-sim-output-tokens", "5", "x-sim-chunk-delay", "4ms")...)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("answered in %v, want at least 5 × 4ms", d)
	}
}

func TestUsageIsDeterministicPerSeed(t *testing.T) {
	t.Parallel()
	usage := func(seed int64, q string) [2]int64 {
		_, srv := newSim(t, Options{Seed: seed})
		c, err := openAIClient(srv).Chat.Completions.New(context.Background(), chatParams("gpt-4o", q))
		if err != nil {
			t.Fatal(err)
		}
		return [2]int64{c.Usage.PromptTokens, c.Usage.CompletionTokens}
	}
	differs := false
	for _, q := range []string{"a", "bb", "hello there", "what is our budget", "x y z"} {
		if a, b := usage(1, q), usage(1, q); a != b {
			t.Errorf("%q: seed 1 gave %v then %v", q, a, b)
		}
		differs = differs || usage(1, q) != usage(2, q)
	}
	if !differs {
		t.Error("seeds 1 and 2 gave the same usage for every prompt")
	}
}
