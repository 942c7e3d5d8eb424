//go:build !nosdk

package upstreamsim

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	allot "github.com/allot-dev/allot"
	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// This file holds what the SDK tests share: a simulator behind an
// httptest.Server, the official clients pointed at it, the normalization of
// each SDK's usage into allot.Tokens, and a check that an answer carries
// every field the SDK marks as required.

func openAIClient(srv *httptest.Server, opts ...ooption.RequestOption) *openai.Client {
	c := openai.NewClient(append([]ooption.RequestOption{
		ooption.WithBaseURL(srv.URL + "/v1"), ooption.WithAPIKey(testKey), ooption.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

func anthropicClient(srv *httptest.Server, opts ...aoption.RequestOption) *anthropic.Client {
	c := anthropic.NewClient(append([]aoption.RequestOption{
		aoption.WithBaseURL(srv.URL), aoption.WithAPIKey(testKey), aoption.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

// ohdr and ahdr turn "name", "value", ... into per-request header options.
func ohdr(kv ...string) []ooption.RequestOption {
	var out []ooption.RequestOption
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ooption.WithHeader(kv[i], kv[i+1]))
	}
	return out
}

func ahdr(kv ...string) []aoption.RequestOption {
	var out []aoption.RequestOption
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, aoption.WithHeader(kv[i], kv[i+1]))
	}
	return out
}

// chatTokens normalizes chat usage. OpenAI reports one cache-write count;
// tests that write to the cache compare CacheWrite() only.
func chatTokens(u openai.CompletionUsage) allot.Tokens {
	return allot.Tokens{
		Input:        u.PromptTokens,
		CacheRead:    u.PromptTokensDetails.CachedTokens,
		CacheWrite5m: u.PromptTokensDetails.CacheWriteTokens,
		Output:       u.CompletionTokens,
		Reasoning:    u.CompletionTokensDetails.ReasoningTokens,
	}
}

func responsesTokens(u responses.ResponseUsage) allot.Tokens {
	return allot.Tokens{
		Input:        u.InputTokens,
		CacheRead:    u.InputTokensDetails.CachedTokens,
		CacheWrite5m: u.InputTokensDetails.CacheWriteTokensDetails.Ttl30mTokens,
		CacheWrite1h: u.InputTokensDetails.CacheWriteTokensDetails.Ttl12hTokens,
		Output:       u.OutputTokens,
		Reasoning:    u.OutputTokensDetails.ReasoningTokens,
	}
}

// anthropicTokens normalizes Anthropic usage: input_tokens excludes the cache.
func anthropicTokens(u anthropic.Usage) allot.Tokens {
	return allot.Tokens{
		Input:        u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
		CacheRead:    u.CacheReadInputTokens,
		CacheWrite5m: u.CacheCreation.Ephemeral5mInputTokens,
		CacheWrite1h: u.CacheCreation.Ephemeral1hInputTokens,
		Output:       u.OutputTokens,
		Reasoning:    u.OutputTokensDetails.ThinkingTokens,
	}
}

// notSent lists, per SDK type, fields that the SDK marks as required but
// that the simulator leaves out on purpose: newer or beta fields that allot
// never reads (the SDKs parse their absence as zero values), and
// server_tool_use, which the API sends only when server tools ran.
var notSent = map[string][]string{
	"Response":               {"access_programs"},
	"Message":                {"container", "diagnostics", "stop_details"},
	"Usage":                  {"inference_geo", "speed", "server_tool_use"},
	"MessageDeltaUsage":      {"server_tool_use"},
	"MessageDeltaEventDelta": {"container", "stop_details"},
	"TextBlock":              {"citations"},
}

// requireFields fails t unless the JSON object raw has every field that the
// SDK type of v tags api:"required" (those in notSent excepted).
func requireFields(t *testing.T, what, raw string, v any) {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		t.Fatalf("%s: not a JSON object: %v: %s", what, err, raw)
	}
	typ := reflect.TypeOf(v)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !strings.Contains(f.Tag.Get("api"), "required") {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if _, ok := obj[name]; !ok && !slices.Contains(notSent[typ.Name()], name) {
			t.Errorf("%s: required field %q is missing: %s", what, name, raw)
		}
	}
}
