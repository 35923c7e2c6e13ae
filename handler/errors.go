package handler

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

// Error codes that the handler itself produces; the rest come from the
// bindings package. Every code is answered as {"error":{"code","message"}}.
const (
	CodeMethodNotAllowed     = "MethodNotAllowed"
	CodePayloadTooLarge      = "PayloadTooLarge"
	CodeUnsupportedMediaType = "UnsupportedMediaType"
	CodeConfigurationError   = "ConfigurationError"
	CodeNotFound             = "NotFound"
	CodeInternalError        = "InternalError"
)

// statusOf maps every error code to its HTTP status: the
// one place where codes become statuses.
var statusOf = map[string]int{
	bindings.CodeInvalidJSON:               http.StatusBadRequest,
	bindings.CodeInvalidMessage:            http.StatusBadRequest,
	CodeNotFound:                           http.StatusNotFound,
	CodeMethodNotAllowed:                   http.StatusMethodNotAllowed,
	CodePayloadTooLarge:                    http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType:               http.StatusUnsupportedMediaType,
	CodeInternalError:                      http.StatusInternalServerError,
	CodeConfigurationError:                 http.StatusInternalServerError,
	bindings.CodeServiceError:              http.StatusBadGateway,
	bindings.CodeAuthenticationUnavailable: http.StatusServiceUnavailable,
	bindings.CodeServiceTimeout:            http.StatusGatewayTimeout,
}

// statusFor is the HTTP status of an error code; an unknown code is a 500.
func statusFor(code string) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// apiError is an error answered to the caller: a contract code and a
// message that holds no secret.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON error shape {"error":{"code","message"}}; Sent is set for send
// failures part-way through a batch.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Sent *int `json:"sent,omitempty"`
}

// classify turns any error into the code and message answered to callers.
// Unknown errors become InternalError with a generic message: their text
// may come from a dependency and is only logged.
func classify(err error) (code, message string) {
	var (
		ae  *apiError
		be  *bindings.Error
		se  *settings.Error
		nce *settings.NotConfiguredError
	)
	switch {
	case errors.As(err, &ae):
		return ae.Code, ae.Message
	case errors.As(err, &be):
		return be.Code, be.Message
	case errors.As(err, &se):
		return CodeConfigurationError, se.Error()
	case errors.As(err, &nce):
		return CodeConfigurationError, nce.Error()
	}
	return CodeInternalError, "internal error"
}

// writeError answers err as {"error":{"code","message"}}; sent >= 0 adds the
// count of send objects already carried out.
func writeError(w http.ResponseWriter, err error, sent int) int {
	code, message := classify(err)
	status := statusFor(code)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	if sent >= 0 {
		body.Sent = &sent
	}
	writeJSON(w, status, body)
	return status
}

// Respond answers err as the functions do: {"error":{"code","message"}}
// with the status of its code. An error of no known type is answered 500
// InternalError without its text.
func Respond(w http.ResponseWriter, err error) { writeError(w, err, -1) }

// WriteError answers the error JSON {"error":{"code","message"}} with
// status, for function code that produces its own errors.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"encode response"}}`)
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(raw)
}
