package provider_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Every application error code has one HTTP status and one error type per
// protocol; a code the table does not know, and any foreign error, is an
// internal error (design invariant 6).
func TestEveryCodeHasOneWireShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      allot.ErrorCode
		status    int
		openai    string
		anthropic string
	}{
		{allot.EInvalid, http.StatusBadRequest, "invalid_request_error", "invalid_request_error"},
		{allot.EUnknownModel, http.StatusBadRequest, "invalid_request_error", "invalid_request_error"},
		{allot.EUnauthorized, http.StatusUnauthorized, "authentication_error", "authentication_error"},
		{allot.EForbidden, http.StatusForbidden, "permission_error", "permission_error"},
		{allot.ENotFound, http.StatusNotFound, "not_found_error", "not_found_error"},
		{allot.EMethod, http.StatusMethodNotAllowed, "invalid_request_error", "invalid_request_error"},
		{allot.EConflict, http.StatusConflict, "invalid_request_error", "invalid_request_error"},
		{allot.ETooLarge, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large"},
		{allot.EBudget, http.StatusTooManyRequests, "budget_exceeded", "rate_limit_error"},
		{allot.ERateLimit, http.StatusTooManyRequests, "rate_limit_exceeded", "rate_limit_error"},
		{allot.EUpstream, http.StatusBadGateway, "upstream_error", "api_error"},
		{allot.ETimeout, http.StatusGatewayTimeout, "timeout_error", "api_error"},
		{allot.EUnavailable, http.StatusServiceUnavailable, "service_unavailable", "overloaded_error"},
		{allot.EInternal, http.StatusInternalServerError, "server_error", "api_error"},
		{"no_such_code", http.StatusInternalServerError, "server_error", "api_error"},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			t.Parallel()
			got := provider.Info(tt.code)
			want := provider.CodeInfo{Status: tt.status, OpenAIType: tt.openai, AnthropicType: tt.anthropic}
			if got != want {
				t.Errorf("Info(%q) = %+v, want %+v", tt.code, got, want)
			}
			err := fmt.Errorf("wrapped: %w", allot.Errorf(tt.code, "x"))
			if s := provider.Status(err); s != tt.status {
				t.Errorf("Status of a wrapped %q error = %d, want %d", tt.code, s, tt.status)
			}
		})
	}
	if s := provider.Status(errors.New("a bug")); s != http.StatusInternalServerError {
		t.Errorf("Status of a foreign error = %d, want 500", s)
	}
}
