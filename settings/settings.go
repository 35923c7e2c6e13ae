// Package settings reads Azure Functions app settings the way the official
// SignalR bindings do and resolves them into SignalR connections and
// Microsoft Entra credentials. It never touches the network and never logs
// or returns a secret.
package settings

import (
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// DefaultConnectionStringSetting is the ConnectionStringSetting the
// official bindings use when the code names none.
const DefaultConnectionStringSetting = "AzureSignalRConnectionString"

// Settings holds the process-wide app settings.
type Settings struct {
	HubName           string        // AzureSignalRHubName, default "default"
	Port              string        // FUNCTIONS_CUSTOMHANDLER_PORT; "" when standalone
	HTTPClientTimeout time.Duration // AzureSignalRHttpClientTimeout, default 30s
	CORSOrigins       []string      // CORS_ALLOWED_ORIGINS (standalone only)
	LocalAddr         string        // FUNCSIGNALR_LOCAL_ADDR, default 127.0.0.1:8888
	InAzure           bool          // WEBSITE_INSTANCE_ID is set
	AuthEnabled       bool          // WEBSITE_AUTH_ENABLED is true (any case): App Service Authentication is on

	// AccessTokenLifetime is the exp of negotiate's client access tokens
	// (AzureSignalRAccessTokenLifetime, default 1h).
	AccessTokenLifetime time.Duration
	// AccessTokenLifetimeError is set when AzureSignalRAccessTokenLifetime
	// is invalid: negotiate answers it; the rest keeps working. Load does
	// not return it.
	AccessTokenLifetimeError error
	// ClaimTypes are the claim types of x-ms-client-principal that the
	// root app's negotiate copies into client tokens (AzureSignalRClaimTypes).
	ClaimTypes []string
}

// Standalone reports whether the handler runs without the Functions host.
func (s Settings) Standalone() bool { return s.Port == "" }

// Connection is one resolved SignalR connection (one per
// ConnectionStringSetting): the setting's own endpoint, described by the
// fields below Setting (Endpoint is "" when only named endpoints are set),
// and the named endpoints. ServiceEndpoints lists them all.
type Connection struct {
	Setting        string                 // the ConnectionStringSetting it came from
	Endpoint       string                 // scheme://host[:port][/path], no trailing slash; the token audience comes from it
	ClientEndpoint string                 // base of the URL handed to clients; defaults to Endpoint
	ServerEndpoint string                 // base of REST calls and the key exchange; defaults to Endpoint
	AccessKey      string                 // set for access-key auth; secret
	Credential     azcore.TokenCredential // set for Microsoft Entra ID auth
	Auth           string                 // human description without secrets, e.g. "client secret (tenant T, client C)"
	Local          bool                   // the embedded local service
	// Named are the endpoints of Azure:SignalR:Endpoints (default setting
	// only), in name order.
	Named []ServiceEndpoint
	// Secrets are the secret values known when the connection was resolved
	// (access keys, client secrets, certificate passwords, AZURE_CLIENT_SECRET,
	// AZURE_PASSWORD), for scrubbing text from azidentity or a service
	// before it is logged. Neither String nor LogValue shows them.
	Secrets []string
}

// LogValue describes the connection for logs: never the key or a secret.
func (c Connection) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("setting", c.Setting),
		slog.String("endpoint", c.Endpoint),
		slog.String("auth", c.Auth),
	}
	if len(c.Named) > 0 {
		attrs = append(attrs, slog.Int("namedEndpoints", len(c.Named)))
	}
	return slog.GroupValue(attrs...)
}

// String describes the connection like LogValue, so that printing a
// Connection (or a pointer to one) with fmt never shows an AccessKey.
func (c Connection) String() string {
	s := "SignalR connection " + c.Setting + " to " + c.Endpoint + " (" + c.Auth + ")"
	for _, e := range c.Named {
		s += "; " + e.String()
	}
	return s
}

// GoString is String, for %#v.
func (c Connection) GoString() string { return c.String() }
