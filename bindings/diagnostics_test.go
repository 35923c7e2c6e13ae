package bindings_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// refusingTransport is a network where every connection is refused, as
// for a managed identity endpoint that does not exist outside Azure.
type refusingTransport struct{}

func (refusingTransport) Do(r *http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
}

// fakeAzureCLICredential is an Azure CLI credential whose `az` prints
// stderr and exits 1, as the Azure CLI does when no one is logged in; an
// empty stderr means no `az` on PATH at all. Not parallel: it changes PATH
// for the process.
func fakeAzureCLICredential(tb testing.TB, stderr string) azcore.TokenCredential {
	tb.Helper()
	dir := tb.TempDir()
	if stderr != "" {
		script := "#!/bin/sh\necho '" + stderr + "' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Setenv("PATH", dir)
	cred, err := azidentity.NewAzureCLICredential(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// TestEntraFailureDiagnostics: when the token or the access-key exchange
// fails, the log says which credential was tried and why (the authority's
// AADSTS code and text, an unreachable managed identity endpoint, a missing
// or logged-out Azure CLI, the role the service wants), once per distinct
// cause and with every known secret scrubbed; the answer only names the
// failed step and points to the log.
func TestEntraFailureDiagnostics(t *testing.T) {
	tests := []struct {
		name       string
		credential func(t *testing.T, a fakeAuthority) azcore.TokenCredential
		keyMode    int32
		wantLog    []string
		wantAnswer string
	}{
		{
			name: "authority refuses with an AADSTS code",
			credential: func(t *testing.T, a fakeAuthority) azcore.TokenCredential {
				a.SetFail(true) // its description quotes the client secret back
				return a.credential(t)
			},
			wantLog: []string{`msg="Microsoft Entra ID token request failed"`, "credential=ClientSecretCredential",
				"RESPONSE 401", "AADSTS7000215: Invalid client secret provided", "aadsts=AADSTS7000215", "[REDACTED]"},
			wantAnswer: "could not get a Microsoft Entra ID token (scope https://signalr.azure.com/.default) for the access-key exchange",
		},
		{
			name: "managed identity endpoint unreachable",
			credential: func(t *testing.T, _ fakeAuthority) azcore.TokenCredential {
				cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
					ClientOptions: azcore.ClientOptions{Transport: refusingTransport{}, Retry: policy.RetryOptions{MaxRetries: -1}}})
				if err != nil {
					t.Fatal(err)
				}
				return cred
			},
			wantLog:    []string{"credential=ManagedIdentityCredential", "connection refused", "managed identity exists only in Azure"},
			wantAnswer: "could not get a Microsoft Entra ID token",
		},
		{
			name: "Azure CLI not installed",
			credential: func(t *testing.T, _ fakeAuthority) azcore.TokenCredential {
				return fakeAzureCLICredential(t, "")
			},
			wantLog:    []string{"credential=AzureCLICredential", "executable not found on path", "is not installed or not on PATH"},
			wantAnswer: "could not get a Microsoft Entra ID token",
		},
		{
			name: "Azure CLI not logged in",
			credential: func(t *testing.T, _ fakeAuthority) azcore.TokenCredential {
				return fakeAzureCLICredential(t, "ERROR: Please run az login to setup account.")
			},
			wantLog:    []string{"credential=AzureCLICredential", "Please run az login", `hint="run az login`},
			wantAnswer: "could not get a Microsoft Entra ID token",
		},
		{
			name:       "service refuses the access-key exchange",
			credential: func(t *testing.T, a fakeAuthority) azcore.TokenCredential { return a.credential(t) },
			keyMode:    keyForbidden,
			wantLog: []string{`msg="the SignalR service refused the access-key exchange"`, "status=403",
				"errorCode=Error.Auth.Forbidden", "SignalR App Server role"},
			wantAnswer: "failed: the service answered 403 (x-ms-error-code Error.Auth.Forbidden)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authority := newFakeAuthority(t)
			ks := newKeyService(t, 0)
			ks.mode.Store(tt.keyMode)
			logs := &testkit.Buffer{}
			opts := testOptions(ks.Server)
			opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
			opts.Timeout = 5 * time.Second
			conn := &settings.Connection{Endpoint: ks.URL, Credential: tt.credential(t, authority),
				Auth: "test credential", Secrets: []string{testClientSecret}}
			c := mustNewClient(t, conn, "h", opts)

			for range 2 { // the same cause twice: logged once
				_, err := c.Negotiate(context.Background(), "", nil)
				e := asError(t, err)
				if e.Code != apierror.AuthenticationUnavailable {
					t.Fatalf("got %s %q, want AuthenticationUnavailable", e.Code, e.Message)
				}
				if !strings.Contains(e.Message, tt.wantAnswer) || !strings.HasSuffix(e.Message, "; the cause is in the handler's log") {
					t.Errorf("got answer %q, want %q and a pointer to the log", e.Message, tt.wantAnswer)
				}
				if strings.Contains(e.Message, "AADSTS") {
					t.Errorf("answer %q carries the authority's text, want it only in the log", e.Message)
				}
			}
			got := logs.String()
			if n := strings.Count(got, "level=ERROR"); n != 1 {
				t.Errorf("got %d error lines, want the cause logged once:\n%s", n, got)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(got, want) {
					t.Errorf("log does not hold %q:\n%s", want, got)
				}
			}
			for _, leak := range []string{testClientSecret, "entra-token", "temporary-key"} {
				if strings.Contains(got, leak) {
					t.Errorf("log holds the secret %q:\n%s", leak, got)
				}
			}
			if strings.Contains(got, "Trace ID") || strings.Contains(got, "--------") {
				t.Errorf("log holds azidentity's request dump, want one line of cause:\n%s", got)
			}
		})
	}
}

// TestCredentialCause reads azidentity's error texts as they are written
// (azidentity v1.15 errors.go and chained_token_credential.go) into one line.
func TestCredentialCause(t *testing.T) {
	const rule = "--------------------------------------------------------------------------------"
	tests := []struct {
		name           string
		text           string
		wantCredential string
		wantCause      string
	}{
		{
			name: "authority refusal with its dump",
			text: "ClientSecretCredential authentication failed. \nPOST https://login.example/tenant1/oauth2/v2.0/token\n" + rule +
				"\nRESPONSE 401: 401 Unauthorized\n" + rule + "\n{\n  \"error\": \"invalid_client\",\n  \"error_description\": \"AADSTS7000215: Invalid client secret provided. Trace ID: 0d9e2f1a-1111-2222-3333-444455556666 Correlation ID: 5b1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff Timestamp: 2026-01-01 00:00:00Z\",\n  \"error_codes\": [\n    7000215\n  ]\n}\n" +
				rule + "\nTo troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#client-secret",
			wantCredential: "ClientSecretCredential",
			wantCause:      "ClientSecretCredential authentication failed; RESPONSE 401: 401 Unauthorized; authority says: AADSTS7000215: Invalid client secret provided.",
		},
		{
			name: "chain, every credential unavailable",
			text: "DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\t" +
				"ManagedIdentityCredential: no response from the IMDS endpoint\n\tAzureCLICredential: Azure CLI not found on path",
			wantCredential: "DefaultAzureCredential",
			wantCause: "DefaultAzureCredential: failed to acquire a token; EnvironmentCredential: missing environment variable AZURE_TENANT_ID; " +
				"ManagedIdentityCredential: no response from the IMDS endpoint; AzureCLICredential: Azure CLI not found on path",
		},
		{
			name: "answer that is not the authority's JSON",
			text: "ManagedIdentityCredential authentication failed. \nGET http://169.254.169.254/metadata/identity/oauth2/token\n" + rule +
				"\nRESPONSE 403: 403 Forbidden\n" + rule + "\nresolve_deny: denied destination\n" + rule,
			wantCredential: "ManagedIdentityCredential",
			wantCause:      "ManagedIdentityCredential authentication failed; RESPONSE 403: 403 Forbidden; answer: resolve_deny: denied destination",
		},
		{
			name: "chain stopped by a managed identity endpoint that never answered",
			text: "DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\t" +
				"ManagedIdentityCredential: context deadline exceeded. To troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#managed-id",
			wantCredential: "DefaultAzureCredential",
			wantCause: "DefaultAzureCredential: failed to acquire a token; EnvironmentCredential: missing environment variable AZURE_TENANT_ID; " +
				"ManagedIdentityCredential: context deadline exceeded. To troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#managed-id",
		},
		{
			name:      "a credential that does not name itself",
			text:      "context deadline exceeded",
			wantCause: "context deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, cause := bindings.CredentialCause(errors.New(tt.text))
			if cred != tt.wantCredential || cause != tt.wantCause {
				t.Errorf("got %q, %q\nwant %q, %q", cred, cause, tt.wantCredential, tt.wantCause)
			}
		})
	}
}

// FuzzCredentialCause: any error text gives one bounded line without panic,
// valid UTF-8 when the text is.
func FuzzCredentialCause(f *testing.F) {
	f.Add("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing")
	f.Add("X authentication failed.\n----\nRESPONSE 400: x\n----\n{\"error_description\":\"AADSTS1: a\\\"b\"}\n----")
	f.Add("{\"error_description\":\"\\ud800\"}")
	f.Add("{\"error_description\":\"two\\nlines\"}")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		_, cause := bindings.CredentialCause(errors.New(text))
		if strings.Contains(cause, "\n") {
			t.Errorf("cause %q spans lines", cause)
		}
		if n := utf8.RuneCountInString(cause); n > 2000+1 {
			t.Errorf("cause is %d characters, want at most 2000 and an ellipsis", n)
		}
		if utf8.ValidString(text) && !utf8.ValidString(cause) {
			t.Errorf("cause %q is not valid UTF-8, from valid text", cause)
		}
	})
}

func TestCredentialHint(t *testing.T) {
	tests := []struct {
		cause string
		want  string // in the hint; "" for none
	}{
		{"AzureCLICredential: executable not found on path", "not installed or not on PATH"},
		{"AzureCLICredential: ERROR: Please run 'az login' to setup account", "run az login"},
		{"ManagedIdentityCredential: dial tcp 169.254.169.254:80: connect: connection refused", "managed identity exists only in Azure"},
		{"DefaultAzureCredential: failed to acquire a token; ManagedIdentityCredential: context deadline exceeded", "managed identity exists only in Azure"},
		{"ClientSecretCredential authentication failed; authority says: AADSTS7000215: Invalid client secret provided", ""},
	}
	for _, tt := range tests {
		got := bindings.CredentialHint(tt.cause)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("hint for %q: got %q, want one with %q", tt.cause, got, tt.want)
		}
	}
}
