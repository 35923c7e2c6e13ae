package settings

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// authKind is the credential a connection uses.
type authKind int

const (
	authAccessKey authKind = iota
	authDefault            // DefaultAzureCredential
	authManagedIdentity
	authClientSecret
	authClientCertificate
)

// connString is a parsed, validated connection string, with the keys the
// service SDK reads (Endpoint, AccessKey, Version, Port, ClientEndpoint,
// ServerEndpoint, AuthType, ClientId, TenantId, ClientSecret, ClientCert).
// Endpoints are normalized; secrets (accessKey, clientSecret) are never put
// in an error.
type connString struct {
	endpoint, clientEndpoint, serverEndpoint string

	auth         authKind
	accessKey    string
	clientID     string
	tenantID     string
	clientSecret string
	clientCert   string // a file path
}

// versionPattern is the Version rule of the service SDK's parser.
var versionPattern = regexp.MustCompile(`^1\.\d+(?:[\w\-.]+)?$`)

// parseConnectionString parses s the way the service SDK does: split on
// ";", each part on its first "=", keys case-insensitive and trimmed,
// values trimmed; parts without "=" and unknown keys are skipped. Errors
// name keys, never values (a mistyped separator can glue a secret onto any
// value), except a short, identifier-like AuthType.
func parseConnectionString(s string) (*connString, error) {
	props := make(map[string]string)
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		lk := strings.ToLower(k)
		if _, dup := props[lk]; dup {
			return nil, fmt.Errorf("duplicate key %s", k)
		}
		props[lk] = strings.TrimSpace(v)
	}

	var cs connString
	var err error
	if props["endpoint"] == "" {
		return nil, errors.New("Endpoint is required")
	}
	if v := props["version"]; v != "" && !versionPattern.MatchString(v) {
		return nil, errors.New("Version is not supported: want 1.x")
	}
	port := props["port"]
	if port != "" {
		if _, err := parsePort(port); err != nil {
			return nil, errors.New("Port must be a number from 1 to 65535")
		}
	}
	if cs.endpoint, err = normalizeEndpoint(props["endpoint"], port); err != nil {
		return nil, fmt.Errorf("Endpoint %v", err)
	}
	cs.clientEndpoint, cs.serverEndpoint = cs.endpoint, cs.endpoint
	if v := props["clientendpoint"]; v != "" {
		if cs.clientEndpoint, err = normalizeEndpoint(v, ""); err != nil {
			return nil, fmt.Errorf("ClientEndpoint %v", err)
		}
	}
	if v := props["serverendpoint"]; v != "" {
		if cs.serverEndpoint, err = normalizeEndpoint(v, ""); err != nil {
			return nil, fmt.Errorf("ServerEndpoint %v", err)
		}
	}

	cs.accessKey = props["accesskey"]
	cs.clientID = props["clientid"]
	cs.tenantID = props["tenantid"]
	cs.clientSecret = props["clientsecret"]
	cs.clientCert = props["clientcert"]
	switch authType := strings.ToLower(props["authtype"]); authType {
	case "":
		if cs.accessKey == "" {
			return nil, errors.New("AccessKey is required (or set AuthType to azure, azure.msi or azure.app)")
		}
		cs.auth = authAccessKey
	case "azure":
		cs.auth = authDefault
	case "azure.msi":
		cs.auth = authManagedIdentity
	case "azure.app":
		if cs.clientID == "" {
			return nil, errors.New("AuthType azure.app requires ClientId")
		}
		if cs.tenantID == "" {
			return nil, errors.New("AuthType azure.app requires TenantId")
		}
		if err := cs.pickApp("azure.app"); err != nil {
			return nil, err
		}
	case "aad": // legacy: an app when TenantId and ClientId are set, else a managed identity
		if cs.clientID != "" && cs.tenantID != "" {
			if err := cs.pickApp("aad"); err != nil {
				return nil, err
			}
		} else {
			cs.auth = authManagedIdentity
		}
	default:
		return nil, fmt.Errorf("unknown AuthType %s (want azure, azure.msi or azure.app; omit it for access-key auth)",
			quoteIfName(props["authtype"]))
	}
	return &cs, nil
}

// pickApp chooses between the secret and the certificate of an app registration.
func (cs *connString) pickApp(authType string) error {
	switch {
	case cs.clientSecret != "":
		cs.auth = authClientSecret
	case cs.clientCert != "":
		cs.auth = authClientCertificate
	default:
		return fmt.Errorf("AuthType %s requires ClientSecret or ClientCert", authType)
	}
	return nil
}

// namePattern matches values that are safe to echo: short identifiers, not
// secrets (client secrets and keys are longer and use other characters).
var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// quoteIfName quotes s if it looks like a name, else says it is withheld.
func quoteIfName(s string) string {
	if namePattern.MatchString(s) {
		return fmt.Sprintf("%q", s)
	}
	return "(value not shown)"
}

// hostPattern is a DNS name (underscores allowed, as in container names).
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$`)

// errNotHTTPURL is the message of every endpoint error; the value is never
// echoed.
var errNotHTTPURL = errors.New("must be an absolute http or https URL without user info, query or fragment")

// normalizeEndpoint validates an absolute http(s) URL and returns it as
// scheme://host[:port][/path], lower-case scheme and host, without a
// trailing slash. A non-empty port replaces the URL's port.
func normalizeEndpoint(raw, port string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errNotHTTPURL
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Opaque != "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errNotHTTPURL
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); ip == nil && (!hostPattern.MatchString(host) || len(host) > 253) {
		return "", errNotHTTPURL
	}
	if port == "" {
		port = u.Port()
	}
	if port != "" {
		if _, err := parsePort(port); err != nil {
			return "", errNotHTTPURL
		}
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	n := url.URL{Scheme: scheme, Host: host, Path: strings.TrimRight(u.Path, "/"), RawPath: strings.TrimRight(u.RawPath, "/")}
	out := n.String()
	// Check the result reads back the same, so callers can build URLs on it.
	if back, err := url.Parse(out); err != nil || back.Scheme != scheme || back.Host != host || back.RawQuery != "" || back.Fragment != "" {
		return "", errNotHTTPURL
	}
	return out, nil
}
