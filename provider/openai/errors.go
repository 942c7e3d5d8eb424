package openai

import (
	"encoding/json"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// errorBody is OpenAI's error JSON, as openai-go's apierror.Error reads it
// from the "error" member: message, type, param and code.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"` // null when no field is at fault
	Code    string  `json:"code"`  // allot's error code, e.g. "budget"
}

// ErrorBody renders e as OpenAI's error JSON: the message as written, the
// OpenAI error type of e's code, the field at fault (or null) and allot's
// code, so clients can branch on "code" as they do with OpenAI's codes.
func (Protocol) ErrorBody(e *allot.Error) []byte {
	code := e.Code
	if code == "" {
		code = allot.EInternal
	}
	obj := errorObject{Message: e.Message, Type: provider.Info(code).OpenAIType, Code: string(code)}
	if e.Param != "" {
		obj.Param = &e.Param
	}
	b, err := json.Marshal(errorBody{obj})
	if err != nil { // cannot happen: strings always marshal
		return []byte(`{"error":{"message":"internal error in allot","type":"server_error","param":null,"code":"internal"}}`)
	}
	return b
}
