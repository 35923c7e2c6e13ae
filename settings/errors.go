package settings

import (
	"errors"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// ErrNotConfigured is the cause of the ConfigurationError Resolve returns
// when no SignalR connection is set for a ConnectionStringSetting: test it
// with errors.Is. For the default setting the app then starts the embedded
// local service instead.
var ErrNotConfigured = errors.New("no SignalR connection is configured")

// notConfigured is the ConfigurationError for setting: it names the settings
// to set, in both spellings: "__" as the portal writes them, ":" as
// local.settings.json does.
func notConfigured(setting string) *apierror.Error {
	return &apierror.Error{
		Code: apierror.ConfigurationError,
		Key:  setting,
		Message: "SignalR is not configured: set " + setting + " (a connection string) or " +
			setting + "__serviceUri (identity-based; " + setting + ":serviceUri in local.settings.json)",
		Err: ErrNotConfigured,
	}
}
