//go:build !nosdk

package upstreamsim

import (
	"context"
	"strings"
	"testing"

	allot "github.com/allot-dev/allot"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

func chatParams(model string, msgs ...string) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: model}
	for i, m := range msgs {
		if i == 0 && len(msgs) > 1 {
			p.Messages = append(p.Messages, openai.SystemMessage(m))
		} else {
			p.Messages = append(p.Messages, openai.UserMessage(m))
		}
	}
	return p
}

func TestChatCompletionUsageMatchesWhatTheSDKParses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  openai.ChatCompletionNewParams
		headers []string
		want    func(t *testing.T, u allot.Tokens, c *openai.ChatCompletion)
	}{
		{
			name:   "plain model answers 12 to 63 tokens and no reasoning",
			params: chatParams("gpt-4o-mini", "You are terse.", "Say hello to the team."),
			want: func(t *testing.T, u allot.Tokens, c *openai.ChatCompletion) {
				if u.Output < 12 || u.Output > 63 || u.Reasoning != 0 || c.Choices[0].FinishReason != "stop" {
					t.Errorf("usage %+v finish %q", u, c.Choices[0].FinishReason)
				}
			},
		},
		{
			name:   "reasoning model counts reasoning inside completion tokens",
			params: chatParams("o4-mini", "Plan the week."),
			want: func(t *testing.T, u allot.Tokens, c *openai.ChatCompletion) {
				if u.Reasoning < 128 || u.Output <= u.Reasoning {
					t.Errorf("usage %+v: want reasoning of at least 128 inside the output", u)
				}
			},
		},
		{
			name: "max_completion_tokens caps the output and finishes with length",
			params: func() openai.ChatCompletionNewParams {
				p := chatParams("gpt-5", "Write an essay.")
				p.MaxCompletionTokens = openai.Int(50)
				return p
			}(),
			want: func(t *testing.T, u allot.Tokens, c *openai.ChatCompletion) {
				if u.Output != 50 || u.Reasoning > 50 || c.Choices[0].FinishReason != "length" {
					t.Errorf("usage %+v finish %q: want 50 output tokens, finish length", u, c.Choices[0].FinishReason)
				}
			},
		},
		{
			name:   "headers set every kind exactly",
			params: chatParams("gpt-4o", "hi"),
			headers: []string{"x-sim-input-tokens", "2000", "x-sim-cached-tokens", "1024", "x-sim-cache-write-5m", "300",
				"x-sim-output-tokens", "40", "x-sim-reasoning-tokens", "15"},
			want: func(t *testing.T, u allot.Tokens, c *openai.ChatCompletion) {
				want := allot.Tokens{Input: 2000, CacheRead: 1024, CacheWrite5m: 300, Output: 40, Reasoning: 15}
				if u != want {
					t.Errorf("usage %+v, want %+v", u, want)
				}
				if n := len(strings.Fields(c.Choices[0].Message.Content)); n != 25 {
					t.Errorf("answer has %d words, want 25 (output minus reasoning)", n)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, Options{})
			c, err := openAIClient(srv).Chat.Completions.New(context.Background(), tt.params, ohdr(tt.headers...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := chatTokens(c.Usage)
			if call := sim.Last(); got != call.Usage || call.Usage != call.Planned {
				t.Errorf("SDK parsed %+v, simulator reported %+v (planned %+v)", got, call.Usage, call.Planned)
			}
			if c.Usage.TotalTokens != got.Input+got.Output {
				t.Errorf("total_tokens %d, want %d", c.Usage.TotalTokens, got.Input+got.Output)
			}
			requireFields(t, "chat.completion", c.RawJSON(), openai.ChatCompletion{})
			requireFields(t, "choice", c.Choices[0].RawJSON(), openai.ChatCompletionChoice{})
			requireFields(t, "message", c.Choices[0].Message.RawJSON(), openai.ChatCompletionMessage{})
			requireFields(t, "usage", c.Usage.RawJSON(), openai.CompletionUsage{})
			tt.want(t, got, c)
		})
	}
}

func TestChatStreamSendsUsageOnlyWhenAskedAndLast(t *testing.T) {
	t.Parallel()
	for _, includeUsage := range []bool{true, false} {
		t.Run(map[bool]string{true: "include_usage", false: "no usage"}[includeUsage], func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, Options{})
			p := chatParams("gpt-4o", "be brief", "hello")
			if includeUsage {
				p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := openAIClient(srv).Chat.Completions.NewStreaming(context.Background(), p, ohdr("x-sim-output-tokens", "7")...)
			var acc openai.ChatCompletionAccumulator
			var chunks, contentChunks, usageChunks int
			for stream.Next() {
				ch := stream.Current()
				acc.AddChunk(ch)
				chunks++
				requireFields(t, "chunk", ch.RawJSON(), openai.ChatCompletionChunk{})
				if len(ch.Choices) == 1 && ch.Choices[0].Delta.Content != "" {
					contentChunks++
				}
				if ch.JSON.Usage.Valid() {
					usageChunks++
					if len(ch.Choices) != 0 {
						t.Errorf("usage chunk has %d choices, want none", len(ch.Choices))
					}
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			call := sim.Last()
			if contentChunks != 7 || call.Chunks != 7 {
				t.Errorf("%d content chunks (simulator counted %d), want 7", contentChunks, call.Chunks)
			}
			if got := len(strings.Fields(acc.Choices[0].Message.Content)); got != 7 {
				t.Errorf("accumulated %d words, want 7", got)
			}
			if !includeUsage {
				if usageChunks != 0 || !call.Usage.IsZero() || call.Planned.Output != 7 {
					t.Errorf("without include_usage: %d usage chunks, reported %+v, planned %+v", usageChunks, call.Usage, call.Planned)
				}
				return
			}
			if usageChunks != 1 {
				t.Fatalf("%d usage chunks, want 1", usageChunks)
			}
			if got := chatTokens(acc.Usage); got != call.Usage || got.Output != 7 || got.Input == 0 {
				t.Errorf("SDK accumulated %+v, simulator reported %+v", got, call.Usage)
			}
		})
	}
}

func TestResponsesUsageMatchesWhatTheSDKParses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  responses.ResponseNewParams
		headers []string
		status  responses.ResponseStatus
		items   []string // output item types
	}{
		{
			name:   "plain model: one message",
			params: responses.ResponseNewParams{Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")}},
			status: "completed", items: []string{"message"},
		},
		{
			name: "reasoning model: a reasoning item then the message",
			params: responses.ResponseNewParams{Model: "o4-mini", Instructions: openai.String("think"),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("why?")}},
			status: "completed", items: []string{"reasoning", "message"},
		},
		{
			name: "max_output_tokens reached while reasoning: incomplete",
			params: responses.ResponseNewParams{Model: "o4-mini", MaxOutputTokens: openai.Int(16),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("long story please")}},
			status: "incomplete", items: []string{"reasoning", "message"},
		},
		{
			name:    "cache writes by retention",
			params:  responses.ResponseNewParams{Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}},
			headers: []string{"x-sim-cache-write-5m", "200", "x-sim-cache-write-1h", "100", "x-sim-output-tokens", "3"},
			status:  "completed", items: []string{"message"},
		},
	}
	for _, tt := range tests {
		for _, streamed := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{true: " (stream)", false: ""}[streamed], func(t *testing.T) {
				t.Parallel()
				sim, srv := newSim(t, Options{})
				client := openAIClient(srv)
				var r *responses.Response
				if !streamed {
					var err error
					if r, err = client.Responses.New(context.Background(), tt.params, ohdr(tt.headers...)...); err != nil {
						t.Fatal(err)
					}
				} else {
					r = collectResponse(t, client, tt.params, tt.headers)
				}
				call := sim.Last()
				if got := responsesTokens(r.Usage); got != call.Usage || call.Usage.IsZero() {
					t.Errorf("SDK parsed %+v, simulator reported %+v", got, call.Usage)
				}
				if r.Status != tt.status {
					t.Errorf("status %q, want %q", r.Status, tt.status)
				}
				var items []string
				for _, it := range r.Output {
					items = append(items, it.Type)
				}
				if strings.Join(items, ",") != strings.Join(tt.items, ",") {
					t.Errorf("output items %v, want %v", items, tt.items)
				}
				if got := len(strings.Fields(r.OutputText())); int64(got) != call.Usage.Output-call.Usage.Reasoning {
					t.Errorf("output text has %d words, want %d", got, call.Usage.Output-call.Usage.Reasoning)
				}
				requireFields(t, "response", r.RawJSON(), responses.Response{})
				requireFields(t, "usage", r.Usage.RawJSON(), responses.ResponseUsage{})
			})
		}
	}
}

// collectResponse streams a response and checks the event sequence: every
// event typed, numbered from 0 without gaps, deltas naming their item, and
// exactly one terminal event, last, carrying the response.
func collectResponse(t *testing.T, client *openai.Client, p responses.ResponseNewParams, headers []string) *responses.Response {
	t.Helper()
	stream := client.Responses.NewStreaming(context.Background(), p, ohdr(headers...)...)
	var types []string
	var final *responses.Response
	var text strings.Builder
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != int64(len(types)) {
			t.Errorf("event %d %s has sequence_number %d", len(types), ev.Type, ev.SequenceNumber)
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			d := ev.AsResponseOutputTextDelta()
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseTextDeltaEvent{})
			if !strings.HasPrefix(d.ItemID, "msg_") {
				t.Errorf("delta item_id %q", d.ItemID)
			}
			text.WriteString(d.Delta)
		case "response.output_text.done":
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseTextDoneEvent{})
			if d := ev.AsResponseOutputTextDone(); d.Text != text.String() {
				t.Errorf("done text %q, deltas %q", d.Text, text.String())
			}
		case "response.created":
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseCreatedEvent{})
		case "response.output_item.added":
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseOutputItemAddedEvent{})
		case "response.content_part.added":
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseContentPartAddedEvent{})
		case "response.completed", "response.incomplete":
			requireFields(t, ev.Type, ev.RawJSON(), responses.ResponseCompletedEvent{})
			r := ev.Response
			final = &r
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if final == nil || !strings.HasPrefix(types[len(types)-1], "response.") || types[0] != "response.created" || types[1] != "response.in_progress" {
		t.Fatalf("event sequence %v", types)
	}
	return final
}

func TestEmbeddingsInBothEncodings(t *testing.T) {
	t.Parallel()
	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"float", "base64"} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, Options{})
			res, err := openAIClient(srv).Embeddings.New(context.Background(), openai.EmbeddingNewParams{
				Model:          "text-embedding-3-small",
				Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first text to embed", "second"}},
				EncodingFormat: format,
				Dimensions:     openai.Int(64),
			})
			if err != nil {
				t.Fatal(err)
			}
			call := sim.Last()
			if res.Usage.PromptTokens != call.Usage.Input || res.Usage.TotalTokens != call.Usage.Input || call.Usage.Output != 0 {
				t.Errorf("usage %+v, simulator reported %+v", res.Usage, call.Usage)
			}
			if want := estimate("first text to embed") + estimate("second"); call.Usage.Input != want {
				t.Errorf("input %d, want %d", call.Usage.Input, want)
			}
			if len(res.Data) != 2 || len(res.Data[1].Embedding) != 64 || res.Data[1].Index != 1 {
				t.Fatalf("data %d vectors of %d", len(res.Data), len(res.Data[0].Embedding))
			}
			var norm float64
			for _, f := range res.Data[0].Embedding {
				norm += f * f
			}
			if norm < 0.99 || norm > 1.01 {
				t.Errorf("vector norm² %f, want 1", norm)
			}
			requireFields(t, "embeddings", res.RawJSON(), openai.CreateEmbeddingResponse{})
		})
	}
}

func TestModelListInEachProtocolsShape(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	var ids []string
	pager := openAIClient(srv).Models.ListAutoPaging(context.Background())
	for pager.Next() {
		m := pager.Current()
		requireFields(t, "model", m.RawJSON(), openai.Model{})
		ids = append(ids, m.ID)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(catalog) || ids[0] != "gpt-4o" {
		t.Errorf("openai list %v", ids)
	}
	m, err := openAIClient(srv).Models.Get(context.Background(), "o4-mini")
	if err != nil || m.OwnedBy != "openai" {
		t.Errorf("get o4-mini: %+v, %v", m, err)
	}
	if _, err := openAIClient(srv).Models.Get(context.Background(), "no-such-model"); !isStatus(err, 404) {
		t.Errorf("get unknown model: %v, want 404", err)
	}
}

func TestOpenAIPromptCacheHitsWhenALongSystemPromptRepeats(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{})
	long := strings.Repeat("You are the budget assistant of the finance team. ", 100) // ~1250 tokens
	client := openAIClient(srv)
	var cached []int64
	for _, q := range []string{"first question", "second question", "third"} {
		c, err := client.Chat.Completions.New(context.Background(), chatParams("gpt-4o", long, q))
		if err != nil {
			t.Fatal(err)
		}
		if got := chatTokens(c.Usage); got != sim.Last().Usage {
			t.Errorf("SDK parsed %+v, simulator reported %+v", got, sim.Last().Usage)
		}
		cached = append(cached, c.Usage.PromptTokensDetails.CachedTokens)
	}
	if hit := estimate(long) / 128 * 128; cached[0] != 0 || cached[1] != hit || cached[2] != hit {
		t.Errorf("cached tokens per call %v: want a miss, then the system prompt's %d in 128-token steps", cached, hit)
	}
	// a short system prompt is never cached
	for range 2 {
		c, err := client.Chat.Completions.New(context.Background(), chatParams("gpt-4o", "short system", "q"))
		if err != nil || c.Usage.PromptTokensDetails.CachedTokens != 0 {
			t.Errorf("short prompt cached %d, %v", c.Usage.PromptTokensDetails.CachedTokens, err)
		}
	}
}

func TestOpenAIRequiresTheProviderKey(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	_, err := openAIClient(srv, ooption.WithAPIKey("sk-wrong-key-123456")).Chat.Completions.New(context.Background(), chatParams("gpt-4o", "hi"))
	var apiErr *openai.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || strings.Contains(apiErr.Message, "wrong-key") {
		t.Fatalf("wrong key: %v (%+v), want a 401 invalid_api_key that does not echo the key", err, apiErr)
	}
}
