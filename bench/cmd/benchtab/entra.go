package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
)

// entraFakes stand in for Microsoft Entra ID and for the service's
// access-key exchange, as the end-to-end tests do: an authority over TLS on
// loopback (the handler trusts it through SSL_CERT_FILE) and a key-exchange
// endpoint GET /api/v1/auth/accessKey.
type entraFakes struct {
	authority *httptest.Server
	service   *httptest.Server
	certFile  string
	tokens    atomic.Int64 // Entra tokens issued
	exchanges atomic.Int64 // access keys handed out
}

func newEntraFakes(dir string) (*entraFakes, error) {
	f := &entraFakes{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{t}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		b := f.authority.URL + "/" + r.PathValue("t")
		json.NewEncoder(w).Encode(map[string]string{"issuer": b + "/v2.0",
			"authorization_endpoint": b + "/oauth2/v2.0/authorize", "token_endpoint": b + "/oauth2/v2.0/token"})
	})
	mux.HandleFunc("POST /{t}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		f.tokens.Add(1)
		fmt.Fprint(w, `{"access_token":"bench-entra-token","expires_in":3600,"token_type":"Bearer"}`)
	})
	f.authority = httptest.NewTLSServer(mux)
	f.service = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/auth/accessKey" || r.Header.Get("Authorization") != "Bearer bench-entra-token" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		f.exchanges.Add(1)
		fmt.Fprint(w, `{"KeyId":"bench-kid","AccessKey":"BENCH-TEMPORARY-KEY-0123456789abcdefghijklmnopqrstu"}`)
	}))
	f.certFile = filepath.Join(dir, "authority.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.authority.Certificate().Raw})
	if err := os.WriteFile(f.certFile, pemBytes, 0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// env is the app settings of an identity-based connection with a client
// secret, pointing at the fakes.
func (f *entraFakes) env() []string {
	return []string{
		"AzureSignalRConnectionString__serviceUri=" + f.service.URL,
		"AzureSignalRConnectionString__tenantId=bench-tenant",
		"AzureSignalRConnectionString__clientId=bench-client",
		"AzureSignalRConnectionString__clientSecret=bench-secret",
		"AzureSignalRConnectionString__disableInstanceDiscovery=true",
		"AZURE_AUTHORITY_HOST=" + f.authority.URL,
		"SSL_CERT_FILE=" + f.certFile,
	}
}

func (f *entraFakes) Close() {
	f.authority.Close()
	f.service.Close()
}
