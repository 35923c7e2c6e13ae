package settings

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/funcsignalr/funcsignalr/internal/devservice"
)

// LocalAccessKey is the public development key of the embedded local
// service, the one the official SignalR emulator uses. It is not a secret.
const LocalAccessKey = devservice.AccessKey

// LocalConnection is the connection to the embedded local service at addr
// with the public development key: an unspecified host (0.0.0.0, ::) is
// written localhost. Its Setting is DefaultConnectionStringSetting; callers
// resolving another setting overwrite it.
func LocalConnection(addr string) *Connection {
	endpoint := devservice.Endpoint(addr)
	return &Connection{
		Setting:        DefaultConnectionStringSetting,
		Endpoint:       endpoint,
		ClientEndpoint: endpoint,
		ServerEndpoint: endpoint,
		AccessKey:      LocalAccessKey,
		Auth:           "access key (local development key)",
		Local:          true,
	}
}

// LogConnection logs the start-up summary of c: one line per endpoint with
// its name, type, host and port, auth kind and the hub, never a secret.
// For the embedded local service it adds the connection string, whose key
// is public.
func LogConnection(logger *slog.Logger, c *Connection, hub string) {
	if logger == nil {
		logger = slog.Default()
	}
	if c.Local {
		u, _ := url.Parse(c.Endpoint)
		logger.Info("SignalR is not configured: using the embedded local SignalR service",
			slog.String("setting", c.Setting), slog.String("endpoint", c.Endpoint), slog.String("auth", c.Auth),
			slog.String("hub", hub), slog.String("connectionString", devservice.ConnectionString(u.Host)))
		return
	}
	eps := c.ServiceEndpoints()
	for _, e := range eps {
		attrs := []slog.Attr{slog.String("setting", c.Setting)}
		if len(eps) > 1 {
			attrs = append(attrs, slog.String("name", e.Name), slog.String("type", string(e.Type)))
		}
		attrs = append(attrs,
			slog.String("host", e.HostPort()),
			slog.String("endpoint", e.Endpoint),
			slog.String("auth", e.Auth),
			slog.String("hub", hub))
		if e.ClientEndpoint != e.Endpoint {
			attrs = append(attrs, slog.String("clientEndpoint", e.ClientEndpoint))
		}
		if e.ServerEndpoint != e.Endpoint {
			attrs = append(attrs, slog.String("serverEndpoint", e.ServerEndpoint))
		}
		msg := "SignalR connection"
		if len(eps) > 1 {
			msg = "SignalR endpoint"
		}
		logger.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	}
}
