package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// endpointsPrefix is the section of named SignalR endpoints, as the
// official extension reads them: Azure:SignalR:Endpoints:<name> (a
// connection string, primary), <name>:primary, <name>:secondary, or
// <name>:serviceUri with the identity keys and <name>:type (the extension's
// docs/sharding.md in Azure/azure-sdk-for-net,
// sdk/signalr/Microsoft.Azure.WebJobs.Extensions.SignalRService).
const endpointsPrefix = "Azure:SignalR:Endpoints"

// EndpointType says how negotiate picks an endpoint: a primary while any
// is online, a secondary only when no primary is.
type EndpointType string

// The endpoint types.
const (
	Primary   EndpointType = "primary"
	Secondary EndpointType = "secondary"
)

// ServiceEndpoint is one SignalR resource of a connection.
type ServiceEndpoint struct {
	Name           string                 // "" for the ConnectionStringSetting's own connection
	Type           EndpointType           // Primary or Secondary
	Endpoint       string                 // scheme://host[:port][/path], no trailing slash
	ClientEndpoint string                 // base of the URL handed to clients; defaults to Endpoint
	ServerEndpoint string                 // base of REST calls and the key exchange; defaults to Endpoint
	AccessKey      string                 // set for access-key auth; secret
	Credential     azcore.TokenCredential // set for Microsoft Entra ID auth
	Auth           string                 // human description without secrets
}

// String describes the endpoint without its access key.
func (e ServiceEndpoint) String() string {
	return fmt.Sprintf("SignalR endpoint %q (%s) %s (%s)", e.Name, e.Type, e.Endpoint, e.Auth)
}

// GoString is String, for %#v.
func (e ServiceEndpoint) GoString() string { return e.String() }

// LogValue describes the endpoint for logs: never the key or a secret.
func (e ServiceEndpoint) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", e.Name), slog.String("type", string(e.Type)),
		slog.String("endpoint", e.Endpoint), slog.String("auth", e.Auth))
}

// HostPort is the endpoint's host and port, the port spelled out even when
// the URL leaves it to the scheme (443 for https, 80 for http).
func (e ServiceEndpoint) HostPort() string {
	u, err := url.Parse(e.Endpoint)
	if err != nil {
		return e.Endpoint
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// ServiceEndpoints returns every endpoint of the connection: its own (a
// primary named "", when the ConnectionStringSetting is set) and then the
// named ones of Azure:SignalR:Endpoints.
func (c *Connection) ServiceEndpoints() []ServiceEndpoint {
	var eps []ServiceEndpoint
	if c.Endpoint != "" {
		eps = append(eps, endpointOf(c, "", Primary))
	}
	return append(eps, c.Named...)
}

// AccessKeys returns the access key of every endpoint, the keys that may
// sign upstream requests. It returns nil when any endpoint authenticates
// with Microsoft Entra ID: the official extension then skips the
// signature check, since that endpoint's requests cannot be checked.
func (c *Connection) AccessKeys() []string {
	eps := c.ServiceEndpoints()
	keys := make([]string, 0, len(eps))
	for _, e := range eps {
		if e.AccessKey == "" || e.Credential != nil {
			return nil
		}
		keys = append(keys, e.AccessKey)
	}
	return keys
}

// namedEndpoint is a resolved named endpoint and the key it came from.
type namedEndpoint struct {
	ServiceEndpoint
	key string
}

// namedEndpoints resolves every endpoint under Azure:SignalR:Endpoints,
// sorted by name. Each has its own credential. Errors of every endpoint
// are joined.
func (r *resolver) namedEndpoints() ([]namedEndpoint, error) {
	var eps []namedEndpoint
	var errs []error
	for _, name := range r.v.children(endpointsPrefix) {
		sub := &resolver{v: r.v, setting: endpointsPrefix + ":" + name, opts: r.opts}
		for _, k := range []string{sub.setting + ":clientSecret", sub.setting + ":clientCertificatePassword"} {
			if s, _, ok := r.v.Get(k); ok {
				sub.secrets = append(sub.secrets, s)
			}
		}
		sub.secrets = append(sub.secrets, r.secrets...)
		found, err := sub.named(name)
		r.namedSecrets = append(r.namedSecrets, sub.secrets...)
		if err != nil {
			errs = append(errs, sub.scrub(err))
			continue
		}
		eps = append(eps, found...)
	}
	return eps, errors.Join(errs...)
}

// named resolves the endpoints of one name: an identity-based one when
// <name>:serviceUri is set, else one per connection string at <name>,
// <name>:primary and <name>:secondary.
func (r *resolver) named(name string) ([]namedEndpoint, error) {
	typ, typeKey, hasType := r.get("type")
	if _, uriKey, ok := r.get("serviceUri"); ok {
		t := Primary
		if hasType {
			switch strings.ToLower(strings.TrimSpace(typ)) {
			case "primary":
			case "secondary":
				t = Secondary
			default:
				return nil, apierror.Setting(typeKey, fmt.Sprintf("unknown endpoint type %s: want primary or secondary", quoteIfName(strings.TrimSpace(typ))))
			}
		}
		c, err := r.fromIdentity()
		if err != nil {
			return nil, err
		}
		return []namedEndpoint{{endpointOf(c, name, t), uriKey}}, nil
	}
	if hasType {
		return nil, apierror.Setting(typeKey, "type applies to identity-based endpoints ("+r.both("serviceUri")+
			"); give connection strings as "+r.setting+":primary or "+r.setting+":secondary")
	}
	var eps []namedEndpoint
	for _, k := range []struct {
		key string
		typ EndpointType
	}{{r.setting, Primary}, {r.setting + ":primary", Primary}, {r.setting + ":secondary", Secondary}} {
		s, spelling, ok := r.v.Get(k.key)
		if !ok || strings.TrimSpace(s) == "" {
			continue
		}
		c, err := r.fromConnectionString(s, spelling)
		if err != nil {
			return nil, err
		}
		eps = append(eps, namedEndpoint{endpointOf(c, name, k.typ), spelling})
	}
	if len(eps) == 0 {
		return nil, apierror.Setting(r.setting, "no endpoint: set "+r.setting+" (a connection string), "+
			r.setting+":primary, "+r.setting+":secondary, or "+r.both("serviceUri")+" (identity-based)")
	}
	return eps, nil
}

// endpointOf is the endpoint named name of type t that c's own endpoint,
// credential and auth describe.
func endpointOf(c *Connection, name string, t EndpointType) ServiceEndpoint {
	return ServiceEndpoint{
		Name: name, Type: t, Endpoint: c.Endpoint, ClientEndpoint: c.ClientEndpoint, ServerEndpoint: c.ServerEndpoint,
		AccessKey: c.AccessKey, Credential: c.Credential, Auth: c.Auth,
	}
}

// withNamedEndpoints adds the named endpoints to the default setting's
// connection c (nil when that setting is not configured) and checks that
// no two endpoints share a URL.
func (r *resolver) withNamedEndpoints(c *Connection, named []namedEndpoint) (*Connection, error) {
	if c == nil {
		c = &Connection{Setting: r.setting}
	}
	seen := map[string]string{} // comparable URL → key
	if c.Endpoint != "" {
		seen[comparableURL(c.Endpoint)] = r.setting
	}
	for _, e := range named {
		u := comparableURL(e.Endpoint)
		if first, dup := seen[u]; dup {
			return nil, apierror.Setting(e.key, fmt.Sprintf("endpoint %s is also set by %s: each endpoint must be a different SignalR resource", e.Endpoint, first))
		}
		seen[u] = e.key
		c.Named = append(c.Named, e.ServiceEndpoint)
	}
	return c, nil
}

// comparableURL is an endpoint URL for comparison: scheme and host lower
// case, no trailing slash.
func comparableURL(s string) string {
	s = strings.TrimSuffix(s, "/")
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String()
}

// children returns the names one level below prefix (e.g. the endpoint
// names below Azure:SignalR:Endpoints), matched like every key and spelled
// as the user first wrote them (by byte order of the spellings), sorted.
func (v *Values) children(prefix string) []string {
	if v == nil {
		return nil
	}
	p := normalizeKey(prefix) + ":"
	depth := strings.Count(p, ":")
	names := map[string]string{} // normalized name → spelling
	for n, e := range v.entries {
		if !strings.HasPrefix(n, p) || len(n) == len(p) {
			continue
		}
		parts := strings.Split(strings.ReplaceAll(e.spelling, "__", ":"), ":")
		if len(parts) <= depth {
			continue
		}
		name := parts[depth]
		key := strings.ToLower(name)
		if prev, ok := names[key]; !ok || name < prev {
			names[key] = name
		}
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, name)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}
