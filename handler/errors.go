package handler

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/funcsignalr/funcsignalr/apierror"
)

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
// An error that is not an *apierror.Error becomes InternalError with a
// generic message: its text may come from a dependency and is only logged.
func classify(err error) (code, message string) {
	var e *apierror.Error
	if errors.As(err, &e) {
		return e.Code, e.Message
	}
	return apierror.InternalError, "internal error"
}

// Respond answers err as the functions do: {"error":{"code","message"}}
// with the status of its code. An error of no known type is answered 500
// InternalError without its text.
func Respond(w http.ResponseWriter, err error) {
	code, message := classify(err)
	writeJSON(w, apierror.Status(code), newErrorBody(code, message, nil))
}

// writeError answers a send that failed after sent objects were carried
// out: Respond's answer plus the count.
func writeError(w http.ResponseWriter, err error, sent int) {
	code, message := classify(err)
	writeJSON(w, apierror.Status(code), newErrorBody(code, message, &sent))
}

func newErrorBody(code, message string, sent *int) errorBody {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	body.Sent = sent
	return body
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
