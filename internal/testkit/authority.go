package testkit

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Authority is a Microsoft Entra authority over TLS on loopback: it answers
// OpenID discovery and the token endpoint of any tenant as
// login.microsoftonline.com does, and records every request. Point
// azidentity at it with ClientOptions.Cloud (ActiveDirectoryAuthorityHost:
// URL), Transport: Client() and DisableInstanceDiscovery; a child process
// trusts it through SSL_CERT_FILE=CertFile and AZURE_AUTHORITY_HOST=URL.
type Authority struct {
	*httptest.Server
	CertFile string // the server certificate, PEM

	tokens atomic.Int64
	fail   atomic.Bool

	mu    sync.Mutex
	forms []url.Values
	paths []string
}

// NewAuthority starts an Authority, closed at cleanup.
func NewAuthority(tb testing.TB) *Authority {
	tb.Helper()
	a := &Authority{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		a.record(r, nil)
		base := a.URL + "/" + r.PathValue("tenant")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"issuer":                 base + "/v2.0",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.record(r, r.PostForm)
		a.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if a.fail.Load() {
			// As the authority refuses a wrong secret, quoting it back so
			// that tests prove it is scrubbed before anything is logged.
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value %s. Trace ID: 0d9e2f1a-0000-0000-0000-000000000000 Correlation ID: 5b1c-0000 Timestamp: 2026-01-01 00:00:00Z","error_codes":[7000215]}`,
				r.PostForm.Get("client_secret"))
			return
		}
		fmt.Fprintf(w, `{"access_token":"token-for-%s","expires_in":3600,"token_type":"Bearer"}`, r.PostForm.Get("client_id"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.record(r, nil)
		http.NotFound(w, r)
	})
	a.Server = httptest.NewTLSServer(mux)
	tb.Cleanup(a.Close)
	a.CertFile = filepath.Join(tb.TempDir(), "authority.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw})
	if err := os.WriteFile(a.CertFile, pemBytes, 0o600); err != nil {
		tb.Fatal(err)
	}
	return a
}

// SetFail makes the token endpoint refuse every request with 401 and
// AADSTS7000215 (invalid client secret), or answer again.
func (a *Authority) SetFail(fail bool) { a.fail.Store(fail) }

// Tokens counts the token requests received, answered or refused.
func (a *Authority) Tokens() int { return int(a.tokens.Load()) }

// TokenForms returns the forms of the token requests received so far.
func (a *Authority) TokenForms() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]url.Values(nil), a.forms...)
}

// Requests returns every request received so far, as "METHOD /path".
func (a *Authority) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.paths...)
}

func (a *Authority) record(r *http.Request, form url.Values) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paths = append(a.paths, r.Method+" "+r.URL.Path)
	if form != nil {
		a.forms = append(a.forms, form)
	}
}
