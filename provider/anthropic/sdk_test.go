//go:build !nosdk

package anthropic

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
	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
)

// This file checks the fixtures and the error shape against the official
// SDK: the usage anthropic-sdk-go accumulates from each fixture must be
// what the tap reads, and an allot error must reach an SDK caller intact.

// sdkTokens normalizes the SDK's Usage the way the tap does.
func sdkTokens(u anthropic.Usage) allot.Tokens {
	writes := max(u.CacheCreationInputTokens, u.CacheCreation.Ephemeral5mInputTokens+u.CacheCreation.Ephemeral1hInputTokens)
	return allot.Tokens{
		Input:        u.InputTokens + u.CacheReadInputTokens + writes,
		CacheRead:    u.CacheReadInputTokens,
		CacheWrite5m: writes - u.CacheCreation.Ephemeral1hInputTokens,
		CacheWrite1h: u.CacheCreation.Ephemeral1hInputTokens,
		Output:       u.OutputTokens,
		Reasoning:    u.OutputTokensDetails.ThinkingTokens,
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

func TestFixturesReadTheSameWithTheSDK(t *testing.T) {
	t.Parallel()
	sdk := map[string]allot.Tokens{}
	for _, file := range []string{"message.json", "message_no_breakdown.json", "message_thinking.json"} {
		var m anthropic.Message
		if err := json.Unmarshal(fixture(t, file), &m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		sdk[file] = sdkTokens(m.Usage)
	}
	for _, file := range []string{"stream.sse", "stream_tool_use.sse"} {
		res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(fixture(t, file)))}
		s := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
		var msg anthropic.Message
		for s.Next() {
			if err := msg.Accumulate(s.Current()); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
		if s.Err() != nil {
			t.Fatalf("%s: %v", file, s.Err())
		}
		sdk[file] = sdkTokens(msg.Usage)
	}
	for file, want := range sdk {
		tp := Protocol{}.NewTap(allot.RouteMessages, allot.RequestInfo{})
		replay(t, tp, file)
		if got, _, _ := tp.Usage(); got != want {
			t.Errorf("%s: tap reads %+v, anthropic-sdk-go reads %+v", file, got, want)
		}
	}
	var count anthropic.MessageTokensCount
	if err := json.Unmarshal(fixture(t, "count_tokens.json"), &count); err != nil || count.InputTokens != 2095 {
		t.Errorf("count_tokens fixture reads %d, %v", count.InputTokens, err)
	}
}

func TestErrorBodyReachesSDKCallers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    *allot.Error
		status int
		typ    string
	}{
		{&allot.Error{Code: allot.EBudget, Message: "your monthly budget is spent; ask your lead to raise it"}, 429, "rate_limit_error"},
		{&allot.Error{Code: allot.EInvalid, Message: `the request has no "model"`, Param: "model"}, 400, "invalid_request_error"},
		{&allot.Error{Code: allot.ETooLarge, Message: "the body is over 32 MiB"}, 413, "request_too_large"},
		{&allot.Error{Code: allot.EUnavailable, Message: "allot is restarting; retry in a few seconds"}, 503, "overloaded_error"},
		{&allot.Error{Message: "odd"}, 500, "api_error"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			body := Protocol{}.ErrorBody(tt.err)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			client := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("ak-test"), option.WithMaxRetries(0))
			_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
				Model: "claude-haiku-4-5", MaxTokens: 16,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
			})
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *anthropic.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Message != tt.err.Message || string(apiErr.Type()) != tt.typ {
				t.Errorf("SDK error %d message %q type %q\nfrom body %s", apiErr.StatusCode, apiErr.Message, apiErr.Type(), body)
			}
		})
	}
}
