package upstreamsim

import "net/http"

// openAIError is OpenAI's error body.
type openAIError struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// anthropicError is Anthropic's error body.
type anthropicError struct {
	Type      string               `json:"type"` // always "error"
	Error     anthropicErrorDetail `json:"error"`
	RequestID string               `json:"request_id,omitempty"`
}

type anthropicErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// openAIErrorKind returns the error type and code OpenAI sends with status.
func openAIErrorKind(status int) (typ string, code *string) {
	str := func(s string) *string { return &s }
	switch status {
	case http.StatusUnauthorized:
		return "invalid_request_error", str("invalid_api_key")
	case http.StatusForbidden:
		return "permission_error", nil
	case http.StatusNotFound:
		return "invalid_request_error", str("model_not_found")
	case http.StatusTooManyRequests:
		return "requests", str("rate_limit_exceeded")
	}
	if status >= 500 {
		return "server_error", nil
	}
	return "invalid_request_error", nil
}

// anthropicErrorType returns the error type Anthropic sends with status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// fail answers with status and message in the request's protocol.
func (x *exchange) fail(status int, message string) {
	if x.proto == protoAnthropic {
		x.writeJSON(status, anthropicError{
			Type:      "error",
			Error:     anthropicErrorDetail{Type: anthropicErrorType(status), Message: message},
			RequestID: x.requestID(),
		})
		return
	}
	typ, code := openAIErrorKind(status)
	x.writeJSON(status, openAIError{Error: openAIErrorDetail{Message: message, Type: typ, Code: code}})
}
