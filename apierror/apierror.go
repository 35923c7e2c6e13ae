// Package apierror holds funcsignalr's one error type, the codes it carries
// and the HTTP status of each code.
//
// Every failure that reaches a caller — an invalid setting, a send body the
// service would refuse, a SignalR service that failed or went quiet, a
// forged upstream request, a panic in a function — is an *Error. Over HTTP
// it is answered as {"error":{"code":"…","message":"…"}} with the status
// that Status gives its code, as Azure Functions' SignalR bindings users
// know them (400 for bad input, 502 for a failing service, 504 for one that
// did not answer, …).
//
// Messages never hold a secret: each place that builds an Error says what
// went wrong in words of its own and keeps the underlying cause, which may
// come from a dependency, in Err, which is logged but never answered.
package apierror

import (
	"fmt"
	"net/http"
)

// The error codes, each with the HTTP status that Status answers for it.
const (
	InvalidJSON               = "InvalidJson"               // 400: the body is not the JSON expected
	InvalidMessage            = "InvalidMessage"            // 400: a value is missing or invalid
	Unauthorized              = "Unauthorized"              // 401: an upstream request's signature is missing or wrong
	NotFound                  = "NotFound"                  // 404: no function for this path or SignalR event
	MethodNotAllowed          = "MethodNotAllowed"          // 405: the function does not accept this method
	PayloadTooLarge           = "PayloadTooLarge"           // 413: the body is over the limit
	UnsupportedMediaType      = "UnsupportedMediaType"      // 415: the body is declared as something else than expected
	ConfigurationError        = "ConfigurationError"        // 500: a setting is missing or invalid
	InternalError             = "InternalError"             // 500: a function panicked or failed unexpectedly
	ServiceError              = "ServiceError"              // 502: the SignalR service answered an error or could not be reached
	AuthenticationUnavailable = "AuthenticationUnavailable" // 503: no Microsoft Entra ID token or access key could be had
	ServiceTimeout            = "ServiceTimeout"            // 504: the SignalR service did not answer in time
)

// statuses is the one table from codes to HTTP statuses.
var statuses = map[string]int{
	InvalidJSON:               http.StatusBadRequest,
	InvalidMessage:            http.StatusBadRequest,
	Unauthorized:              http.StatusUnauthorized,
	NotFound:                  http.StatusNotFound,
	MethodNotAllowed:          http.StatusMethodNotAllowed,
	PayloadTooLarge:           http.StatusRequestEntityTooLarge,
	UnsupportedMediaType:      http.StatusUnsupportedMediaType,
	ConfigurationError:        http.StatusInternalServerError,
	InternalError:             http.StatusInternalServerError,
	ServiceError:              http.StatusBadGateway,
	AuthenticationUnavailable: http.StatusServiceUnavailable,
	ServiceTimeout:            http.StatusGatewayTimeout,
}

// Status is the HTTP status that code is answered with; a code not listed
// above is a 500.
func Status(code string) int {
	if status, ok := statuses[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// Error is a failure as callers see it: Code is one of the codes above and
// Message says what is wrong, in words that hold no secret.
type Error struct {
	Code    string
	Message string
	// Key is the setting at fault of a ConfigurationError, spelled as the
	// user wrote it (AzureSignalRConnectionString__serviceUri,
	// Azure:SignalR:Endpoints:east, …); Message then starts with it.
	Key string
	// ServiceStatus is the HTTP status the SignalR service answered a
	// ServiceError with; 0 when it could not be reached.
	ServiceStatus int
	// ServiceCode is the service's x-ms-error-code of a ServiceError, when
	// it answered one that looks like an error code.
	ServiceCode string
	// Err is the underlying cause, for errors.Is, errors.As and logs; it is
	// never answered to callers.
	Err error
}

// New returns an *Error with code and the message formatted from format and
// args, as fmt.Sprintf does.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap is New with err kept as the cause.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Setting returns the ConfigurationError of the setting key; its message is
// "key: " followed by problem.
func Setting(key, problem string) *Error {
	return &Error{Code: ConfigurationError, Key: key, Message: key + ": " + problem}
}

// Error returns the code and the message, never the cause.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
