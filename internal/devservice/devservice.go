// Package devservice says how to reach the embedded local SignalR service:
// its public development key, its base URL and its connection string. It
// uses the standard library only, so that the packages that name the local
// service (settings, and through it every user of the bindings) do not link
// the service itself.
package devservice

import (
	"net"
	"net/url"
)

// AccessKey is the public development key of the local service, the one
// the official SignalR emulator (Azure/azure-signalr, Microsoft.Azure.SignalR.Emulator)
// uses too. It is not a secret.
const AccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// Endpoint is the base URL of a service listening on addr (host:port): an
// unspecified host (empty, 0.0.0.0, ::) is written localhost, which clients
// can dial. An address without a port is kept as given.
func Endpoint(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	return "http://" + net.JoinHostPort(dialableHost(host), port)
}

// ConnectionString is the connection string for a service listening on
// addr, as the official emulator prints it:
// Endpoint=http://<host>;Port=<port>;AccessKey=<AccessKey>;Version=1.0;
func ConnectionString(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	host = dialableHost(host)
	u := url.URL{Scheme: "http", Host: host}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		u.Host = "[" + host + "]"
	}
	s := "Endpoint=" + u.String() + ";"
	if port != "" {
		s += "Port=" + port + ";"
	}
	return s + "AccessKey=" + AccessKey + ";Version=1.0;"
}

// dialableHost writes an unspecified host (empty, 0.0.0.0, ::) localhost.
func dialableHost(host string) string {
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "localhost"
	}
	return host
}
