//go:build !nosdk

package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

// This file checks the fixtures and the error shape against the official
// SDK: what openai-go reads from each fixture must be what the tap reads,
// and an allot error must reach an openai-go caller intact.

func chatTokens(u openai.CompletionUsage) allot.Tokens {
	return allot.Tokens{
		Input: u.PromptTokens, CacheRead: u.PromptTokensDetails.CachedTokens, CacheWrite5m: u.PromptTokensDetails.CacheWriteTokens,
		Output: u.CompletionTokens, Reasoning: u.CompletionTokensDetails.ReasoningTokens,
	}
}

func responsesTokens(u responses.ResponseUsage) allot.Tokens {
	return allot.Tokens{
		Input: u.InputTokens, CacheRead: u.InputTokensDetails.CachedTokens, CacheWrite5m: u.InputTokensDetails.CacheWriteTokens,
		Output: u.OutputTokens, Reasoning: u.OutputTokensDetails.ReasoningTokens,
	}
}

func fixture(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sdkStream decodes a .sse fixture with the SDK's own stream reader.
func sdkStream[T any](t *testing.T, file string) *ssestream.Stream[T] {
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(fixture(t, file)))}
	return ssestream.NewStream[T](ssestream.NewDecoder(res), nil)
}

func TestFixturesReadTheSameWithTheSDK(t *testing.T) {
	t.Parallel()
	sdk := map[string]allot.Tokens{}
	for _, file := range []string{"chat.json", "chat_tool_call.json"} {
		var c openai.ChatCompletion
		if err := json.Unmarshal(fixture(t, file), &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		sdk[file] = chatTokens(c.Usage)
	}
	var r responses.Response
	if err := json.Unmarshal(fixture(t, "responses.json"), &r); err != nil {
		t.Fatal(err)
	}
	sdk["responses.json"] = responsesTokens(r.Usage)
	var e openai.CreateEmbeddingResponse
	if err := json.Unmarshal(fixture(t, "embeddings.json"), &e); err != nil {
		t.Fatal(err)
	}
	sdk["embeddings.json"] = allot.Tokens{Input: e.Usage.PromptTokens}
	for _, file := range []string{"chat_stream_usage.sse", "chat_stream_tools.sse"} {
		s := sdkStream[openai.ChatCompletionChunk](t, file)
		for s.Next() {
			if c := s.Current(); c.JSON.Usage.Valid() && len(c.Choices) == 0 {
				sdk[file] = chatTokens(c.Usage)
			}
		}
		if s.Err() != nil {
			t.Fatalf("%s: %v", file, s.Err())
		}
	}
	for _, file := range []string{"responses_stream.sse", "responses_incomplete.sse", "responses_failed.sse"} {
		s := sdkStream[responses.ResponseStreamEventUnion](t, file)
		for s.Next() {
			switch ev := s.Current(); ev.Type {
			case "response.completed", "response.incomplete", "response.failed":
				sdk[file] = responsesTokens(ev.Response.Usage)
			}
		}
		if s.Err() != nil {
			t.Fatalf("%s: %v", file, s.Err())
		}
	}
	routes := map[string]allot.Route{"responses.json": allot.RouteResponses, "responses_stream.sse": allot.RouteResponses,
		"responses_incomplete.sse": allot.RouteResponses, "responses_failed.sse": allot.RouteResponses, "embeddings.json": allot.RouteEmbeddings}
	for file, want := range sdk {
		route, ok := routes[file]
		if !ok {
			route = allot.RouteChat
		}
		tp := Protocol{}.NewTap(route, allot.RequestInfo{Stream: true})
		replay(t, tp, file)
		if got, _, _ := tp.Usage(); got != want {
			t.Errorf("%s: tap reads %+v, openai-go reads %+v", file, got, want)
		}
	}
}

func TestErrorBodyReachesSDKCallers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err       *allot.Error
		status    int
		typ, code string
		param     string
	}{
		{&allot.Error{Code: allot.EBudget, Message: "team budget \"platform\" is spent until 2026-12-01; ask your lead to raise it"}, 429, "budget_exceeded", "budget", ""},
		{&allot.Error{Code: allot.EInvalid, Message: `the request has no "model"`, Param: "model"}, 400, "invalid_request_error", "invalid", "model"},
		{&allot.Error{Code: allot.EUnauthorized, Message: "invalid allot key <ak-…>"}, 401, "authentication_error", "unauthorized", ""},
		{&allot.Error{Code: "", Message: "odd"}, 500, "server_error", "internal", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.err.Code), func(t *testing.T) {
			t.Parallel()
			body := Protocol{}.ErrorBody(tt.err)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("ak-test"), option.WithMaxRetries(0))
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Message != tt.err.Message || apiErr.Type != tt.typ || apiErr.Code != tt.code || apiErr.Param != tt.param {
				t.Errorf("SDK error %d message %q type %q code %q param %q\nfrom body %s", apiErr.StatusCode, apiErr.Message, apiErr.Type, apiErr.Code, apiErr.Param, body)
			}
			if tt.param == "" && !bytes.Contains(body, []byte(`"param":null`)) {
				t.Errorf("param must be null when no field is at fault: %s", body)
			}
		})
	}
}
