package settings_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/settings"
)

// wantConn is what a resolved connection should look like.
type wantConn struct {
	endpoint       string
	clientEndpoint string // "" means endpoint
	serverEndpoint string // "" means endpoint
	accessKey      string
	auth           string
	cred           string // %T of the credential, "" for none
}

const (
	credDefault = "*azidentity.DefaultAzureCredential"
	credMI      = "*azidentity.ManagedIdentityCredential"
	credSecret  = "*azidentity.ClientSecretCredential"
	credCert    = "*azidentity.ClientCertificateCredential"
)

func checkConnection(tb testing.TB, got *settings.Connection, setting string, want wantConn) {
	tb.Helper()
	if got == nil {
		tb.Fatalf("got nil connection, want %+v", want)
	}
	if want.clientEndpoint == "" {
		want.clientEndpoint = want.endpoint
	}
	if want.serverEndpoint == "" {
		want.serverEndpoint = want.endpoint
	}
	for _, f := range []struct{ name, got, want string }{
		{"Setting", got.Setting, setting},
		{"Endpoint", got.Endpoint, want.endpoint},
		{"ClientEndpoint", got.ClientEndpoint, want.clientEndpoint},
		{"ServerEndpoint", got.ServerEndpoint, want.serverEndpoint},
		{"AccessKey", got.AccessKey, want.accessKey},
		{"Auth", got.Auth, want.auth},
	} {
		if f.got != f.want {
			tb.Errorf("%s: got %q, want %q", f.name, f.got, f.want)
		}
	}
	gotCred := ""
	if got.Credential != nil {
		gotCred = fmt.Sprintf("%T", got.Credential)
	}
	if gotCred != want.cred {
		tb.Errorf("Credential: got %s, want %s", gotCred, want.cred)
	}
	if got.Local {
		tb.Errorf("Local: got true, want false")
	}
}

// keyConn is a connection with an access key.
func keyConn(endpoint, key string) wantConn {
	return wantConn{endpoint: endpoint, accessKey: key, auth: "access key"}
}

// secretConn is a connection with a client secret credential.
func secretConn(endpoint, tenant, client string) wantConn {
	return wantConn{endpoint: endpoint, cred: credSecret,
		auth: "client secret (tenant " + tenant + ", client " + client + ")"}
}

// certConn is a connection with a client certificate credential.
func certConn(endpoint, tenant, client string) wantConn {
	return wantConn{endpoint: endpoint, cred: credCert,
		auth: "client certificate (tenant " + tenant + ", client " + client + ")"}
}

// miConn is a connection with a managed identity: system-assigned when
// client is "".
func miConn(endpoint, client string) wantConn {
	w := wantConn{endpoint: endpoint, auth: "managed identity", cred: credMI}
	if client != "" {
		w.auth += " (client " + client + ")"
	}
	return w
}

// defaultConn is a connection with DefaultAzureCredential.
func defaultConn(endpoint string) wantConn {
	return wantConn{endpoint: endpoint, auth: "DefaultAzureCredential", cred: credDefault}
}

func TestResolveConnectionString(t *testing.T) {
	files := newCertFiles(t)
	const P = "AzureSignalRConnectionString"
	tests := []struct {
		name    string
		kv      []string
		setting string // default P
		want    wantConn
	}{
		{
			name: "access key",
			kv:   []string{P, "Endpoint=https://x.service.signalr.net;AccessKey=abc=;Version=1.0;"},
			want: keyConn("https://x.service.signalr.net", "abc="),
		},
		{
			name: "trailing slash, lower-case keys, spaces, empty parts, preview version",
			kv:   []string{P, " endpoint = https://X.Service.SignalR.net/ ;; accesskey = k ; version=1.1-preview;junk"},
			want: keyConn("https://x.service.signalr.net", "k"),
		},
		{
			name: "unknown keys are ignored",
			kv:   []string{P, "Endpoint=https://x.example;AccessKey=k;Whatever=1"},
			want: keyConn("https://x.example", "k"),
		},
		{
			name: "Port overrides the endpoint's port",
			kv:   []string{P, "Endpoint=http://localhost:8080;Port=8888;AccessKey=k"},
			want: keyConn("http://localhost:8888", "k"),
		},
		{
			name: "Port added to an endpoint without one",
			kv:   []string{P, "Endpoint=http://127.0.0.1;Port=8888;AccessKey=k;Version=1.0;"},
			want: keyConn("http://127.0.0.1:8888", "k"),
		},
		{
			name: "IPv6 endpoint with Port",
			kv:   []string{P, "Endpoint=http://[::1];Port=8888;AccessKey=k"},
			want: keyConn("http://[::1]:8888", "k"),
		},
		{
			name: "endpoint path kept, trailing slash dropped",
			kv:   []string{P, "Endpoint=https://gw.example/signalr/;AccessKey=k"},
			want: keyConn("https://gw.example/signalr", "k"),
		},
		{
			name: "ClientEndpoint and ServerEndpoint",
			kv: []string{P, "Endpoint=https://x.example;AccessKey=k;ClientEndpoint=https://client.example/;" +
				"ServerEndpoint=http://server.example:8080/base/"},
			want: wantConn{endpoint: "https://x.example", clientEndpoint: "https://client.example",
				serverEndpoint: "http://server.example:8080/base", accessKey: "k", auth: "access key"},
		},
		{
			name: "Port does not change ClientEndpoint",
			kv:   []string{P, "Endpoint=https://x.example;Port=444;AccessKey=k;ClientEndpoint=https://client.example"},
			want: wantConn{endpoint: "https://x.example:444", clientEndpoint: "https://client.example", accessKey: "k", auth: "access key"},
		},
		{
			name: "AuthType azure",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=azure;Version=1.0;"},
			want: defaultConn("https://x.example"),
		},
		{
			name: "AuthType azure ignores an AccessKey",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=AZURE;AccessKey=k"},
			want: defaultConn("https://x.example"),
		},
		{
			name: "AuthType azure.msi system-assigned",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=Azure.Msi"},
			want: miConn("https://x.example", ""),
		},
		{
			name: "AuthType azure.msi user-assigned",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=azure.msi;ClientId=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
			want: miConn("https://x.example", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
		},
		{
			name: "AuthType azure.app with ClientSecret",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=11111111-2222-3333-4444-555555555555;TenantId=t1;ClientSecret=s"},
			want: secretConn("https://x.example", "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "AuthType azure.app with ClientCert",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=11111111-2222-3333-4444-555555555555;TenantId=t1;ClientCert=" + files.pem},
			want: certConn("https://x.example", "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "AuthType azure.app prefers ClientSecret over ClientCert",
			kv: []string{P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=11111111-2222-3333-4444-555555555555;TenantId=t1;ClientSecret=s;" +
				"ClientCert=" + files.missing},
			want: secretConn("https://x.example", "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "legacy AuthType aad with ClientSecret",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=aad;ClientId=11111111-2222-3333-4444-555555555555;TenantId=t1;ClientSecret=s"},
			want: secretConn("https://x.example", "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "legacy AuthType aad with ClientCert",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=aad;ClientId=11111111-2222-3333-4444-555555555555;TenantId=t1;ClientCert=" + files.pem},
			want: certConn("https://x.example", "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "legacy AuthType aad with ClientId only",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=aad;ClientId=11111111-2222-3333-4444-555555555555"},
			want: miConn("https://x.example", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "legacy AuthType aad alone",
			kv:   []string{P, "Endpoint=https://x.example;AuthType=aad"},
			want: miConn("https://x.example", ""),
		},
		{
			name: "ConnectionStrings:P wins over P",
			kv: []string{P, "Endpoint=https://plain.example;AccessKey=k1",
				"ConnectionStrings:" + P, "Endpoint=https://section.example;AccessKey=k2"},
			want: keyConn("https://section.example", "k2"),
		},
		{
			name: "ConnectionStrings__P in environment spelling",
			kv:   []string{"connectionstrings__azuresignalrconnectionstring", "Endpoint=https://section.example;AccessKey=k2"},
			want: keyConn("https://section.example", "k2"),
		},
		{
			name: "App Service connection string CUSTOMCONNSTR_P",
			kv:   []string{"CUSTOMCONNSTR_" + P, "Endpoint=https://portal.example;AccessKey=k3"},
			want: keyConn("https://portal.example", "k3"),
		},
		{
			name: "a connection string wins over serviceUri",
			kv:   []string{P, "Endpoint=https://x.example;AccessKey=k", P + "__serviceUri", "https://identity.example"},
			want: keyConn("https://x.example", "k"),
		},
		{
			name: "an empty P falls through to serviceUri",
			kv:   []string{P, "  ", P + "__serviceUri", "https://identity.example", P + "__credential", "managedidentity"},
			want: miConn("https://identity.example", ""),
		},
		{
			name:    "another ConnectionStringSetting",
			kv:      []string{P, "Endpoint=https://default.example;AccessKey=k", "Other", "Endpoint=https://other.example;AccessKey=o"},
			setting: "Other",
			want:    keyConn("https://other.example", "o"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setting := tt.setting
			if setting == "" {
				setting = P
			}
			checkConnection(t, mustResolve(t, tt.setting, settings.Options{}, tt.kv...), setting, tt.want)
		})
	}
}

func TestResolveConnectionStringErrors(t *testing.T) {
	files := newCertFiles(t)
	const P = "AzureSignalRConnectionString"
	tests := []struct {
		name    string
		key     string // the key the connection string is set under
		value   string
		want    []string
		notWant []string
	}{
		{"unknown AuthType names the value", P, "Endpoint=https://x.example;AuthType=bogus;AccessKey=k",
			[]string{`unknown AuthType "bogus"`}, nil},
		{"unknown AuthType that looks like a secret is not echoed", P,
			"Endpoint=https://x.example;AuthType=azure.app,ClientSecret~Xy/Zz+123", []string{"unknown AuthType (value not shown)"},
			[]string{"Xy/Zz"}},
		{"missing AccessKey", P, "Endpoint=https://x.example;Version=1.0", []string{"AccessKey is required"}, nil},
		{"empty AccessKey", P, "Endpoint=https://x.example;AccessKey=", []string{"AccessKey is required"}, nil},
		{"missing Endpoint", P, "AccessKey=k;Version=1.0", []string{"Endpoint is required"}, nil},
		{"no key-value part at all", P, "just some text", []string{"Endpoint is required"}, []string{"just some text"}},
		{"Endpoint not a URL", P, "Endpoint=x.service.signalr.net;AccessKey=k", []string{"Endpoint must be an absolute http or https URL"}, nil},
		{"Endpoint with another scheme", P, "Endpoint=ftp://x.example;AccessKey=k", []string{"Endpoint must be"}, nil},
		{"Endpoint with a query", P, "Endpoint=https://x.example/?a=b;AccessKey=k", []string{"Endpoint must be"}, nil},
		{"Endpoint with user info", P, "Endpoint=https://u:p@x.example;AccessKey=k", []string{"Endpoint must be"}, []string{"u:p"}},
		{"Endpoint glued to a key by a wrong separator is not echoed", P,
			"Endpoint=https://x.example,AccessKey=GluedKeyValue123", []string{"Endpoint must be"}, []string{"GluedKeyValue123"}},
		{"Endpoint with port 0", P, "Endpoint=https://x.example:0;AccessKey=k", []string{"Endpoint must be"}, nil},
		{"duplicate key, any case", P, "Endpoint=https://x.example;AccessKey=k1;accesskey=k2", []string{"duplicate key accesskey"},
			[]string{"k1", "k2"}},
		{"duplicate Endpoint", P, "Endpoint=https://x.example;ENDPOINT=https://y.example;AccessKey=k", []string{"duplicate key ENDPOINT"}, nil},
		{"Port 0", P, "Endpoint=https://x.example;Port=0;AccessKey=k", []string{"Port must be a number from 1 to 65535"}, nil},
		{"Port 65536", P, "Endpoint=https://x.example;Port=65536;AccessKey=k", []string{"Port must be"}, nil},
		{"Port not a number", P, "Endpoint=https://x.example;Port=http;AccessKey=k", []string{"Port must be"}, nil},
		{"Version 2.0", P, "Endpoint=https://x.example;Version=2.0;AccessKey=k", []string{"Version is not supported"}, nil},
		{"Version 1", P, "Endpoint=https://x.example;Version=1;AccessKey=k", []string{"Version is not supported"}, nil},
		{"ClientEndpoint invalid", P, "Endpoint=https://x.example;AccessKey=k;ClientEndpoint=/client", []string{"ClientEndpoint must be"}, nil},
		{"ServerEndpoint invalid", P, "Endpoint=https://x.example;AccessKey=k;ServerEndpoint=ws://s.example", []string{"ServerEndpoint must be"}, nil},
		{"azure.app without ClientId", P, "Endpoint=https://x.example;AuthType=azure.app;TenantId=t;ClientSecret=s",
			[]string{"requires ClientId"}, nil},
		{"azure.app without TenantId", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;ClientSecret=s",
			[]string{"requires TenantId"}, nil},
		{"azure.app without secret or certificate", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t",
			[]string{"requires ClientSecret or ClientCert"}, nil},
		{"aad with tenant and client but no secret", P, "Endpoint=https://x.example;AuthType=aad;ClientId=c;TenantId=t",
			[]string{"AuthType aad requires ClientSecret or ClientCert"}, nil},
		{"ClientCert file missing", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=" + files.missing,
			[]string{"ClientCert", "cannot read certificate file", files.missing}, nil},
		{"ClientCert file not a certificate", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=" + files.garbage,
			[]string{"ClientCert", "cannot parse certificate file", files.garbage}, nil},
		{"ClientCert with an ECDSA key", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=" + files.ecdsa,
			[]string{"not an RSA key"}, nil},
		{"ClientCert PFX needs a password the connection string cannot give", P,
			"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=" + files.pfx,
			[]string{"cannot parse certificate file"}, nil},
		{"invalid tenant", P, "Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=bad/tenant;ClientSecret=SecretSecret1",
			[]string{"cannot create client secret credential"}, []string{"SecretSecret1"}},
		{"key named as spelled: lower case", "azuresignalrconnectionstring", "Endpoint=https://x.example",
			[]string{"azuresignalrconnectionstring: invalid connection string: AccessKey is required"}, nil},
		{"key named as spelled: ConnectionStrings__P", "ConnectionStrings__" + P, "Endpoint=https://x.example",
			[]string{"ConnectionStrings__" + P + ": invalid connection string"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.Resolve(valuesOf(t, tt.key, tt.value), "", settings.Options{})
			checkError(t, err, tt.key, tt.want, tt.notWant)
		})
	}
}

func TestResolveIdentity(t *testing.T) {
	files := newCertFiles(t)
	const P = "AzureSignalRConnectionString"
	uri := []string{P + "__serviceUri", "https://id.service.signalr.net/"}
	kv := func(extra ...string) []string { return append(append([]string{}, uri...), extra...) }
	const ep = "https://id.service.signalr.net"
	tests := []struct {
		name string
		kv   []string
		opts settings.Options
		want wantConn
	}{
		{
			name: "managed identity",
			kv:   kv(P+"__credential", "managedidentity"),
			want: miConn(ep, ""),
		},
		{
			name: "managed identity, any case, user-assigned, wins over a secret",
			kv: kv(P+":Credential", "ManagedIdentity", P+":clientId", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
				P+":tenantId", "t1", P+":clientSecret", "s"),
			want: miConn(ep, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
		},
		{
			name: "client secret",
			kv:   kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientSecret", "s"),
			want: secretConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "client secret, mixed separators and case",
			kv: []string{"azuresignalrconnectionstring:SERVICEURI", "https://ID.service.signalr.net",
				"AZURESIGNALRCONNECTIONSTRING__TENANTID", "t1", "AzureSignalRConnectionString:ClientId", "11111111-2222-3333-4444-555555555555",
				"azureSignalRConnectionString__clientsecret", "s"},
			want: secretConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "client secret wins over a certificate",
			kv: kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientSecret", "s",
				P+"__clientCertificatePath", files.missing),
			want: secretConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "certificate from a PEM file",
			kv:   kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificatePath", files.pem),
			want: certConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "certificate from a PFX file with a password",
			kv: kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificatePath", files.pfx,
				P+"__clientCertificatePassword", pfxPassword),
			want: certConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "certificate by thumbprint, lower case",
			kv:   kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificate", files.thumbprint),
			opts: settings.Options{CertificateDir: files.dir},
			want: certConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "certificate path wins over thumbprint",
			kv: kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificatePath", files.pem,
				P+"__clientCertificate", "ABCDEF"),
			want: certConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "none of tenantId, clientId, clientSecret: DefaultAzureCredential",
			kv:   kv(),
			want: defaultConn(ep),
		},
		{
			name: "AZURE_* alone still means DefaultAzureCredential",
			kv:   kv("AZURE_TENANT_ID", "env-tenant", "AZURE_CLIENT_ID", "66666666-7777-8888-9999-000000000000", "AZURE_CLIENT_SECRET", "env-secret"),
			want: defaultConn(ep),
		},
		{
			name: "a certificate alone is not one of the three: DefaultAzureCredential",
			kv:   kv(P+"__clientCertificatePath", files.missing),
			want: defaultConn(ep),
		},
		{
			name: "partial: secret from AZURE_CLIENT_SECRET",
			kv:   kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", "AZURE_CLIENT_SECRET", "env-secret", "AZURE_TENANT_ID", "ignored"),
			want: secretConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "partial: tenant and secret from AZURE_*",
			kv:   kv(P+"__clientId", "11111111-2222-3333-4444-555555555555", "AZURE_TENANT_ID", "env-tenant", "AZURE_CLIENT_SECRET", "env-secret"),
			want: secretConn(ep, "env-tenant", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "partial: tenant and client from AZURE_*",
			kv:   kv(P+":clientSecret", "s", "azure_tenant_id", "env-tenant", "AZURE_CLIENT_ID", "66666666-7777-8888-9999-000000000000"),
			want: secretConn(ep, "env-tenant", "66666666-7777-8888-9999-000000000000"),
		},
		{
			name: "partial: tenant from AZURE_TENANT_ID with a certificate",
			kv: kv(P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificatePath", files.pem,
				"AZURE_TENANT_ID", "env-tenant", "AZURE_CLIENT_SECRET", "not-used"),
			want: certConn(ep, "env-tenant", "11111111-2222-3333-4444-555555555555"),
		},
		{
			name: "clientEndpoint and serverEndpoint",
			kv: kv(P+"__credential", "managedidentity", P+"__clientEndpoint", "https://client.example/",
				P+"__serverEndpoint", "http://10.0.0.1:8080"),
			want: wantConn{endpoint: ep, clientEndpoint: "https://client.example", serverEndpoint: "http://10.0.0.1:8080",
				auth: "managed identity", cred: credMI},
		},
		{
			name: "disableInstanceDiscovery and AZURE_AUTHORITY_HOST accepted",
			kv: kv(P+"__tenantId", "t1", P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientSecret", "s",
				P+"__disableInstanceDiscovery", "TRUE", "AZURE_AUTHORITY_HOST", "https://login.example/"),
			want: secretConn(ep, "t1", "11111111-2222-3333-4444-555555555555"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConnection(t, mustResolve(t, P, tt.opts, tt.kv...), P, tt.want)
		})
	}
}

func TestResolveIdentityErrors(t *testing.T) {
	files := newCertFiles(t)
	const P = "AzureSignalRConnectionString"
	uri := []string{P + "__serviceUri", "https://id.example"}
	kv := func(extra ...string) []string { return append(append([]string{}, uri...), extra...) }
	tests := []struct {
		name    string
		kv      []string
		opts    settings.Options
		key     string
		want    []string
		notWant []string
	}{
		{name: "serviceUri not a URL", kv: []string{P + ":serviceUri", "id.example"}, key: P + ":serviceUri",
			want: []string{"must be an absolute http or https URL"}},
		{name: "serviceUri holding a connection string is not echoed",
			kv:  []string{P + "__serviceUri", "Endpoint=https://x.example;AccessKey=PastedKeyValue99"},
			key: P + "__serviceUri", want: []string{"must be"}, notWant: []string{"PastedKeyValue99"}},
		{name: "serviceUri with another scheme", kv: []string{P + "__serviceUri", "wss://id.example"}, key: P + "__serviceUri",
			want: []string{"must be"}},
		{name: "clientEndpoint invalid", kv: kv(P+"__clientEndpoint", "client.example"), key: P + "__clientEndpoint",
			want: []string{"must be"}},
		{name: "serverEndpoint invalid", kv: kv(P+"__serverEndpoint", "https://"), key: P + "__serverEndpoint",
			want: []string{"must be"}},
		{name: "unsupported credential", kv: kv(P+"__credential", "workloadidentity"), key: P + "__credential",
			want: []string{`unsupported credential "workloadidentity"`}},
		{name: "partial: missing tenant and secret", kv: kv(P+"__clientId", "11111111-2222-3333-4444-555555555555"), key: P + "__clientId",
			want: []string{"incomplete identity-based connection",
				P + "__tenantId / " + P + ":tenantId (or AZURE_TENANT_ID)",
				P + "__clientSecret / " + P + ":clientSecret (or AZURE_CLIENT_SECRET)"},
			notWant: []string{"clientId /"}},
		{name: "partial: missing client only", kv: kv(P+":tenantId", "t1", "AZURE_CLIENT_SECRET", "EnvSecretValue77"),
			key:     P + ":tenantId",
			want:    []string{P + "__clientId / " + P + ":clientId (or AZURE_CLIENT_ID)"},
			notWant: []string{"clientSecret", "tenantId /", "EnvSecretValue77"}},
		{name: "partial: secret only", kv: kv(P+"__clientSecret", "SectionSecret88"), key: P + "__clientSecret",
			want:    []string{P + "__tenantId / " + P + ":tenantId", P + "__clientId / " + P + ":clientId"},
			notWant: []string{"SectionSecret88"}},
		{name: "partial with a certificate: no secret asked for", kv: kv(P+"__clientId", "11111111-2222-3333-4444-555555555555", P+"__clientCertificatePath", files.pem),
			key: P + "__clientId", want: []string{P + "__tenantId / "}, notWant: []string{"clientSecret"}},
		{name: "certificate file missing", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificatePath", files.missing),
			key: P + "__clientCertificatePath", want: []string{"cannot read certificate file", files.missing}},
		{name: "certificate file not a certificate", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificatePath", files.garbage),
			key: P + "__clientCertificatePath", want: []string{"cannot parse certificate file", files.garbage}},
		{name: "PFX with a wrong password", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificatePath", files.pfx,
			P+"__clientCertificatePassword", "WrongPassword55"),
			key: P + "__clientCertificatePath", want: []string{"cannot parse certificate file"}, notWant: []string{"WrongPassword55"}},
		{name: "PFX without its password", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificatePath", files.pfx),
			key: P + "__clientCertificatePath", want: []string{"cannot parse certificate file"}},
		{name: "ECDSA key", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificatePath", files.ecdsa),
			key: P + "__clientCertificatePath", want: []string{"not an RSA key"}},
		{name: "thumbprint not hexadecimal", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificate", "../../etc/passwd"),
			opts: settings.Options{CertificateDir: files.dir},
			key:  P + "__clientCertificate", want: []string{"hexadecimal"}},
		{name: "thumbprint file missing", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificate", "abcdef"),
			opts: settings.Options{CertificateDir: files.dir},
			key:  P + "__clientCertificate", want: []string{"cannot read certificate file", filepath.Join(files.dir, "ABCDEF.p12")}},
		{name: "thumbprint in the default directory", kv: kv(P+"__tenantId", "t", P+"__clientId", "c", P+"__clientCertificate", "abcdef"),
			key: P + "__clientCertificate", want: []string{"/var/ssl/private/ABCDEF.p12"}},
		{name: "disableInstanceDiscovery not a boolean", kv: kv(P+"__disableInstanceDiscovery", "maybe"),
			key: P + "__disableInstanceDiscovery", want: []string{`invalid value "maybe": want true or false`}},
		{name: "AZURE_AUTHORITY_HOST over http", kv: kv("AZURE_AUTHORITY_HOST", "http://login.example"),
			key: "AZURE_AUTHORITY_HOST", want: []string{"must be an https URL"}},
		{name: "invalid tenant from azidentity", kv: kv(P+"__tenantId", "bad/tenant", P+"__clientId", "c", P+"__clientSecret", "AzSecretValue66"),
			key: P + "__tenantId", want: []string{"cannot create client secret credential", "invalid tenantID"},
			notWant: []string{"AzSecretValue66"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.Resolve(valuesOf(t, tt.kv...), P, tt.opts)
			checkError(t, err, tt.key, tt.want, tt.notWant)
		})
	}
}

func TestResolveNotConfigured(t *testing.T) {
	tests := []struct {
		name    string
		kv      []string
		setting string
	}{
		{name: "nothing set"},
		{name: "only AZURE_* set", kv: []string{"AZURE_TENANT_ID", "t", "AZURE_CLIENT_ID", "c", "AZURE_CLIENT_SECRET", "s"}},
		{name: "identity keys without serviceUri", kv: []string{"AzureSignalRConnectionString__clientId", "c"}},
		{name: "blank connection string", kv: []string{"AzureSignalRConnectionString", "   "}},
		{name: "another setting", kv: []string{"AzureSignalRConnectionString", "Endpoint=https://x.example;AccessKey=k"}, setting: "Other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.Resolve(valuesOf(t, tt.kv...), tt.setting, settings.Options{})
			var nc *apierror.Error
			if !errors.Is(err, settings.ErrNotConfigured) || !errors.As(err, &nc) || nc.Code != apierror.ConfigurationError {
				t.Fatalf("got error %v, want a ConfigurationError caused by settings.ErrNotConfigured", err)
			}
			want := tt.setting
			if want == "" {
				want = settings.DefaultConnectionStringSetting
			}
			if nc.Key != want {
				t.Errorf("Key: got %q, want %q", nc.Key, want)
			}
			checkText(t, "error", err.Error(), []string{want + " ", want + "__serviceUri", want + ":serviceUri"}, nil)
		})
	}
}
