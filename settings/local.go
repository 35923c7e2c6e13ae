package settings

import (
	"context"
	"log/slog"
	"net"
	"net/url"
)

// LocalAccessKey is the public development key of the embedded local
// service, the one the official SignalR emulator uses. It is not a secret.
const LocalAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// localHostPort splits addr for the endpoint of the local service: an
// unspecified host (empty, 0.0.0.0, ::) is written localhost.
func localHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil { // Load rejects such addresses; keep what we were given
		return addr, ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return host, port
}

// LocalConnection is the connection to the embedded local service at addr
// (CONTRACT §1.6) with the public development key. Its Setting is
// DefaultConnectionStringSetting; callers resolving another setting
// overwrite it.
func LocalConnection(addr string) *Connection {
	host, port := localHostPort(addr)
	endpoint := "http://" + host
	if port != "" {
		endpoint = "http://" + net.JoinHostPort(host, port)
	}
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

// LocalConnectionString is the connection string of the embedded local
// service at addr, as CONTRACT §1.6 logs it:
// Endpoint=http://<host>;Port=<port>;AccessKey=<LocalAccessKey>;Version=1.0;
func LocalConnectionString(addr string) string {
	host, port := localHostPort(addr)
	u := url.URL{Scheme: "http", Host: host}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		u.Host = "[" + host + "]"
	}
	s := "Endpoint=" + u.String() + ";"
	if port != "" {
		s += "Port=" + port + ";"
	}
	return s + "AccessKey=" + LocalAccessKey + ";Version=1.0;"
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
			slog.String("hub", hub), slog.String("connectionString", LocalConnectionString(u.Host)))
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
