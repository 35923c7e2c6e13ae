package settings

// Error is a ConfigurationError: a present-but-invalid or missing setting.
// Key is spelled as the user wrote it; Message never holds a secret.
type Error struct {
	Key     string
	Message string
}

// Error returns "Key: Message".
func (e *Error) Error() string { return e.Key + ": " + e.Message }

// NotConfiguredError says that no SignalR connection is configured for Setting.
// Its message names the settings to set, in both spellings: "__" as the
// portal writes them, ":" as local.settings.json does.
type NotConfiguredError struct{ Setting string }

// Error names the settings to set, e.g. AzureSignalRConnectionString or
// AzureSignalRConnectionString__serviceUri.
func (e *NotConfiguredError) Error() string {
	return "SignalR is not configured: set " + e.Setting + " (a connection string) or " +
		e.Setting + "__serviceUri (identity-based; " + e.Setting + ":serviceUri in local.settings.json)"
}
