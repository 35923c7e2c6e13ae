package settings

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseConnectionString checks that parsing never panics, that an
// accepted connection string always yields absolute http/https endpoints
// in normal form, and that errors never depend on, nor contain, the
// AccessKey value.
func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=https://x.service.signalr.net;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
		"Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
		"endpoint=https://X.example/;accesskey=k==;",
		"Endpoint=https://x.example/base/;AccessKey=k;ClientEndpoint=https://c.example;ServerEndpoint=http://[::1]:8080/",
		"Endpoint=https://x.example;AuthType=azure",
		"Endpoint=https://x.example;AuthType=azure.msi;ClientId=abc",
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s",
		"Endpoint=https://x.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/tmp/cert.pem",
		"Endpoint=https://x.example;AuthType=aad;ClientId=c",
		"Endpoint=https://x.example;AuthType=bogus;AccessKey=secretsecret",
		"Endpoint=https://x.example;AccessKey=a;AccessKey=b",
		"Endpoint=https://x.example,AccessKey=gluedsecret",
		"Endpoint=https://u:p@x.example;AccessKey=k",
		"Endpoint=https://x.example?q=1;AccessKey=k",
		"Endpoint=https://x.example:0;AccessKey=k",
		"Endpoint=https://x.example;Port=65536;AccessKey=k",
		"Endpoint=https://x.example;Version=2.0;AccessKey=k",
		"Endpoint=https://%41.example;AccessKey=k",
		"Endpoint=http://[fe80::1%25en0];AccessKey=k",
		"Endpoint=https://x.example/%2F/;AccessKey=k",
		"Endpoint= https://x.example ; AccessKey = k ;;",
		"AccessKey=k",
		";;;",
		"=",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := parseConnectionString(s)
		if err == nil {
			for _, ep := range []string{cs.endpoint, cs.clientEndpoint, cs.serverEndpoint} {
				checkNormalEndpoint(t, ep)
			}
			if cs.auth == authAccessKey && cs.accessKey == "" {
				t.Errorf("%q: accepted access-key auth without an AccessKey", s)
			}
		}

		const placeholder = "Placeholder0AccessKey"
		key, replaced := replaceAccessKeys(s, placeholder)
		if key == "" || strings.Contains(s, placeholder) {
			return
		}
		_, err2 := parseConnectionString(replaced)
		if got, want := errorText(err), errorText(err2); got != want {
			t.Errorf("error depends on the AccessKey value: %q gives %q, with the key replaced %q", s, got, want)
		}
		if err != nil && strings.Contains(err.Error(), key) && !strings.Contains(errorText(err2), key) {
			t.Errorf("%q: error %q contains the AccessKey", s, err)
		}
	})
}

// checkNormalEndpoint asserts ep is an absolute http(s) URL with a host, no
// user info, query, fragment or trailing slash, and is its own normal form.
func checkNormalEndpoint(t *testing.T, ep string) {
	t.Helper()
	u, err := url.Parse(ep)
	if err != nil {
		t.Fatalf("endpoint %q does not parse: %v", ep, err)
	}
	if !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		t.Errorf("endpoint %q: want an absolute http or https URL with a host", ep)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(ep, "/") {
		t.Errorf("endpoint %q: want no user info, query, fragment or trailing slash", ep)
	}
	if again, err := normalizeEndpoint(ep, ""); err != nil || again != ep {
		t.Errorf("endpoint %q: normalizes again to %q, %v; want itself", ep, again, err)
	}
}

// replaceAccessKeys replaces the value of every non-empty AccessKey part of
// a connection string, split the way parseConnectionString splits it. It
// returns the (last) trimmed value replaced, "" when there was none.
func replaceAccessKeys(s, placeholder string) (key, replaced string) {
	parts := strings.Split(s, ";")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "accesskey") && strings.TrimSpace(v) != "" {
			key = strings.TrimSpace(v)
			parts[i] = k + "=" + placeholder
		}
	}
	return key, strings.Join(parts, ";")
}

func errorText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
