package settings

import (
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Values is the merged view of the app-setting sources (CONTRACT §1.1):
// keys match case-insensitively and "__" equals ":".
type Values struct{}

// Source is one source of app settings, highest precedence first when
// passed to NewValues.
type Source struct {
	Name  string            // "environment", "local.settings.json", ".env"
	Pairs map[string]string // key as the user spelled it → value
}

// ReadSources returns the sources of CONTRACT §1.1 for a process with the
// given environment (os.Environ form) and working directory.
// local.settings.json is read only when standalone; .env always.
func ReadSources(environ []string, dir string, standalone bool) ([]Source, error) { panic("TODO") }

// NewValues merges sources (highest precedence first), logging a warning
// through logger for each key spelled two ways with different values.
func NewValues(logger *slog.Logger, sources ...Source) *Values { panic("TODO") }

// Get returns the value of key and the spelling the user wrote it in.
func (v *Values) Get(key string) (value, spelling string, ok bool) { panic("TODO") }

// Load reads the process-wide settings of CONTRACT §1.5.
func Load(v *Values) (Settings, error) { panic("TODO") }

// Options tunes credential construction; the zero value is production.
type Options struct {
	// ClientOptions is applied to every azidentity credential (tests set
	// Transport and Cloud to a fake authority).
	ClientOptions azcore.ClientOptions
	// CertificateDir holds certificates named by thumbprint; default /var/ssl/private.
	CertificateDir string
}

// Error is a ConfigurationError: a present-but-invalid or missing setting.
// Key is spelled as the user wrote it; Message never holds a secret.
type Error struct {
	Key     string
	Message string
}

func (e *Error) Error() string { return e.Key + ": " + e.Message }

// NotConfiguredError says that no SignalR connection is configured for Setting.
type NotConfiguredError struct{ Setting string }

func (e *NotConfiguredError) Error() string {
	return "SignalR is not configured: set " + e.Setting + " (a connection string) or " +
		e.Setting + "__serviceUri (identity-based; " + e.Setting + ":serviceUri in local.settings.json)"
}

// Resolve resolves the connection for a ConnectionStringSetting (CONTRACT
// §1.2–§1.4), building its credential once. It returns *NotConfiguredError
// when nothing is set and *Error when a setting is invalid.
func Resolve(v *Values, setting string, opts Options) (*Connection, error) { panic("TODO") }

// LocalConnection is the connection to the embedded local service at addr
// (CONTRACT §1.6) with the public development key.
func LocalConnection(addr string) *Connection { panic("TODO") }
