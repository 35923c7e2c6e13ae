package settings

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// DefaultCertificateDir is where App Service on Linux puts the private
// certificates named in WEBSITE_LOAD_CERTIFICATES, as <THUMBPRINT>.p12.
const DefaultCertificateDir = "/var/ssl/private"

// Options tunes credential construction; the zero value is production.
type Options struct {
	// ClientOptions is applied to every azidentity credential (tests set
	// Transport and Cloud to a fake authority).
	ClientOptions azcore.ClientOptions
	// CertificateDir holds certificates named by thumbprint; default /var/ssl/private.
	CertificateDir string
}

// Resolve resolves the connection for a ConnectionStringSetting, building
// its credential once. When nothing is set it returns a ConfigurationError
// whose cause is ErrNotConfigured, and one naming the key when a setting is
// invalid (both *apierror.Error). An empty setting means
// DefaultConnectionStringSetting.
//
// For DefaultConnectionStringSetting, the endpoints under
// Azure:SignalR:Endpoints (endpointsPrefix) join the setting's own
// connection in Connection.Named, each with its own credential; the
// connection is then configured when either is set. Two endpoints with one
// URL are a ConfigurationError.
//
// Resolve reads only v, never the process environment, with one exception
// that azidentity imposes: DefaultAzureCredential (AuthType=azure, and an
// identity-based connection without tenantId, clientId or clientSecret)
// reads AZURE_* from the process environment when it is built and used.
// Standalone, the caller exports local.settings.json and .env values to
// the process environment first, as func start does, so they reach it.
//
// Resolve does no network I/O; the credential fetches tokens when asked.
// No secret appears in its errors, even when azidentity would echo one.
func Resolve(v *Values, setting string, opts Options) (conn *Connection, err error) {
	if setting == "" {
		setting = DefaultConnectionStringSetting
	}
	r := &resolver{v: v, setting: setting, opts: opts}
	defer func() {
		if conn != nil {
			conn.Secrets = r.knownSecrets()
		}
	}()
	for _, k := range []string{"AZURE_CLIENT_SECRET", "AZURE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
		setting + ":clientSecret", setting + ":clientCertificatePassword"} {
		if s, _, ok := v.Get(k); ok {
			r.secrets = append(r.secrets, s)
		}
	}
	c, err := r.resolve()
	if setting != DefaultConnectionStringSetting {
		if err != nil {
			return nil, r.scrub(err)
		}
		return c, nil
	}
	if err != nil && !errors.Is(err, ErrNotConfigured) {
		return nil, r.scrub(err)
	}
	named, nerr := r.namedEndpoints()
	if nerr != nil {
		return nil, nerr
	}
	if len(named) == 0 {
		return c, err
	}
	return r.withNamedEndpoints(c, named)
}

// resolver holds what one Resolve call needs.
type resolver struct {
	v            *Values
	setting      string
	opts         Options
	secrets      []string // values that must not appear in an error
	namedSecrets []string // of the named endpoints
}

// knownSecrets lists every secret value seen, once each; values shorter
// than 4 characters would match ordinary text and are left out.
func (r *resolver) knownSecrets() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range append(append([]string(nil), r.secrets...), r.namedSecrets...) {
		if len(s) >= 4 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (r *resolver) resolve() (*Connection, error) {
	for _, key := range []string{"ConnectionStrings:" + r.setting, r.setting} {
		if s, spelling, ok := r.v.Get(key); ok && strings.TrimSpace(s) != "" {
			return r.fromConnectionString(s, spelling)
		}
	}
	if _, _, ok := r.get("serviceUri"); ok {
		return r.fromIdentity()
	}
	return nil, notConfigured(r.setting)
}

// get reads the key name of the setting's identity section, P:name.
func (r *resolver) get(name string) (value, spelling string, ok bool) {
	return r.v.Get(r.setting + ":" + name)
}

// both spells P:name both ways, for messages.
func (r *resolver) both(name string) string {
	return r.setting + "__" + name + " / " + r.setting + ":" + name
}

// scrub replaces the message of an error that contains a secret. Every
// message is built not to, so this only guards against text from
// azidentity and the standard library.
func (r *resolver) scrub(err error) error {
	var e *apierror.Error
	if !errors.As(err, &e) {
		return err
	}
	for _, s := range r.secrets {
		if len(s) >= 4 && (strings.Contains(e.Message, s) || strings.Contains(e.Key, s)) {
			return apierror.Setting(r.setting, "invalid setting (details withheld: they contained a secret value)")
		}
	}
	return err
}

func (r *resolver) fromConnectionString(s, spelling string) (*Connection, error) {
	for part := range strings.SplitSeq(s, ";") {
		if k, v, ok := strings.Cut(part, "="); ok {
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "accesskey", "clientsecret":
				r.secrets = append(r.secrets, strings.TrimSpace(v))
			}
		}
	}
	cs, err := parseConnectionString(s)
	if err != nil {
		return nil, apierror.Setting(spelling, "invalid connection string: "+err.Error())
	}
	c := &Connection{
		Setting:        r.setting,
		Endpoint:       cs.endpoint,
		ClientEndpoint: cs.clientEndpoint,
		ServerEndpoint: cs.serverEndpoint,
	}
	switch cs.auth {
	case authAccessKey:
		c.AccessKey, c.Auth = cs.accessKey, "access key"
	case authDefault:
		c.Credential, c.Auth, err = r.defaultCredential(spelling)
	case authManagedIdentity:
		c.Credential, c.Auth, err = r.managedIdentity(spelling, cs.clientID)
	case authClientSecret:
		c.Credential, c.Auth, err = r.clientSecret(spelling, cs.tenantID, cs.clientID, cs.clientSecret)
	case authClientCertificate:
		certs, key, cerr := loadCertificate(cs.clientCert, "")
		if cerr != nil {
			return nil, apierror.Setting(spelling, "invalid connection string: ClientCert: "+cerr.Error())
		}
		c.Credential, c.Auth, err = r.clientCertificate(spelling, cs.tenantID, cs.clientID, certs, key)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (r *resolver) fromIdentity() (*Connection, error) {
	uri, uriKey, _ := r.get("serviceUri")
	endpoint, err := normalizeEndpoint(uri, "")
	if err != nil {
		return nil, apierror.Setting(uriKey, err.Error())
	}
	c := &Connection{Setting: r.setting, Endpoint: endpoint, ClientEndpoint: endpoint, ServerEndpoint: endpoint}
	for _, e := range []struct {
		name string
		dst  *string
	}{{"clientEndpoint", &c.ClientEndpoint}, {"serverEndpoint", &c.ServerEndpoint}} {
		if s, key, ok := r.get(e.name); ok {
			if *e.dst, err = normalizeEndpoint(s, ""); err != nil {
				return nil, apierror.Setting(key, err.Error())
			}
		}
	}
	c.Credential, c.Auth, err = r.identityCredential(uriKey)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// identityCredential picks the credential of an identity-based connection:
// credential=managedidentity is managed identity; none of tenantId,
// clientId and clientSecret is DefaultAzureCredential; otherwise, with the
// missing ones from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET,
// a client secret, a certificate file or a certificate thumbprint. These are
// the keys of an identity-based connection of the Functions extensions
// (https://learn.microsoft.com/azure/azure-functions/functions-reference#configure-an-identity-based-connection).
func (r *resolver) identityCredential(uriKey string) (azcore.TokenCredential, string, error) {
	if kind, key, ok := r.get("credential"); ok {
		if !strings.EqualFold(strings.TrimSpace(kind), "managedidentity") {
			return nil, "", apierror.Setting(key, fmt.Sprintf(
				"unsupported credential %s: want managedidentity, or omit it", quoteIfName(strings.TrimSpace(kind))))
		}
		clientID, _, _ := r.get("clientId")
		return r.managedIdentity(key, clientID)
	}

	tenant, tenantKey, hasTenant := r.get("tenantId")
	client, clientKey, hasClient := r.get("clientId")
	secret, secretKey, hasSecret := r.get("clientSecret")
	if !hasTenant && !hasClient && !hasSecret {
		return r.defaultCredential(uriKey)
	}
	errKey := secretKey
	switch {
	case hasTenant:
		errKey = tenantKey
	case hasClient:
		errKey = clientKey
	}

	// Some or all of the three are set. A missing tenant or client comes
	// from AZURE_TENANT_ID / AZURE_CLIENT_ID; a missing secret from
	// AZURE_CLIENT_SECRET unless the section names a certificate.
	var missing []string
	fill := func(have bool, val *string, name, env string) {
		if have {
			return
		}
		if s, _, ok := r.v.Get(env); ok {
			*val = s
			return
		}
		missing = append(missing, r.both(name)+" (or "+env+")")
	}
	fill(hasTenant, &tenant, "tenantId", "AZURE_TENANT_ID")
	fill(hasClient, &client, "clientId", "AZURE_CLIENT_ID")
	certPath, certPathKey, hasCertPath := r.get("clientCertificatePath")
	thumbprint, thumbprintKey, hasThumbprint := r.get("clientCertificate")
	if !hasSecret && !hasCertPath && !hasThumbprint {
		fill(false, &secret, "clientSecret", "AZURE_CLIENT_SECRET")
		hasSecret = secret != ""
	}
	if len(missing) > 0 {
		return nil, "", apierror.Setting(errKey, "incomplete identity-based connection: missing "+strings.Join(missing, ", "))
	}

	password, _, _ := r.get("clientCertificatePassword")
	switch {
	case hasSecret:
		return r.clientSecret(errKey, tenant, client, secret)
	case hasCertPath:
		certs, key, err := loadCertificate(certPath, password)
		if err != nil {
			return nil, "", apierror.Setting(certPathKey, err.Error())
		}
		return r.clientCertificate(certPathKey, tenant, client, certs, key)
	default: // hasThumbprint
		path, err := r.thumbprintPath(thumbprint)
		if err != nil {
			return nil, "", apierror.Setting(thumbprintKey, err.Error())
		}
		certs, key, err := loadCertificate(path, password)
		if err != nil {
			return nil, "", apierror.Setting(thumbprintKey, err.Error())
		}
		return r.clientCertificate(thumbprintKey, tenant, client, certs, key)
	}
}

// thumbprintPattern guards the file name built from a thumbprint.
var thumbprintPattern = regexp.MustCompile(`^[0-9A-F]+$`)

// thumbprintPath is the file App Service loads the certificate with this
// thumbprint to: <CertificateDir>/<THUMBPRINT>.p12.
func (r *resolver) thumbprintPath(thumbprint string) (string, error) {
	t := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(thumbprint), " ", ""))
	if !thumbprintPattern.MatchString(t) {
		return "", errors.New("a certificate thumbprint holds hexadecimal digits only")
	}
	dir := r.opts.CertificateDir
	if dir == "" {
		dir = DefaultCertificateDir
	}
	return filepath.Join(dir, t+".p12"), nil
}

// entraOptions are the options of every Microsoft Entra credential of the
// connection: opts.ClientOptions, AZURE_AUTHORITY_HOST from the settings
// unless the options name an authority, and P:disableInstanceDiscovery.
func (r *resolver) entraOptions() (azcore.ClientOptions, bool, error) {
	co := r.opts.ClientOptions
	if co.Cloud.ActiveDirectoryAuthorityHost == "" {
		if host, key, ok := r.v.Get("AZURE_AUTHORITY_HOST"); ok {
			if u, err := url.Parse(host); err != nil || u.Scheme != "https" || u.Host == "" {
				return co, false, apierror.Setting(key, "must be an https URL, e.g. https://login.microsoftonline.com/")
			}
			co.Cloud.ActiveDirectoryAuthorityHost = host
		}
	}
	disable := false
	if s, key, ok := r.get("disableInstanceDiscovery"); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return co, false, apierror.Setting(key, fmt.Sprintf("invalid value %s: want true or false", quoteIfName(s)))
		}
		disable = b
	}
	return co, disable, nil
}
