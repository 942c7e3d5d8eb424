package allot

import (
	"errors"
	"fmt"
)

// ErrorCode is an application error kind. Every code maps, in one table
// and nowhere else (provider.Info), to an HTTP status and to the error type
// each protocol uses, so OpenAI routes answer in OpenAI's shape and
// Anthropic routes in Anthropic's (design invariant 6).
type ErrorCode string

// Application error codes.
const (
	EInvalid      ErrorCode = "invalid"       // malformed request: bad JSON, missing model
	EUnauthorized ErrorCode = "unauthorized"  // missing, unknown or revoked key
	EForbidden    ErrorCode = "forbidden"     // the key may not do this (model denied, not an admin)
	ENotFound     ErrorCode = "not_found"     // unknown route or object
	ETooLarge     ErrorCode = "too_large"     // request body over the limit
	EBudget       ErrorCode = "budget"        // a hard budget would be exceeded
	ERateLimit    ErrorCode = "rate_limit"    // a rate limit is reached
	EUpstream     ErrorCode = "upstream"      // the provider could not be reached or failed
	ETimeout      ErrorCode = "timeout"       // the provider did not answer in time
	EUnavailable  ErrorCode = "unavailable"   // allot is shutting down or a store is down
	EInternal     ErrorCode = "internal"      // a bug in allot
	EConflict     ErrorCode = "conflict"      // the object exists already
	EMethod       ErrorCode = "method"        // the route exists but not for this HTTP method
	EUnknownModel ErrorCode = "unknown_model" // no provider is configured for the model
)

// Error is an application error: a code, a message a person can act on,
// and optional details (e.g. Retry-After seconds) for the HTTP layer.
type Error struct {
	Code       ErrorCode
	Message    string
	Param      string // the request field at fault, if any
	RetryAfter int    // seconds, for EBudget and ERateLimit; 0 if not set
	Err        error  // the cause, for logs; never shown to clients
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorOf returns err as an *Error; any other error becomes EInternal with
// a generic message so internals never leak to clients.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EInternal, Message: "internal error in allot; the request was not completed, please retry", Err: err}
}

// CodeOf returns the code of err, EInternal for foreign errors and "" for nil.
func CodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	return ErrorOf(err).Code
}
