package settings_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// endpointSummary is what a test compares of a ServiceEndpoint.
type endpointSummary struct {
	name, typ, endpoint, key, auth, cred string
}

func summarize(eps []settings.ServiceEndpoint) []endpointSummary {
	var out []endpointSummary
	for _, e := range eps {
		cred := ""
		if e.Credential != nil {
			cred = fmt.Sprintf("%T", e.Credential)
		}
		out = append(out, endpointSummary{e.Name, string(e.Type), e.Endpoint, e.AccessKey, e.Auth, cred})
	}
	return out
}

func TestResolveEndpoints(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	cs := func(host, key string) string {
		return "Endpoint=https://" + host + ";AccessKey=" + key + ";Version=1.0;"
	}
	tests := []struct {
		name    string
		kv      []string
		setting string
		want    []endpointSummary
	}{
		{
			name: "own connection and named ones of every kind, sorted by name",
			kv: []string{
				P, cs("main.service.signalr.net", "k0"),
				"Azure:SignalR:Endpoints:west", cs("west.service.signalr.net", "k1"),
				"Azure__SignalR__Endpoints__east__secondary", cs("east2.service.signalr.net", "k2"),
				"Azure:SignalR:Endpoints:east:primary", cs("east.service.signalr.net", "k3"),
				"azure__signalr__endpoints__ID__serviceUri", "https://id.service.signalr.net/",
				"Azure:SignalR:Endpoints:id:TYPE", "Secondary",
				"Azure:SignalR:Endpoints:id:credential", "managedidentity",
			},
			want: []endpointSummary{
				{"", "primary", "https://main.service.signalr.net", "k0", "access key", ""},
				{"east", "primary", "https://east.service.signalr.net", "k3", "access key", ""},
				{"east", "secondary", "https://east2.service.signalr.net", "k2", "access key", ""},
				{"ID", "secondary", "https://id.service.signalr.net", "", "managed identity", credMI},
				{"west", "primary", "https://west.service.signalr.net", "k1", "access key", ""},
			},
		},
		{
			name: "named endpoints alone",
			kv: []string{"Azure__SignalR__Endpoints__a", cs("a.service.signalr.net", "ka"),
				"Azure__SignalR__Endpoints__b__secondary", cs("b.service.signalr.net", "kb")},
			want: []endpointSummary{
				{"a", "primary", "https://a.service.signalr.net", "ka", "access key", ""},
				{"b", "secondary", "https://b.service.signalr.net", "kb", "access key", ""},
			},
		},
		{
			name: "identity endpoint: primary by default, its own client secret credential",
			kv: []string{"Azure:SignalR:Endpoints:x:serviceUri", "https://x.service.signalr.net",
				"Azure:SignalR:Endpoints:x:tenantId", "t1", "Azure:SignalR:Endpoints:x:clientId", "11111111-2222-3333-4444-555555555555",
				"Azure:SignalR:Endpoints:x:clientSecret", "s"},
			want: []endpointSummary{{"x", "primary", "https://x.service.signalr.net", "", "client secret (tenant t1, client 11111111-2222-3333-4444-555555555555)", credSecret}},
		},
		{
			name: "a name spelled in two cases is one endpoint",
			kv: []string{"Azure:SignalR:Endpoints:East:serviceUri", "https://e.service.signalr.net",
				"AZURE__SIGNALR__ENDPOINTS__EAST__credential", "managedidentity"},
			want: []endpointSummary{{"EAST", "primary", "https://e.service.signalr.net", "", "managed identity", credMI}},
		},
		{
			name:    "another setting ignores the named endpoints",
			setting: "Other",
			kv:      []string{"Other", cs("o.service.signalr.net", "ko"), "Azure:SignalR:Endpoints:a", cs("a.service.signalr.net", "ka")},
			want:    []endpointSummary{{"", "primary", "https://o.service.signalr.net", "ko", "access key", ""}},
		},
		{
			name: "no named endpoints: one endpoint",
			kv:   []string{P, cs("main.service.signalr.net", "k0")},
			want: []endpointSummary{{"", "primary", "https://main.service.signalr.net", "k0", "access key", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setting := tt.setting
			if setting == "" {
				setting = P
			}
			c := mustResolve(t, setting, settings.Options{}, tt.kv...)
			if got := summarize(c.ServiceEndpoints()); !slices.Equal(got, tt.want) {
				t.Errorf("endpoints:\n got %+v\nwant %+v", got, tt.want)
			}
			if c.Setting != setting {
				t.Errorf("Setting: got %q, want %q", c.Setting, setting)
			}
		})
	}
}

func TestResolveEndpointsErrors(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	const secret = "SECRETKEYVALUE1234567890"
	cs := func(url string) string { return "Endpoint=" + url + ";AccessKey=" + secret + ";" }
	tests := []struct {
		name string
		kv   []string
		key  string
		want []string
	}{
		{"duplicate URL, case and trailing slash ignored",
			[]string{P, cs("https://a.service.signalr.net"), "Azure:SignalR:Endpoints:b", cs("HTTPS://A.service.signalr.net/")},
			"Azure:SignalR:Endpoints:b", []string{"also set by AzureSignalRConnectionString"}},
		{"duplicate URL between two named endpoints",
			[]string{"Azure:SignalR:Endpoints:a", cs("https://x.service.signalr.net"),
				"Azure:SignalR:Endpoints:b:secondary", cs("https://x.service.signalr.net")},
			"Azure:SignalR:Endpoints:b:secondary", []string{"also set by Azure:SignalR:Endpoints:a"}},
		{"invalid connection string names its key",
			[]string{"Azure__SignalR__Endpoints__a__secondary", "Endpoint=ftp://x;AccessKey=" + secret},
			"Azure__SignalR__Endpoints__a__secondary", []string{"invalid connection string"}},
		{"unknown type",
			[]string{"Azure:SignalR:Endpoints:a:serviceUri", "https://a", "Azure:SignalR:Endpoints:a:type", "tertiary"},
			"Azure:SignalR:Endpoints:a:type", []string{`"tertiary"`, "primary or secondary"}},
		{"type on a connection string",
			[]string{"Azure:SignalR:Endpoints:a", cs("https://a"), "Azure:SignalR:Endpoints:a:type", "secondary"},
			"Azure:SignalR:Endpoints:a:type", []string{"Azure:SignalR:Endpoints:a:secondary"}},
		{"identity keys without serviceUri",
			[]string{"Azure:SignalR:Endpoints:a:clientId", "11111111-2222-3333-4444-555555555555"},
			"Azure:SignalR:Endpoints:a", []string{"no endpoint", "serviceUri"}},
		{"incomplete identity endpoint",
			[]string{"Azure:SignalR:Endpoints:a:serviceUri", "https://a", "Azure:SignalR:Endpoints:a:tenantId", "t"},
			"Azure:SignalR:Endpoints:a:tenantId", []string{"Azure:SignalR:Endpoints:a__clientId"}},
		{"an invalid own connection wins over named ones",
			[]string{P, "Endpoint=nope", "Azure:SignalR:Endpoints:a", cs("https://a")},
			P, []string{"invalid connection string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := settings.Resolve(valuesOf(t, tt.kv...), P, settings.Options{})
			if err == nil {
				t.Fatalf("Resolve: got %v, want an error", c)
			}
			checkError(t, err, tt.key, tt.want, []string{secret})
		})
	}
}

func TestAccessKeys(t *testing.T) {
	tests := []struct {
		name string
		conn settings.Connection
		want []string
	}{
		{"one key", settings.Connection{Endpoint: "https://a", AccessKey: "k0"}, []string{"k0"}},
		{"every endpoint's key", settings.Connection{Endpoint: "https://a", AccessKey: "k0",
			Named: []settings.ServiceEndpoint{{Name: "b", Endpoint: "https://b", AccessKey: "k1"}}}, []string{"k0", "k1"}},
		{"named only", settings.Connection{Named: []settings.ServiceEndpoint{{Name: "b", Endpoint: "https://b", AccessKey: "k1"}}}, []string{"k1"}},
		{"an Entra endpoint: no check possible", settings.Connection{Endpoint: "https://a", AccessKey: "k0",
			Named: []settings.ServiceEndpoint{{Name: "b", Endpoint: "https://b", Credential: fakeCredential{}}}}, nil},
	}
	for _, tt := range tests {
		if got := tt.conn.AccessKeys(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestNamedIdentityEndpointsAgainstFakeAuthority resolves two identity
// endpoints with different service principals: each has its own
// credential, which asks the authority for its own client.
func TestNamedIdentityEndpointsAgainstFakeAuthority(t *testing.T) {
	a := testkit.NewAuthority(t)
	opts, tr := authorityOptions(a, true)
	const E = "Azure__SignalR__Endpoints__"
	c := mustResolve(t, settings.DefaultConnectionStringSetting, opts,
		E+"one__serviceUri", "https://one.service.signalr.net", E+"one__tenantId", "t1", E+"one__clientId", "11111111-2222-3333-4444-555555555555",
		E+"one__clientSecret", "s1", E+"one__disableInstanceDiscovery", "true",
		E+"two__serviceUri", "https://two.service.signalr.net", E+"two__type", "secondary", E+"two__tenantId", "t2",
		E+"two__clientId", "c2", E+"two__clientSecret", "s2", E+"two__disableInstanceDiscovery", "true",
	)
	eps := c.ServiceEndpoints()
	if len(eps) != 2 {
		t.Fatalf("got %d endpoints, want 2", len(eps))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, e := range eps {
		tok, err := e.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{signalRScope}})
		if err != nil {
			t.Fatalf("endpoint %s: GetToken: %v (refused %q)", e.Name, err, tr.refusedHosts())
		}
		if want := "token-for-" + []string{"11111111-2222-3333-4444-555555555555", "c2"}[i]; tok.Token != want {
			t.Errorf("endpoint %s: token %q, want %q", e.Name, tok.Token, want)
		}
	}
	forms := a.TokenForms()
	if len(forms) != 2 || forms[0].Get("client_secret") != "s1" || forms[1].Get("client_secret") != "s2" {
		t.Errorf("token requests: got %v, want one with s1 then one with s2", forms)
	}
	if got := tr.refusedHosts(); len(got) > 0 {
		t.Errorf("requests outside the fake authority: %q", got)
	}
}

func TestLogConnectionOneLinePerEndpoint(t *testing.T) {
	const secret = "SECRETKEYVALUE1234567890"
	c := mustResolve(t, settings.DefaultConnectionStringSetting, settings.Options{},
		"AzureSignalRConnectionString", "Endpoint=https://main.service.signalr.net;AccessKey="+secret+";",
		"Azure:SignalR:Endpoints:west:secondary", "Endpoint=http://west.example:8080;AccessKey="+secret+";",
		"Azure:SignalR:Endpoints:id:serviceUri", "https://id.service.signalr.net",
		"Azure:SignalR:Endpoints:id:tenantId", "t1", "Azure:SignalR:Endpoints:id:clientId", "11111111-2222-3333-4444-555555555555",
		"Azure:SignalR:Endpoints:id:clientSecret", secret,
	)
	var b strings.Builder
	settings.LogConnection(slog.New(slog.NewTextHandler(&b, nil)), c, "chat")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		`name="" type=primary host=main.service.signalr.net:443 endpoint=https://main.service.signalr.net auth="access key"`,
		`name=id type=primary host=id.service.signalr.net:443 endpoint=https://id.service.signalr.net auth="client secret (tenant t1, client 11111111-2222-3333-4444-555555555555)"`,
		`name=west type=secondary host=west.example:8080 endpoint=http://west.example:8080 auth="access key"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d: %s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !strings.Contains(lines[i], "hub=chat") {
			t.Errorf("line %d: got %s, want it to hold %s and hub=chat", i, lines[i], w)
		}
	}
	if strings.Contains(b.String(), secret) {
		t.Errorf("logs hold a secret: %s", b.String())
	}
	if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c.ServiceEndpoints()); strings.Contains(s, secret) {
		t.Errorf("formatting shows a secret: %s", s)
	}
}

// fakeCredential stands for a Microsoft Entra ID credential.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, nil
}
