package settings_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// Distinctive secret values: if any of them shows up in an error or a log
// line, a secret leaked.
const (
	secretAccessKey    = "AccessKeyValue+AAAA/BBBB/CCCC=" // base64-like, as real keys are
	secretClientSecret = "ClientSecretValue~DDDD.EEEE"
	secretCSSecret     = "ConnStrClientSecret~FFFF.GGGG"
	secretCertPassword = "CertPasswordValue!HHHH"
	secretEnvSecret    = "AzureClientSecretEnv~IIII"
	secretEnvPassword  = "AzurePasswordEnv!JJJJ"
	secretOther        = "OtherAccessKey+KKKK/LLLL="
	// secretSwapped is a client secret put in clientId by mistake (the two
	// settings sit side by side); the secret's setting then holds a GUID.
	secretSwapped = "SwappedClientSecret~MMMM.NNNN"
	swappedGUID   = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)

var allSecrets = []string{secretAccessKey, secretClientSecret, secretCSSecret, secretCertPassword,
	secretEnvSecret, secretEnvPassword, secretOther, secretSwapped}

// TestSecretsNeverLeak drives every error path and log line of the package
// with distinctive secrets around, and scans everything it printed.
func TestSecretsNeverLeak(t *testing.T) {
	files := newCertFiles(t)
	logger, logs := captureLogger(t)
	const P = "AzureSignalRConnectionString"
	var outputs []string // every error string and formatted value produced
	record := func(what string, err error) {
		if err != nil {
			outputs = append(outputs, what+": "+err.Error())
		}
	}

	// Secrets always present, in every source and spelling, conflicting so
	// that NewValues warns about them.
	common := map[string]string{
		"AZURE_CLIENT_SECRET":               secretEnvSecret,
		"AZURE_PASSWORD":                    secretEnvPassword,
		"AZURE_CLIENT_CERTIFICATE_PASSWORD": secretCertPassword,
		"AZURE_TENANT_ID":                   "env-tenant",
	}
	valuesWith := func(kv ...string) *settings.Values {
		env := map[string]string{}
		for k, v := range common {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		file := map[string]string{
			"azure_client_secret":    secretOther, // a second spelling with another value: warning
			P + ":clientSecret":      secretOther,
			"Other":                  "Endpoint=https://o.example;AccessKey=" + secretOther,
			"AZURE_CLIENT_SECRET":    secretOther,
			P + "__clientSecret":     secretOther,
			"ConnectionStrings:" + P: "",
		}
		return settings.NewValues(logger,
			settings.Source{Name: "environment", Pairs: env},
			settings.Source{Name: "local.settings.json", Pairs: file},
			settings.Source{Name: ".env", Pairs: map[string]string{"azure__password": secretOther}})
	}

	connStrings := []string{
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey,                                        // valid
		"Endpoint=https://x.example,AccessKey=" + secretAccessKey,                                        // glued
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey + ";AccessKey=" + secretAccessKey,      // duplicate
		"Endpoint=ftp://x.example;AccessKey=" + secretAccessKey,                                          // scheme
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey + ";AuthType=" + secretAccessKey,       // AuthType holding the key
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey + ";Port=" + secretAccessKey,           // Port holding the key
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey + ";Version=" + secretAccessKey,        // Version holding the key
		"Endpoint=https://x.example;AccessKey=" + secretAccessKey + ";ClientEndpoint=" + secretAccessKey, // ClientEndpoint
		"Endpoint=" + secretAccessKey + ";AccessKey=" + secretAccessKey,                                  // Endpoint holding the key
		"Endpoint=https://u:" + secretAccessKey + "@x.example;AccessKey=" + secretAccessKey,              // user info
		"AccessKey=" + secretAccessKey,                                                                   // no Endpoint
		secretAccessKey,                                                                                  // the key alone
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=bad/t;ClientSecret=" + secretCSSecret,
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;ClientSecret=" + secretCSSecret,
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=" + secretCSSecret,
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=" + files.garbage,
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=" + secretSwapped + ";TenantId=t;ClientSecret=" + swappedGUID, // swapped
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=" + secretSwapped + ";TenantId=t;ClientCert=" + files.pem,
		"Endpoint=https://x.example;AuthType=azure.msi;ClientId=" + secretSwapped,
	}
	for _, cs := range connStrings {
		for _, key := range []string{P, "ConnectionStrings__" + P} {
			c, err := settings.Resolve(valuesWith(key, cs), P, settings.Options{})
			record("Resolve "+key, err)
			if c != nil {
				settings.LogConnection(logger, c, "hub")
				logger.Info("connection", "conn", c, "value", *c)
				outputs = append(outputs, fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", *c, *c, c, c))
				if b, err := json.Marshal(c.LogValue().Resolve().Group()); err == nil {
					outputs = append(outputs, string(b))
				}
			}
		}
	}

	identity := [][]string{
		{P + "__tenantId", "t", P + "__clientId", "c", P + "__clientSecret", secretClientSecret},
		{P + "__tenantId", "bad/tenant", P + "__clientId", "c", P + "__clientSecret", secretClientSecret},
		{P + "__tenantId", "t", P + "__clientSecret", secretClientSecret},
		{P + "__clientSecret", secretClientSecret},
		{P + "__clientId", "c"},
		{P + "__tenantId", "t", P + "__clientId", "c", P + "__clientCertificatePath", files.pfx, P + "__clientCertificatePassword", secretCertPassword},
		{P + "__tenantId", "t", P + "__clientId", "c", P + "__clientCertificatePath", files.garbage, P + "__clientCertificatePassword", secretCertPassword},
		{P + "__tenantId", "t", P + "__clientId", "c", P + "__clientCertificatePath", files.missing, P + "__clientCertificatePassword", secretCertPassword},
		{P + "__tenantId", "t", P + "__clientId", "c", P + "__clientCertificate", secretCertPassword},
		{P + "__credential", secretClientSecret},
		{P + "__disableInstanceDiscovery", secretClientSecret},
		{P + "__clientEndpoint", secretClientSecret},
		{"AZURE_AUTHORITY_HOST", "http://" + secretClientSecret},
		{P + "__credential", "managedidentity", P + "__clientSecret", secretClientSecret},
		{P + "__tenantId", "t", P + "__clientId", secretSwapped, P + "__clientSecret", swappedGUID}, // swapped
		{P + "__tenantId", "t", P + "__clientId", secretSwapped, P + "__clientCertificatePath", files.pem},
		{P + "__credential", "managedidentity", P + "__clientId", secretSwapped},
		{P + "__clientSecret", swappedGUID, "AZURE_CLIENT_ID", secretSwapped},
	}
	for _, kv := range identity {
		for _, uri := range []string{"https://id.example", secretClientSecret, "https://x.example;AccessKey=" + secretAccessKey} {
			c, err := settings.Resolve(valuesWith(append([]string{P + "__serviceUri", uri}, kv...)...), P, settings.Options{})
			record("Resolve identity", err)
			if c != nil {
				settings.LogConnection(logger, c, "hub")
				outputs = append(outputs, fmt.Sprintf("%v %+v %#v", *c, *c, c))
			}
		}
	}

	// Named endpoints (Azure:SignalR:Endpoints) of every kind, valid and
	// not, beside the default setting's own connection.
	const E = "Azure__SignalR__Endpoints__"
	named := [][]string{
		{E + "a", connStrings[0], E + "b__secondary", "Endpoint=https://y.example;AccessKey=" + secretOther},
		{E + "a", connStrings[0], E + "b__primary", connStrings[0]}, // duplicate URL
		{E + "a__secondary", connStrings[2]},
		{E + "a__primary", connStrings[12]},
		{E + "a__serviceUri", "https://n.example", E + "a__tenantId", "t", E + "a__clientId", "c", E + "a__clientSecret", secretClientSecret},
		{E + "a__serviceUri", secretClientSecret, E + "a__tenantId", "t", E + "a__clientSecret", secretClientSecret},
		{E + "a__serviceUri", "https://n.example", E + "a__type", secretClientSecret, E + "a__clientSecret", secretClientSecret},
		{E + "a__clientCertificatePassword", secretCertPassword, E + "a__serviceUri", "https://n.example", E + "a__tenantId", "t",
			E + "a__clientId", "c", E + "a__clientCertificatePath", files.garbage},
		{E + "a__type", secretClientSecret, E + "a", connStrings[0]},
	}
	for _, kv := range named {
		for _, own := range []string{"", "Endpoint=https://own.example;AccessKey=" + secretOther} {
			if own != "" {
				kv = append(kv, P, own)
			}
			c, err := settings.Resolve(valuesWith(kv...), P, settings.Options{})
			record("Resolve named", err)
			if c != nil {
				settings.LogConnection(logger, c, "hub")
				logger.Info("connection", "conn", c, "endpoints", c.ServiceEndpoints())
				outputs = append(outputs, fmt.Sprintf("%v %+v %#v %v %+v %#v", *c, *c, c, c.ServiceEndpoints(), c.Named, c.Named))
			}
		}
	}

	// Process-wide settings holding secrets by mistake are echoed only
	// where the value is not a connection-string part; here they hold names.
	_, err := settings.Load(valuesWith("AzureSignalRHubName", "1bad", "FUNCTIONS_CUSTOMHANDLER_PORT", "x",
		"AzureSignalRHttpClientTimeout", "soon", "FUNCSIGNALR_LOCAL_ADDR", "nope"))
	record("Load", err)

	// Files holding secrets.
	for name, content := range map[string]string{
		"local.settings.json": `{"Values": {"AZURE_CLIENT_SECRET": "` + secretEnvSecret + `",}}`,
		".env":                "AZURE_CLIENT_SECRET=\"" + secretEnvSecret + "\nX-Y=" + secretAccessKey,
	} {
		dir := t.TempDir()
		writeFile(t, dir, name, []byte(content))
		_, err := settings.ReadSources(nil, dir, true)
		record("ReadSources "+name, err)
	}
	dir := t.TempDir()
	writeFile(t, dir, ".env", []byte("P:clientSecret="+secretClientSecret+"\n"))
	_, err = settings.ReadSources(nil, dir, true)
	record("ReadSources colon", err)

	if len(outputs) < 40 {
		t.Fatalf("got %d outputs, want the scenarios above to produce many", len(outputs))
	}
	all := append(outputs, logs.String())
	for _, out := range all {
		for _, s := range allSecrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %q leaked in %q", s, out)
			}
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "SignalR connection") {
		t.Errorf("got logs %q, want spelling warnings and connection lines to have been scanned", logs.String())
	}
}

// TestLogConnection checks the start-up line per connection: endpoint,
// auth kind and hub, never a secret.
func TestLogConnection(t *testing.T) {
	tests := []struct {
		name string
		conn *settings.Connection
		want []string
	}{
		{
			name: "access key",
			conn: &settings.Connection{Setting: "S", Endpoint: "https://x.example", ClientEndpoint: "https://x.example",
				ServerEndpoint: "https://x.example", AccessKey: secretAccessKey, Auth: "access key"},
			want: []string{"level=INFO", `msg="SignalR connection"`, "setting=S", "endpoint=https://x.example", `auth="access key"`, "hub=chat"},
		},
		{
			name: "other client and server endpoints",
			conn: &settings.Connection{Setting: "S", Endpoint: "https://x.example", ClientEndpoint: "https://c.example",
				ServerEndpoint: "https://s.example", Auth: "managed identity"},
			want: []string{"clientEndpoint=https://c.example", "serverEndpoint=https://s.example"},
		},
		{
			name: "local service",
			conn: settings.LocalConnection("0.0.0.0:8888"),
			want: []string{"embedded local SignalR service", "endpoint=http://localhost:8888",
				`connectionString="Endpoint=http://localhost;Port=8888;AccessKey=` + settings.LocalAccessKey + `;Version=1.0;"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := captureLogger(t)
			settings.LogConnection(logger, tt.conn, "chat")
			out := logs.String()
			if n := strings.Count(out, "\n"); n != 1 {
				t.Errorf("got %d lines %q, want 1", n, out)
			}
			checkText(t, "log", out, tt.want, []string{secretAccessKey})
		})
	}
}

// TestConnectionFormatting checks that fmt and slog never print the key.
func TestConnectionFormatting(t *testing.T) {
	c := settings.Connection{Setting: "S", Endpoint: "https://x.example", AccessKey: secretAccessKey, Auth: "access key"}
	logger, logs := captureLogger(t)
	logger.Info("x", "value", c, "pointer", &c)
	jsonLogs := &testkit.Buffer{}
	slog.New(slog.NewJSONHandler(jsonLogs, nil)).Info("x", "value", c, "pointer", &c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprint(&c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%#v", &c), fmt.Sprintf("%s", &c), logs.String(), jsonLogs.String()} {
		if strings.Contains(out, secretAccessKey) {
			t.Errorf("got %q, want no access key", out)
		}
		if !strings.Contains(out, "https://x.example") {
			t.Errorf("got %q, want the endpoint", out)
		}
	}
}

// TestConnectionSecrets: a resolved connection lists every secret value it
// was built from, for scrubbing what azidentity or a service says, and never
// shows them when printed or logged.
func TestConnectionSecrets(t *testing.T) {
	const P = settings.DefaultConnectionStringSetting
	const (
		accessKey    = "ACCESS-KEY-0123456789abcdefghijklmnopqrstu"
		clientSecret = "CLIENT-SECRET-from-section-42"
		envSecret    = "AZURE-CLIENT-SECRET-from-env-42"
		password     = "AZURE-PASSWORD-42"
		namedKey     = "NAMED-ACCESS-KEY-0123456789abcdefghijklmn"
	)
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{name: "access key", kv: []string{P, "Endpoint=https://a.service.signalr.net;AccessKey=" + accessKey + ";Version=1.0;",
			"AZURE_PASSWORD", password}, want: []string{accessKey, password}},
		{name: "client secret in the identity section", kv: []string{P + "__serviceUri", "https://a.service.signalr.net",
			P + "__tenantId", "t", P + "__clientId", "c", P + "__clientSecret", clientSecret}, want: []string{clientSecret}},
		{name: "AZURE_CLIENT_SECRET fills the section", kv: []string{P + "__serviceUri", "https://a.service.signalr.net",
			P + "__tenantId", "t", P + "__clientId", "c", "AZURE_CLIENT_SECRET", envSecret}, want: []string{envSecret}},
		{name: "named endpoint", kv: []string{P, "Endpoint=https://a.service.signalr.net;AccessKey=" + accessKey + ";Version=1.0;",
			"Azure__SignalR__Endpoints__east", "Endpoint=https://b.service.signalr.net;AccessKey=" + namedKey + ";Version=1.0;"},
			want: []string{accessKey, namedKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := mustResolve(t, "", settings.Options{}, tt.kv...)
			for _, s := range tt.want {
				if !slices.Contains(conn.Secrets, s) {
					t.Errorf("got Secrets %d values, want %.12q… among them", len(conn.Secrets), s)
				}
				for _, shown := range []string{conn.String(), fmt.Sprintf("%+v %#v", conn, conn)} {
					if strings.Contains(shown, s) {
						t.Errorf("printing the connection shows the secret %.12q…", s)
					}
				}
			}
		})
	}
}

// TestClientIDInStartupLine checks that the start-up line names a client id
// only when it looks like one (a GUID), and otherwise says that the
// clientId setting does not look like an application id: a client secret
// put in clientId by mistake must never be printed.
func TestClientIDInStartupLine(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	files := newCertFiles(t)
	const guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	tests := []struct {
		name string
		kv   []string
		want string // in the line
	}{
		{"connection string client secret", []string{P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=" + guid + ";TenantId=t;ClientSecret=s"},
			"client secret (tenant t, client " + guid + ")"},
		{"connection string, swapped", []string{P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=" + secretSwapped + ";TenantId=t;ClientSecret=" + guid},
			"client secret (tenant t, the clientId setting does not look like an application id)"},
		{"identity certificate, upper-case GUID", []string{P + "__serviceUri", "https://x.example", P + "__tenantId", "t",
			P + "__clientId", strings.ToUpper(guid), P + "__clientCertificatePath", files.pem},
			"client certificate (tenant t, client " + strings.ToUpper(guid) + ")"},
		{"identity certificate, not a GUID", []string{P + "__serviceUri", "https://x.example", P + "__tenantId", "t",
			P + "__clientId", secretSwapped, P + "__clientCertificatePath", files.pem},
			"client certificate (tenant t, the clientId setting does not look like an application id)"},
		{"managed identity, user-assigned", []string{P + "__serviceUri", "https://x.example", P + "__credential", "managedidentity", P + "__clientId", guid},
			"managed identity (client " + guid + ")"},
		{"managed identity, swapped", []string{P, "Endpoint=https://x.example;AuthType=azure.msi;ClientId=" + secretSwapped},
			"managed identity (the clientId setting does not look like an application id)"},
		{"GUID with braces", []string{P, "Endpoint=https://x.example;AuthType=azure.msi;ClientId={" + guid + "}"},
			"managed identity (the clientId setting does not look like an application id)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustResolve(t, P, settings.Options{}, tt.kv...)
			logger, logs := captureLogger(t)
			settings.LogConnection(logger, c, "hub")
			if out := logs.String(); !strings.Contains(out, tt.want) || strings.Contains(out, secretSwapped) {
				t.Errorf("got %q, want it to hold %q and no secret", out, tt.want)
			}
		})
	}
}
