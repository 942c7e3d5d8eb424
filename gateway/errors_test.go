package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	openaisdk "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
)

// closedURL returns the URL of a port that nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestErrorsSpeakTheCallersProtocol checks every error case: status, the
// protocol's error shape, a message a person can act on, and no leaked
// provider key.
func TestErrorsSpeakTheCallersProtocol(t *testing.T) {
	t.Parallel()
	chat := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	msgs := `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name    string
		opts    harnessOptions
		method  string
		path    string
		key     string // "" uses alice's key; "-" sends none
		body    string
		headers map[string]string
		status  int
		shape   string // openai | anthropic
		errType string
		message string // a fragment the message must contain
		events  int    // usage events the call must leave
	}{
		{name: "no key", path: "/v1/chat/completions", key: "-", body: chat, status: 401, shape: "openai", errType: "authentication_error", message: "allot key"},
		{name: "bad key openai", path: "/v1/chat/completions", key: "ak-nope-nope", body: chat, status: 401, shape: "openai", errType: "authentication_error", message: "invalid allot key"},
		{name: "bad key anthropic", path: "/v1/messages", key: "ak-nope-nope", body: msgs, status: 401, shape: "anthropic", errType: "authentication_error", message: "invalid allot key"},
		{name: "unknown route", path: "/v1/completions-old", body: chat, status: 404, shape: "openai", errType: "not_found_error", message: "/v1/chat/completions"},
		{name: "unknown anthropic route", path: "/v1/messages/batches", body: msgs, status: 404, shape: "anthropic", errType: "not_found_error", message: "no route"},
		{name: "wrong method", method: http.MethodGet, path: "/v1/chat/completions", status: 405, shape: "openai", errType: "invalid_request_error", message: "not allowed"},
		{name: "malformed json openai", path: "/v1/chat/completions", body: `{"model":`, status: 400, shape: "openai", errType: "invalid_request_error", message: "JSON"},
		{name: "malformed json anthropic", path: "/v1/messages", body: `[1,2`, status: 400, shape: "anthropic", errType: "invalid_request_error", message: "JSON"},
		{name: "missing model", path: "/v1/chat/completions", body: `{"messages":[]}`, status: 400, shape: "openai", errType: "invalid_request_error", message: "model"},
		{name: "missing model anthropic", path: "/v1/messages", body: `{"max_tokens":5,"messages":[]}`, status: 400, shape: "anthropic", errType: "invalid_request_error", message: "model"},
		{name: "body over the limit", opts: harnessOptions{maxBody: 1024}, path: "/v1/chat/completions", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`, status: 413, shape: "openai", errType: "invalid_request_error", message: "max_body_bytes"},
		{name: "body over the limit anthropic", opts: harnessOptions{maxBody: 1024}, path: "/v1/messages", body: `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`, status: 413, shape: "anthropic", errType: "request_too_large", message: "max_body_bytes"},
		{name: "upstream unreachable", opts: harnessOptions{simURL: "CLOSED"}, path: "/v1/chat/completions", body: chat, status: 502, shape: "openai", errType: "upstream_error", message: "could not be reached", events: 1},
		{name: "upstream unreachable anthropic", opts: harnessOptions{simURL: "CLOSED"}, path: "/v1/messages", body: msgs, status: 502, shape: "anthropic", errType: "api_error", message: "could not be reached", events: 1},
		{name: "upstream timeout", opts: harnessOptions{upstreamTimeout: 150 * time.Millisecond}, path: "/v1/chat/completions", body: chat, headers: map[string]string{"x-sim-hang": "1"}, status: 504, shape: "openai", errType: "timeout_error", message: "did not answer", events: 1},
		{name: "upstream timeout anthropic", opts: harnessOptions{upstreamTimeout: 150 * time.Millisecond}, path: "/v1/messages", body: msgs, headers: map[string]string{"x-sim-hang": "1"}, status: 504, shape: "anthropic", errType: "api_error", message: "did not answer", events: 1},
		{name: "provider error passes through", path: "/v1/chat/completions", body: chat, headers: map[string]string{"x-sim-status": "429"}, status: 429, shape: "openai", errType: "", events: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.simURL == "CLOSED" {
				tt.opts.simURL = closedURL(t)
			}
			h := newHarness(t, tt.opts)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, h.url+tt.path, strings.NewReader(tt.body))
			switch tt.key {
			case "":
				req.Header.Set("Authorization", "Bearer "+h.key)
			case "-":
			default:
				req.Header.Set("x-api-key", tt.key)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if bytes.Contains(body, []byte(providerKey)) || bytes.Contains(body, []byte("sk-provider")) {
				t.Fatalf("error body leaks the provider key: %s", body)
			}
			if tt.errType != "" {
				gotType, gotMsg := errorFields(t, tt.shape, body)
				if gotType != tt.errType {
					t.Errorf("error type = %q, want %q; body %s", gotType, tt.errType, body)
				}
				if !strings.Contains(gotMsg, tt.message) {
					t.Errorf("error message %q does not mention %q", gotMsg, tt.message)
				}
			}
			if got := len(h.events()); got != tt.events {
				t.Errorf("ledger holds %d events, want %d", got, tt.events)
			}
		})
	}
}

// errorFields reads error.type and error.message from a protocol error body.
func errorFields(t *testing.T, shape string, body []byte) (string, string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	if shape == "anthropic" && e.Type != "error" {
		t.Errorf("anthropic error body lacks type=error: %s", body)
	}
	return e.Error.Type, e.Error.Message
}

// TestSDKsSurfaceAllotErrors checks that the official SDKs parse allot's
// errors and show its message as-is.
func TestSDKsSurfaceAllotErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	_, err := h.openai(openaiopt.WithAPIKey("ak-revoked")).Chat.Completions.New(ctx, openaisdk.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")},
	})
	var oe *openaisdk.Error
	if !errors.As(err, &oe) || oe.StatusCode != 401 || !strings.Contains(oe.Message, "invalid allot key") {
		t.Errorf("openai SDK error = %v, want a 401 with allot's message", err)
	}
	_, err = h.anthropic().Messages.New(ctx, anthropicsdk.MessageNewParams{Model: "", MaxTokens: 5,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}})
	var ae *anthropicsdk.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(err.Error(), "model") {
		t.Errorf("anthropic SDK error = %v, want a 400 naming the model field", err)
	}
}
