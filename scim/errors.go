package scim

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Schema URNs of RFC 7643 and 7644.
const (
	schemaUser      = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup     = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaList      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatch     = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaError     = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaSPConfig  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResType   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema    = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	schemaEnterpise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// scimType values of RFC 7644 section 3.12.
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeInvalidValue  = "invalidValue"
)

// Error is a SCIM error: an application error (its code gives the HTTP
// status, provider.Info) with the scimType RFC 7644 names.
type Error struct {
	Err      *allot.Error
	SCIMType string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// invalid returns an EInvalid SCIM error of scimType typ.
func invalid(typ, format string, args ...any) error {
	return &Error{Err: allot.Errorf(allot.EInvalid, format, args...), SCIMType: typ}
}

// errorBody is the SCIM error response (RFC 7644 section 3.12): the
// status is a string.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// writeError answers err in SCIM's error shape; internal errors are
// logged and answered with a generic message.
func writeError(w http.ResponseWriter, logger *slog.Logger, err error) {
	var se *Error
	typ := ""
	if errors.As(err, &se) {
		typ = se.SCIMType
		err = se.Err
	}
	e := allot.ErrorOf(err)
	if e.Code == allot.EInternal || e.Err != nil {
		logger.Error("scim request failed", "code", e.Code, "err", err)
	}
	if typ == "" && e.Code == allot.EConflict {
		typ = typeUniqueness
	}
	status := provider.Info(e.Code).Status
	if e.Code == allot.EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="allot SCIM"`)
	}
	writeJSON(w, status, errorBody{Schemas: []string{schemaError}, Status: strconv.Itoa(status), SCIMType: typ, Detail: e.Message})
}

// writeCreated answers a creation: 201 with the new resource and its
// Location.
func writeCreated(w http.ResponseWriter, location string, res any) error {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// writeJSON writes v as application/scim+json with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
