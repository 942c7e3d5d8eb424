package anthropic

import (
	"encoding/json"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// errorBody is Anthropic's error JSON (shared.ErrorResponse without
// request_id, which allot sends as the X-Allot-Request-Id header instead).
type errorBody struct {
	Type  string      `json:"type"` // always "error"
	Error errorObject `json:"error"`
}

type errorObject struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrorBody renders e as Anthropic's error JSON: the Anthropic error type
// of e's code (which anthropic-sdk-go's Error.Type() reports) and the
// message as written.
func (Protocol) ErrorBody(e *allot.Error) []byte {
	code := e.Code
	if code == "" {
		code = allot.EInternal
	}
	b, err := json.Marshal(errorBody{Type: "error", Error: errorObject{Type: provider.Info(code).AnthropicType, Message: e.Message}})
	if err != nil { // cannot happen: strings always marshal
		return []byte(`{"type":"error","error":{"type":"api_error","message":"internal error in allot"}}`)
	}
	return b
}
