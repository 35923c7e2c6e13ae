package bindings

import (
	"errors"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/hubname"
	"github.com/funcsignalr/funcsignalr/settings"
)

// NewClient builds a Client for conn and hub, with one endpoint per
// conn.ServiceEndpoints(). An endpoint with a Credential uses Microsoft
// Entra ID (which takes precedence over AccessKey) and its own signing-key
// cache; otherwise it signs with its AccessKey. NewClient does no I/O; with
// Microsoft Entra ID it starts the background refresh of each signing key,
// and with several endpoints the health watch, both stopped by Close.
// Its errors are *apierror.Error with apierror.ConfigurationError.
func NewClient(conn *settings.Connection, hub string, opts Options) (*Client, error) {
	if conn == nil {
		return nil, apierror.New(apierror.ConfigurationError, "no SignalR connection")
	}
	if problem := hubname.Problem(hub); problem != "" {
		return nil, apierror.New(apierror.ConfigurationError, "%s", problem)
	}
	if opts.TokenLifetime != 0 {
		if err := settings.CheckAccessTokenLifetime(opts.TokenLifetime); err != nil {
			return nil, apierror.New(apierror.ConfigurationError, "%v", err)
		}
	}
	services := conn.ServiceEndpoints()
	if len(services) == 0 {
		return nil, apierror.New(apierror.ConfigurationError, "SignalR connection %s has no endpoint", conn.Setting)
	}
	opts = withDefaults(opts)

	hub = strings.ToLower(hub)
	c := &Client{
		maxUserIDPath: math.MaxInt,
		timeout:       opts.Timeout,
		tokenLifetime: opts.TokenLifetime,
		now:           opts.Now,
	}
	secrets := append([]string(nil), conn.Secrets...)
	for _, s := range services {
		secrets = append(secrets, s.AccessKey)
	}
	for _, s := range services {
		ep, err := newEndpoint(s, hub, opts, len(services) > 1)
		if err != nil {
			c.Close()
			return nil, err
		}
		diag := newDiagnostics(opts.Logger, secrets, s.Auth)
		ep.diag = diag
		if ep.keys != nil {
			ep.keys.diag = diag
		}
		c.eps = append(c.eps, ep)
		c.maxUserIDPath = min(c.maxUserIDPath, ep.maxUserIDPath())
	}
	if len(c.eps) > 1 {
		for _, ep := range c.eps {
			if ep.primary {
				c.primaries = append(c.primaries, ep)
			}
		}
		if len(c.primaries) == 0 {
			c.primaries = c.eps
		}
		c.health = newHealth(c.eps, opts)
	}
	return c, nil
}

// newEndpoint prepares the calls to one SignalR resource: URLs, the
// pipeline with its own auth, and for Microsoft Entra ID its own key cache.
// With several endpoints its errors name the endpoint.
func newEndpoint(s settings.ServiceEndpoint, hub string, opts Options, several bool) (*endpoint, error) {
	named := func(err error) error {
		var e *apierror.Error
		if several && errors.As(err, &e) {
			e.Message = "endpoint " + strconv.Quote(s.Name) + ": " + e.Message
		}
		return err
	}
	endpointURL, err := parseEndpoint("endpoint", s.Endpoint, "")
	if err != nil {
		return nil, named(err)
	}
	clientEndpoint, err := parseEndpoint("client endpoint", s.ClientEndpoint, s.Endpoint)
	if err != nil {
		return nil, named(err)
	}
	serverEndpoint, err := parseEndpoint("server endpoint", s.ServerEndpoint, s.Endpoint)
	if err != nil {
		return nil, named(err)
	}
	if s.Credential == nil && s.AccessKey == "" {
		return nil, named(apierror.New(apierror.ConfigurationError,
			"SignalR connection %s has neither an access key nor a Microsoft Entra ID credential", endpointURL.Redacted()))
	}
	e := &endpoint{
		name:       s.Name,
		primary:    s.Type != settings.Secondary,
		host:       s.HostPort(),
		clientURL:  baseURL(clientEndpoint) + "/client/?hub=" + hub,
		audience:   clientAudience(endpointURL, hub),
		server:     *serverEndpoint,
		serverName: serverEndpoint.Scheme + "://" + serverEndpoint.Host,
	}
	base, rawBase := strings.TrimSuffix(e.server.Path, "/"), strings.TrimSuffix(e.server.EscapedPath(), "/")
	e.hubPath = base + "/api/hubs/" + hub
	e.hubRawPath = rawBase + "/api/hubs/" + url.PathEscape(hub)
	health := e.server
	health.Path, health.RawPath = base+"/api/health", rawBase+"/api/health"
	e.healthURL = health.String()

	var auth policy.Policy
	if s.Credential != nil {
		auth = newEntraPolicy(s.Credential)
	} else {
		e.signer = newSigner(accessKeyID(s.AccessKey), []byte(s.AccessKey))
		auth = &accessKeyPolicy{signer: e.signer, now: opts.Now}
	}
	e.pipeline = newPipeline(opts, auth)
	if s.Credential != nil {
		keyURL := e.server
		keyURL.Path, keyURL.RawPath = base+"/api/v1/auth/accessKey", rawBase+"/api/v1/auth/accessKey"
		e.keys = newKeyCache(e.pipeline, keyURL.String(), e.serverName, opts)
	}
	return e, nil
}

func withDefaults(o Options) Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.TryTimeout <= 0 || o.TryTimeout > MaxTryTimeout {
		o.TryTimeout = MaxTryTimeout
	}
	o.TryTimeout = min(o.TryTimeout, o.Timeout)
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = defaultTokenLifetime
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Transport == nil {
		o.Transport = defaultTransport()
	}
	return o
}

// parseEndpoint parses an absolute http(s) URL; an empty raw falls back to
// fallback (ClientEndpoint and ServerEndpoint default to Endpoint). A
// trailing slash is dropped. Messages never hold user info from the URL.
func parseEndpoint(what, raw, fallback string) (*url.URL, error) {
	if raw == "" {
		raw = fallback
	}
	if raw == "" {
		return nil, apierror.New(apierror.ConfigurationError, "SignalR connection has no %s", what)
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		return nil, apierror.Wrap(apierror.ConfigurationError, err, "SignalR %s is not a valid URL", what)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, apierror.New(apierror.ConfigurationError, "SignalR %s %s is not an absolute http or https URL", what, u.Redacted())
	}
	// Only scheme, host and path are used: user info would leak to clients.
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u, nil
}

// baseURL is u without a trailing slash.
func baseURL(u *url.URL) string { return strings.TrimSuffix(u.String(), "/") }

// clientAudience is the aud of client tokens: scheme and host of the
// endpoint, without port or path, as the service's SDK builds it.
func clientAudience(endpoint *url.URL, hub string) string {
	host := strings.ToLower(endpoint.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	return endpoint.Scheme + "://" + host + "/client/?hub=" + hub
}
