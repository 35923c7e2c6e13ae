package apierror_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{apierror.InvalidJSON, 400},
		{apierror.InvalidMessage, 400},
		{apierror.Unauthorized, 401},
		{apierror.NotFound, 404},
		{apierror.MethodNotAllowed, 405},
		{apierror.PayloadTooLarge, 413},
		{apierror.UnsupportedMediaType, 415},
		{apierror.ConfigurationError, 500},
		{apierror.InternalError, 500},
		{apierror.ServiceError, 502},
		{apierror.AuthenticationUnavailable, 503},
		{apierror.ServiceTimeout, 504},
		{"SomethingElse", 500},
		{"", 500},
		{"invalidjson", 500}, // codes are matched exactly, as clients compare them
	}
	for _, tt := range tests {
		if got := apierror.Status(tt.code); got != tt.want {
			t.Errorf("Status(%q): got %d, want %d", tt.code, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	cause := fs.ErrNotExist
	tests := []struct {
		name      string
		err       *apierror.Error
		wantText  string
		wantCode  string
		wantKey   string
		wantCause error
	}{
		{"New formats", apierror.New(apierror.InvalidMessage, "group %q is %d characters long", "g", 1025),
			`InvalidMessage: group "g" is 1025 characters long`, apierror.InvalidMessage, "", nil},
		{"New keeps a lone percent sign of an argument", apierror.New(apierror.NotFound, "no function at %s", "/api/100%"),
			"NotFound: no function at /api/100%", apierror.NotFound, "", nil},
		{"Wrap keeps the cause out of the text", apierror.Wrap(apierror.ServiceError, cause, "could not reach the service"),
			"ServiceError: could not reach the service", apierror.ServiceError, "", cause},
		{"Setting names the key", apierror.Setting("AzureSignalRConnectionString__serviceUri", "must be an https URL"),
			"ConfigurationError: AzureSignalRConnectionString__serviceUri: must be an https URL",
			apierror.ConfigurationError, "AzureSignalRConnectionString__serviceUri", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.wantText {
				t.Errorf("Error(): got %q, want %q", got, tt.wantText)
			}
			if tt.err.Code != tt.wantCode || tt.err.Key != tt.wantKey {
				t.Errorf("got code %q key %q, want %q %q", tt.err.Code, tt.err.Key, tt.wantCode, tt.wantKey)
			}
			if got := errors.Unwrap(tt.err); got != tt.wantCause {
				t.Errorf("Unwrap: got %v, want %v", got, tt.wantCause)
			}
			if tt.wantCause != nil && !errors.Is(fmt.Errorf("send: %w", tt.err), tt.wantCause) {
				t.Errorf("errors.Is through a wrapped *Error did not find the cause")
			}
			var e *apierror.Error
			if !errors.As(fmt.Errorf("send: %w", tt.err), &e) || e != tt.err {
				t.Errorf("errors.As through a wrapping error: got %v, want the *Error", e)
			}
		})
	}
}

func ExampleError() {
	err := fmt.Errorf("notify: %w", apierror.Wrap(apierror.ServiceError, errors.New("dial tcp: connection refused"),
		"could not reach the SignalR service for POST /api/hubs/chat/:send: connection refused"))

	var e *apierror.Error
	if errors.As(err, &e) {
		fmt.Println(apierror.Status(e.Code), e.Code)
		fmt.Println(e.Message)
	}
	// Output:
	// 502 ServiceError
	// could not reach the SignalR service for POST /api/hubs/chat/:send: connection refused
}
