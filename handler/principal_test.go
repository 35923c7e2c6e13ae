package handler

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// principal encodes an x-ms-client-principal value as App Service does.
func principal(json string) string { return base64.StdEncoding.EncodeToString([]byte(json)) }

const aadPrincipal = `{"auth_typ":"aad","name_typ":"name","role_typ":"roles","claims":[` +
	`{"typ":"name","val":"Alice"},{"typ":"roles","val":"reader"},{"typ":"roles","val":"writer"},` +
	`{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress","val":"alice@contoso.com"},` +
	`{"typ":"aud","val":"x"}]}`

func TestNegotiateClaimsFromClientPrincipal(t *testing.T) {
	email := "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	tests := []struct {
		name   string
		types  []string
		header string
		want   map[string][]string
	}{
		{"listed types copied, several values kept", []string{"roles", email, "missing"}, principal(aadPrincipal),
			map[string][]string{"roles": {"reader", "writer"}, email: {"alice@contoso.com"}}},
		{"types compared exactly", []string{"Roles"}, principal(aadPrincipal), nil},
		{"no types: header not read", nil, principal(aadPrincipal), nil},
		{"no header", []string{"roles"}, "", nil},
		{"unpadded base64", []string{"name"}, strings.TrimRight(principal(aadPrincipal), "="),
			map[string][]string{"name": {"Alice"}}},
		{"registered claim names passed on (the token renames them)", []string{"aud"}, principal(aadPrincipal),
			map[string][]string{"aud": {"x"}}},
		{"not base64: ignored", []string{"roles"}, "%%%", nil},
		{"not JSON: ignored", []string{"roles"}, principal("roles=admin"), nil},
		{"claims not a list: ignored", []string{"roles"}, principal(`{"claims":{"typ":"roles"}}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, payload := range []bool{false, true} {
				fb := &fakeBindings{fakeAnswers: fakeAnswers{claimTypes: tt.types}}
				h := newTestHandler(t, fb, nil)
				header := http.Header{"X-Ms-Client-Principal-Id": {"alice"}}
				if tt.header != "" {
					header.Set("X-MS-CLIENT-PRINCIPAL", tt.header)
				}
				if status, _, body := invoke(t, h, payload, "GET", "/api/negotiate", header, ""); status != 200 {
					t.Fatalf("payload=%v: status = %d, want 200: %s", payload, status, body)
				}
				if got := fb.claims[0]; !reflect.DeepEqual(got, tt.want) {
					t.Errorf("payload=%v: claims = %v, want %v", payload, got, tt.want)
				}
			}
		})
	}
}

func TestUndecodablePrincipalWarnedOnce(t *testing.T) {
	var logs bytes.Buffer
	fb := &fakeBindings{fakeAnswers: fakeAnswers{claimTypes: []string{"roles"}}}
	h := newTestHandler(t, fb, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const secretish = "not-base64-but-private!"
	for range 3 {
		if status, _, body := invoke(t, h, false, "GET", "/api/negotiate", http.Header{"X-Ms-Client-Principal": {secretish}}, ""); status != 200 {
			t.Fatalf("status = %d, want 200: %s", status, body)
		}
	}
	if got := strings.Count(logs.String(), "undecodable x-ms-client-principal"); got != 1 {
		t.Errorf("warnings: got %d, want 1; logs: %s", got, logs.String())
	}
	if strings.Contains(logs.String(), secretish) {
		t.Errorf("logs quote the header: %s", logs.String())
	}
	if got := len(fb.users); got != 3 {
		t.Errorf("negotiations: got %d, want 3", got)
	}
}

func FuzzPrincipalClaims(f *testing.F) {
	f.Add(principal(aadPrincipal))
	f.Add(principal(`{"claims":[{"typ":"roles","val":1}]}`))
	f.Add(principal(`{"claims":null}`))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, header string) {
		claims, err := principalClaims(header, []string{"roles", "name"})
		if err != nil && claims != nil {
			t.Fatalf("error %v with claims %v", err, claims)
		}
		if err != nil && strings.Contains(err.Error(), header) && len(header) > 8 {
			t.Fatalf("error %q quotes the header", err)
		}
		for typ, vals := range claims {
			if typ != "roles" && typ != "name" || len(vals) == 0 {
				t.Fatalf("claims %v: unlisted type or no values", claims)
			}
		}
	})
}
