package settings_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// signalRScope is the scope every token of a SignalR connection is for.
const signalRScope = "https://signalr.azure.com/.default"

// loopbackOnly is a transport that sends requests for allowed hosts to next
// and refuses every other one, recording it. Tests then never reach the
// internet and can show that instance discovery was skipped.
type loopbackOnly struct {
	next    policy.Transporter
	allowed string // host:port

	mu      sync.Mutex
	refused []string
}

func (t *loopbackOnly) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == t.allowed {
		return t.next.Do(r)
	}
	t.mu.Lock()
	t.refused = append(t.refused, r.URL.Host)
	t.mu.Unlock()
	return nil, fmt.Errorf("test transport: refused request to %s", r.URL.Host)
}

func (t *loopbackOnly) refusedHosts() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.refused...)
}

// authorityOptions points every Entra credential at the fake authority.
func authorityOptions(a *testkit.Authority, withCloud bool) (settings.Options, *loopbackOnly) {
	u, _ := url.Parse(a.URL)
	tr := &loopbackOnly{next: a.Client(), allowed: u.Host}
	co := azcore.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}}
	if withCloud {
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: a.URL}
	}
	return settings.Options{ClientOptions: co}, tr
}

// getToken asks c's credential for a SignalR token.
func getToken(tb testing.TB, c *settings.Connection) (azcore.AccessToken, error) {
	tb.Helper()
	if c.Credential == nil {
		tb.Fatalf("got no credential (Auth %q), want one", c.Auth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{signalRScope}})
}

// checkTokenForm checks the fields every client-credentials request carries.
func checkTokenForm(tb testing.TB, form url.Values, clientID string) {
	tb.Helper()
	if got := form.Get("grant_type"); got != "client_credentials" {
		tb.Errorf("grant_type: got %q, want client_credentials", got)
	}
	if got := form.Get("client_id"); got != clientID {
		tb.Errorf("client_id: got %q, want %q", got, clientID)
	}
	if got := strings.Fields(form.Get("scope")); !slices.Contains(got, signalRScope) {
		tb.Errorf("scope: got %q, want it to hold %s", got, signalRScope)
	}
}

func TestCredentialsAgainstFakeAuthority(t *testing.T) {
	files := newCertFiles(t)
	cert := newTestCert(t)
	const P = "AzureSignalRConnectionString"
	identity := func(kv ...string) []string {
		return append([]string{P + "__serviceUri", "https://x.service.signalr.net", P + "__disableInstanceDiscovery", "true"}, kv...)
	}
	tests := []struct {
		name      string
		kv        []string
		withCloud bool // Options carry the authority; else AZURE_AUTHORITY_HOST in the settings does
		tenant    string
		client    string
		secret    string // "" for a certificate credential
	}{
		{name: "client secret", withCloud: true, tenant: "t1", client: "c1", secret: "s3cret",
			kv: identity(P+"__tenantId", "t1", P+"__clientId", "c1", P+"__clientSecret", "s3cret")},
		{name: "client certificate from PEM", withCloud: true, tenant: "t2", client: "c2",
			kv: identity(P+"__tenantId", "t2", P+"__clientId", "c2", P+"__clientCertificatePath", files.pem)},
		{name: "client certificate from PFX", withCloud: true, tenant: "t3", client: "c3",
			kv: identity(P+"__tenantId", "t3", P+"__clientId", "c3", P+"__clientCertificatePath", files.pfx,
				P+"__clientCertificatePassword", pfxPassword)},
		{name: "partial identity filled from AZURE_*", withCloud: true, tenant: "env-tenant", client: "c4", secret: "env-secret",
			kv: identity(P+"__clientId", "c4", "AZURE_TENANT_ID", "env-tenant", "AZURE_CLIENT_SECRET", "env-secret")},
		{name: "connection string azure.app secret", withCloud: true, tenant: "t5", client: "c5", secret: "cs-secret",
			kv: []string{P, "Endpoint=https://x.service.signalr.net;AuthType=azure.app;TenantId=t5;ClientId=c5;ClientSecret=cs-secret",
				P + ":disableInstanceDiscovery", "true"}},
		{name: "connection string azure.app certificate", withCloud: true, tenant: "t6", client: "c6",
			kv: []string{P, "Endpoint=https://x.service.signalr.net;AuthType=azure.app;TenantId=t6;ClientId=c6;ClientCert=" + files.pem,
				P + "__disableInstanceDiscovery", "true"}},
		{name: "authority from AZURE_AUTHORITY_HOST in the settings", tenant: "t7", client: "c7", secret: "s7",
			kv: identity(P+"__tenantId", "t7", P+"__clientId", "c7", P+"__clientSecret", "s7")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testkit.NewAuthority(t)
			opts, tr := authorityOptions(a, tt.withCloud)
			kv := tt.kv
			if tt.withCloud {
				kv = append(kv, "AZURE_AUTHORITY_HOST", "https://wrong.invalid/") // options win over it
			} else {
				kv = append(kv, "AZURE_AUTHORITY_HOST", a.URL)
			}
			c := mustResolve(t, P, opts, kv...)
			tok, err := getToken(t, c)
			if err != nil {
				t.Fatalf("GetToken: got error %v, want nil (requests %q, refused %q)", err, a.Requests(), tr.refusedHosts())
			}
			if want := "token-for-" + tt.client; tok.Token != want {
				t.Errorf("token: got %q, want %q", tok.Token, want)
			}
			if got := tr.refusedHosts(); len(got) > 0 {
				t.Errorf("got requests to %q, want none outside the fake authority (instance discovery is disabled)", got)
			}
			wantPaths := []string{"GET /" + tt.tenant + "/v2.0/.well-known/openid-configuration", "POST /" + tt.tenant + "/oauth2/v2.0/token"}
			if got := a.Requests(); !slices.Equal(got, wantPaths) {
				t.Errorf("authority requests: got %q, want %q", got, wantPaths)
			}
			forms := a.TokenForms()
			if len(forms) != 1 {
				t.Fatalf("got %d token requests, want 1", len(forms))
			}
			form := forms[0]
			checkTokenForm(t, form, tt.client)
			if tt.secret != "" {
				if got := form.Get("client_secret"); got != tt.secret {
					t.Errorf("client_secret: got %q, want %q", got, tt.secret)
				}
				return
			}
			if got := form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("client_assertion_type: got %q, want jwt-bearer", got)
			}
			checkAssertion(t, form.Get("client_assertion"), cert, tt.client, a.URL+"/"+tt.tenant+"/oauth2/v2.0/token")

			// The credential caches its token: a second call sends nothing.
			if _, err := getToken(t, c); err != nil {
				t.Fatal(err)
			}
			if n := len(a.TokenForms()); n != 1 {
				t.Errorf("after a second GetToken: got %d token requests, want 1 (cached)", n)
			}
		})
	}
}

// checkAssertion verifies the client assertion JWT with the certificate's
// public key and checks who it is from and for.
func checkAssertion(tb testing.TB, assertion string, cert testCert, clientID, audience string) {
	tb.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return &cert.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithAudience(audience), jwt.WithIssuer(clientID))
	if err != nil {
		tb.Fatalf("client assertion: got %v, want a valid JWT signed by the test certificate's key", err)
	}
	if sub, _ := claims.GetSubject(); sub != clientID {
		tb.Errorf("assertion sub: got %q, want %q", sub, clientID)
	}
}

// TestDisableInstanceDiscoveryMatters shows the setting is what keeps the
// credential from asking login.microsoftonline.com about the authority.
func TestDisableInstanceDiscoveryMatters(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	for _, disable := range []string{"false", "true"} {
		t.Run("disableInstanceDiscovery="+disable, func(t *testing.T) {
			a := testkit.NewAuthority(t)
			opts, tr := authorityOptions(a, true)
			c := mustResolve(t, P, opts, P, "Endpoint=https://x.service.signalr.net;AuthType=azure.app;TenantId=t;ClientId=c;ClientSecret=s",
				P+"__disableInstanceDiscovery", disable)
			_, err := getToken(t, c)
			refused := tr.refusedHosts()
			if disable == "true" {
				if err != nil || len(refused) > 0 {
					t.Errorf("got error %v and refused %q, want a token and no outside request", err, refused)
				}
				return
			}
			if err == nil || !slices.Contains(refused, "login.microsoftonline.com") {
				t.Errorf("got error %v and refused %q, want instance discovery at login.microsoftonline.com", err, refused)
			}
		})
	}
}

// TestDefaultAzureCredentialFallback resolves a bare serviceUri (and
// AuthType=azure) to DefaultAzureCredential, whose environment credential
// reads the process environment, and shows that the connection's
// disableInstanceDiscovery and AZURE_AUTHORITY_HOST reach it.
func TestDefaultAzureCredentialFallback(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	tests := []struct {
		name string
		kv   []string
	}{
		{"bare serviceUri", []string{P + "__serviceUri", "https://x.service.signalr.net"}},
		{"AuthType azure", []string{P, "Endpoint=https://x.service.signalr.net;AuthType=azure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testkit.NewAuthority(t)
			t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
			t.Setenv("AZURE_TENANT_ID", "env-tenant")
			t.Setenv("AZURE_CLIENT_ID", "env-client")
			t.Setenv("AZURE_CLIENT_SECRET", "env-secret")
			t.Setenv("AZURE_AUTHORITY_HOST", "https://wrong.invalid/") // the settings' value wins
			opts, tr := authorityOptions(a, false)
			kv := append(tt.kv, P+"__disableInstanceDiscovery", "true", "AZURE_AUTHORITY_HOST", a.URL)
			c := mustResolve(t, P, opts, kv...)
			if c.Auth != "DefaultAzureCredential" {
				t.Errorf("Auth: got %q, want DefaultAzureCredential", c.Auth)
			}
			tok, err := getToken(t, c)
			if err != nil {
				t.Fatalf("GetToken: got error %v, want nil (refused %q)", err, tr.refusedHosts())
			}
			if tok.Token != "token-for-env-client" {
				t.Errorf("token: got %q, want token-for-env-client", tok.Token)
			}
			forms := a.TokenForms()
			if len(forms) != 1 {
				t.Fatalf("got %d token requests, want 1", len(forms))
			}
			checkTokenForm(t, forms[0], "env-client")
			if got := forms[0].Get("client_secret"); got != "env-secret" {
				t.Errorf("client_secret: got %q, want env-secret", got)
			}
		})
	}
}

// TestManagedIdentityAgainstFakeEndpoint gets a token through the App
// Service managed identity protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER).
func TestManagedIdentityAgainstFakeEndpoint(t *testing.T) {
	const P = "AzureSignalRConnectionString"
	// A fresh client id per run: managed identity tokens are cached process-wide.
	userAssigned := "00000000-0000-0000-0000-" + randomHex(t)
	tests := []struct {
		name     string
		kv       []string
		wantAuth string
		clientID string
	}{
		{"identity section, system-assigned", []string{P + "__serviceUri", "https://x.service.signalr.net", P + "__credential", "managedidentity"},
			"managed identity", ""},
		{"connection string azure.msi, user-assigned", []string{P, "Endpoint=https://x.service.signalr.net;AuthType=azure.msi;ClientId=" + userAssigned},
			"managed identity (client " + userAssigned + ")", userAssigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				reqs []*http.Request
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				reqs = append(reqs, r)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				// Expiring within MSAL's 5-minute margin, so no later run is served from its cache.
				fmt.Fprintf(w, `{"access_token":"mi-token","expires_on":"%d","resource":"https://signalr.azure.com","token_type":"Bearer"}`,
					time.Now().Add(time.Minute).Unix())
			}))
			defer srv.Close()
			t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
			t.Setenv("IDENTITY_HEADER", "header-secret")
			t.Setenv("MSI_ENDPOINT", "")
			t.Setenv("IDENTITY_SERVER_THUMBPRINT", "")

			c := mustResolve(t, P, settings.Options{
				ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}, tt.kv...)
			if c.Auth != tt.wantAuth {
				t.Errorf("Auth: got %q, want %q", c.Auth, tt.wantAuth)
			}
			tok, err := getToken(t, c)
			if err != nil {
				t.Fatalf("GetToken: got error %v, want nil", err)
			}
			if tok.Token != "mi-token" {
				t.Errorf("token: got %q, want mi-token", tok.Token)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			q := r.URL.Query()
			for _, f := range []struct{ name, got, want string }{
				{"path", r.URL.Path, "/msi/token"},
				{"X-IDENTITY-HEADER", r.Header.Get("X-IDENTITY-HEADER"), "header-secret"},
				{"api-version", q.Get("api-version"), "2019-08-01"},
				{"resource", q.Get("resource"), "https://signalr.azure.com"},
				{"client_id", q.Get("client_id"), tt.clientID},
			} {
				if f.got != f.want {
					t.Errorf("%s: got %q, want %q", f.name, f.got, f.want)
				}
			}
		})
	}
}

func randomHex(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
