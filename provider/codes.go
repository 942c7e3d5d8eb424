package provider

import (
	"net/http"

	"github.com/allot-dev/allot"
)

// CodeInfo is how one application error code appears on the wire.
type CodeInfo struct {
	Status        int    // HTTP status
	OpenAIType    string // error.type in OpenAI's error JSON
	AnthropicType string // error.type in Anthropic's error JSON
}

var codeTable = map[allot.ErrorCode]CodeInfo{
	allot.EInvalid:      {http.StatusBadRequest, "invalid_request_error", "invalid_request_error"},
	allot.EUnknownModel: {http.StatusBadRequest, "invalid_request_error", "invalid_request_error"},
	allot.EUnauthorized: {http.StatusUnauthorized, "authentication_error", "authentication_error"},
	allot.EForbidden:    {http.StatusForbidden, "permission_error", "permission_error"},
	allot.ENotFound:     {http.StatusNotFound, "not_found_error", "not_found_error"},
	allot.EMethod:       {http.StatusMethodNotAllowed, "invalid_request_error", "invalid_request_error"},
	allot.EConflict:     {http.StatusConflict, "invalid_request_error", "invalid_request_error"},
	allot.ETooLarge:     {http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large"},
	allot.EBudget:       {http.StatusTooManyRequests, "budget_exceeded", "rate_limit_error"},
	allot.ERateLimit:    {http.StatusTooManyRequests, "rate_limit_exceeded", "rate_limit_error"},
	allot.EUpstream:     {http.StatusBadGateway, "upstream_error", "api_error"},
	allot.ETimeout:      {http.StatusGatewayTimeout, "timeout_error", "api_error"},
	allot.EUnavailable:  {http.StatusServiceUnavailable, "service_unavailable", "overloaded_error"},
	allot.EInternal:     {http.StatusInternalServerError, "server_error", "api_error"},
}

// Info returns how c appears on the wire; unknown codes are internal errors.
func Info(c allot.ErrorCode) CodeInfo {
	if info, ok := codeTable[c]; ok {
		return info
	}
	return codeTable[allot.EInternal]
}

// Status is the HTTP status of err's code (500 for foreign errors): the
// one mapping the gateway, the API and the dashboard answer with.
func Status(err error) int { return Info(allot.CodeOf(err)).Status }
