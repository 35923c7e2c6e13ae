package upstream

import (
	"fmt"
	"net/http"
)

// Error codes of the requests Parse refuses, in the JSON error shape
// {"error":{"code","message"}} the app answers with.
const (
	CodeInvalidMessage       = "InvalidMessage"       // 400: a header missing or wrong, a body unreadable
	CodeUnauthorized         = "Unauthorized"         // 401: the signature is missing or matches no access key
	CodeUnsupportedMediaType = "UnsupportedMediaType" // 415: a body neither JSON nor MessagePack
)

// Error is why Parse refused a request. Status is the HTTP status of Code.
// Message says what is wrong; it quotes at most about 200 bytes of any
// value from the request, and never a signature or an access key.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error returns the code and the message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// statusOf is the HTTP status of each code.
var statusOf = map[string]int{
	CodeInvalidMessage:       http.StatusBadRequest,
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Status: statusOf[code], Code: code, Message: fmt.Sprintf(format, args...)}
}
