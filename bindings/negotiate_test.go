package bindings_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

func TestNegotiateAccessKey(t *testing.T) {
	clock := newFakeClock()
	iat := float64(clock.Now().Unix())
	tests := []struct {
		name           string
		endpoint       string // of a connection with access key testKey
		clientEndpoint string
		serverEndpoint string
		hub            string
		userID         string
		claims         map[string][]string
		lifetime       time.Duration
		wantURL        string
		wantAud        string         // "" means wantURL
		wantMore       map[string]any // claims besides aud, iat, nbf, exp and the user id's asrs.s.uid and nameid
	}{
		{
			name:     "anonymous",
			endpoint: "https://x.service.signalr.net",
			hub:      "chat",
			wantURL:  "https://x.service.signalr.net/client/?hub=chat",
		},
		{
			name:     "user id in asrs.s.uid and nameid, hub lower-cased",
			endpoint: "https://x.service.signalr.net/",
			hub:      "Chat_Room",
			userID:   "alice@contoso.com",
			wantURL:  "https://x.service.signalr.net/client/?hub=chat_room",
		},
		{
			name:     "port kept in url, dropped from aud",
			endpoint: "http://localhost:8888",
			hub:      "default",
			userID:   "u",
			wantURL:  "http://localhost:8888/client/?hub=default",
			wantAud:  "http://localhost/client/?hub=default",
		},
		{
			name:           "url from client endpoint, aud from endpoint",
			endpoint:       "https://X.service.signalr.net:443",
			clientEndpoint: "https://edge.contoso.com:8443/signalr/",
			serverEndpoint: "https://internal:9443",
			hub:            "h",
			wantURL:        "https://edge.contoso.com:8443/signalr/client/?hub=h",
			wantAud:        "https://x.service.signalr.net/client/?hub=h",
		},
		{
			name:     "IPv6 endpoint",
			endpoint: "http://[::1]:8888",
			hub:      "h",
			wantURL:  "http://[::1]:8888/client/?hub=h",
			wantAud:  "http://[::1]/client/?hub=h",
		},
		{
			name:     "extra claims: ours win, registered names renamed",
			endpoint: "https://x",
			hub:      "h",
			userID:   "u",
			claims: map[string][]string{"role": {"admin"}, "aud": {"evil"}, "exp": {"0"}, "asrs.s.uid": {"mallory"},
				"nameid": {"mallory"}, "": {"skipped"}, "unicode": {"ü\"\n"}, "none": {}},
			wantURL:  "https://x/client/?hub=h",
			wantMore: map[string]any{"role": "admin", "asrs.u.aud": "evil", "asrs.u.exp": "0", "unicode": "ü\"\n"},
		},
		{
			name:     "several values of one claim type: a JSON array",
			endpoint: "https://x",
			hub:      "h",
			claims:   map[string][]string{"roles": {"reader", "writer", "ü"}, "email": {"a@contoso.com"}},
			wantURL:  "https://x/client/?hub=h",
			wantMore: map[string]any{"roles": []any{"reader", "writer", "ü"}, "email": "a@contoso.com"},
		},
		{
			name:     "token lifetime from the options",
			endpoint: "https://x",
			hub:      "h",
			lifetime: 24 * time.Hour,
			wantURL:  "https://x/client/?hub=h",
		},
		{
			name:     "user id needing JSON escapes",
			endpoint: "https://x",
			hub:      "h",
			userID:   "\"quoted\" \\ ü \x01",
			wantURL:  "https://x/client/?hub=h",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &settings.Connection{Endpoint: tt.endpoint, ClientEndpoint: tt.clientEndpoint, ServerEndpoint: tt.serverEndpoint, AccessKey: testKey}
			c := mustNewClient(t, conn, tt.hub, bindings.Options{Now: clock.Now, TokenLifetime: tt.lifetime})
			info, err := c.Negotiate(context.Background(), tt.userID, tt.claims)
			if err != nil {
				t.Fatalf("Negotiate: %v", err)
			}
			if info.URL != tt.wantURL {
				t.Errorf("url: got %q, want %q", info.URL, tt.wantURL)
			}
			aud, lifetime := tt.wantAud, tt.lifetime
			if aud == "" {
				aud = tt.wantURL
			}
			if lifetime == 0 {
				lifetime = time.Hour
			}
			want := tokenClaims(aud, iat, lifetime)
			if tt.userID != "" {
				want["asrs.s.uid"], want["nameid"] = tt.userID, tt.userID
			}
			maps.Copy(want, tt.wantMore)
			checkAccessKeyToken(t, info.AccessToken, want)
		})
	}
}

func TestTokenLifetimeBounds(t *testing.T) {
	conn := &settings.Connection{Endpoint: "https://x", AccessKey: testKey}
	tests := []struct {
		lifetime time.Duration
		wantErr  bool
	}{
		{0, false}, // default
		{time.Minute, false},
		{24 * time.Hour, false},
		{time.Minute - time.Second, true},
		{24*time.Hour + time.Second, true},
		{-time.Hour, true},
	}
	for _, tt := range tests {
		c, err := bindings.NewClient(conn, "h", bindings.Options{TokenLifetime: tt.lifetime})
		if c != nil {
			c.Close()
		}
		if got := err != nil; got != tt.wantErr {
			t.Errorf("TokenLifetime %s: got error %v, want error %v", tt.lifetime, err, tt.wantErr)
		}
		if err != nil {
			if e := asError(t, err); e.Code != apierror.ConfigurationError {
				t.Errorf("TokenLifetime %s: got code %s, want %s", tt.lifetime, e.Code, apierror.ConfigurationError)
			}
		}
	}
}

// TestRESTTokenLifetimeFixed checks that REST tokens keep one hour whatever
// the client token lifetime.
func TestRESTTokenLifetimeFixed(t *testing.T) {
	srv := newFakeService(t, nil)
	clock := newFakeClock()
	opts := testOptions(srv.Server)
	opts.Now, opts.TokenLifetime = clock.Now, 5*time.Minute
	r := sendOne(t, keyClient(t, srv.Server, "h", opts), srv, msg(bindings.Message{Target: "t"}))
	_, claims := verifyToken(t, bearer(t, r.Header), testKey)
	if got, want := claims["exp"].(float64)-claims["iat"].(float64), 3600.0; got != want {
		t.Errorf("REST token exp - iat: got %v, want %v", got, want)
	}
}

func TestAccessKeyID(t *testing.T) {
	id := bindings.AccessKeyID(testKey)
	if got, want := len(id), 8; got != want {
		t.Errorf("len(kid): got %d, want %d", got, want)
	}
	if strings.Contains(testKey, id) {
		t.Errorf("kid %q is part of the key", id)
	}
	if again := bindings.AccessKeyID(testKey); again != id {
		t.Errorf("kid not stable: got %q then %q", id, again)
	}
	if other := bindings.AccessKeyID(testKey + "x"); other == id {
		t.Errorf("two keys share kid %q", id)
	}
}

// TestNegotiateTokenTimes checks exp - iat == 3600 against the real clock and
// that a token signed with another key does not verify.
func TestNegotiateTokenTimes(t *testing.T) {
	c := mustNewClient(t, &settings.Connection{Endpoint: "https://x", AccessKey: testKey}, "h", bindings.Options{})
	before := time.Now().Unix()
	info, err := c.Negotiate(context.Background(), "u", nil)
	if err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	_, claims := verifyToken(t, info.AccessToken, testKey)
	iat, exp := int64(claims["iat"].(float64)), int64(claims["exp"].(float64))
	if iat < before || iat > time.Now().Unix() {
		t.Errorf("iat: got %d, want now (%d)", iat, before)
	}
	if got, want := exp-iat, int64(3600); got != want {
		t.Errorf("exp - iat: got %d, want %d", got, want)
	}
	if got := int64(claims["nbf"].(float64)); got != iat {
		t.Errorf("nbf: got %d, want iat %d", got, iat)
	}
}

func TestNegotiateTokenTooLong(t *testing.T) {
	c := mustNewClient(t, &settings.Connection{Endpoint: "https://x", AccessKey: testKey}, "h", bindings.Options{})
	_, err := c.Negotiate(context.Background(), strings.Repeat("u", 4000), nil)
	if got, want := asError(t, err).Code, apierror.InvalidMessage; got != want {
		t.Errorf("code: got %s, want %s", got, want)
	}
}

func TestNewClientErrors(t *testing.T) {
	cred := &fake.TokenCredential{}
	tests := []struct {
		name   string
		conn   *settings.Connection
		hub    string
		wantIn string
		notIn  string
	}{
		{"nil connection", nil, "h", "no SignalR connection", ""},
		{"no endpoint", &settings.Connection{AccessKey: testKey}, "h", "no endpoint", ""},
		{"relative endpoint", &settings.Connection{Endpoint: "x.service.signalr.net", AccessKey: testKey}, "h", "not an absolute http or https URL", ""},
		{"ftp endpoint", &settings.Connection{Endpoint: "ftp://x", AccessKey: testKey}, "h", "not an absolute http or https URL", ""},
		{"bad client endpoint", &settings.Connection{Endpoint: "https://x", ClientEndpoint: "ws://y", AccessKey: testKey}, "h", "client endpoint", ""},
		{"bad server endpoint", &settings.Connection{Endpoint: "https://x", ServerEndpoint: "://y", AccessKey: testKey}, "h", "server endpoint", ""},
		{"user info never shown", &settings.Connection{Endpoint: "ftp://user:hunter2@x", AccessKey: testKey}, "h", "not an absolute", "hunter2"},
		{"no auth", &settings.Connection{Endpoint: "https://x"}, "h", "neither an access key nor", ""},
		{"empty hub", &settings.Connection{Endpoint: "https://x", Credential: cred}, "", "hub name is empty", ""},
		{"hub starting with a digit", &settings.Connection{Endpoint: "https://x", AccessKey: testKey}, "1hub", "must start with a letter", ""},
		{"hub with a slash", &settings.Connection{Endpoint: "https://x", AccessKey: testKey}, "a/b", "may only hold", ""},
		{"hub too long", &settings.Connection{Endpoint: "https://x", AccessKey: testKey}, "h" + strings.Repeat("x", 128), "longer than 128", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := bindings.NewClient(tt.conn, tt.hub, bindings.Options{})
			if err == nil {
				c.Close()
				t.Fatalf("got a client, want error containing %q", tt.wantIn)
			}
			e := asError(t, err)
			if e.Code != apierror.ConfigurationError {
				t.Errorf("code: got %s, want %s", e.Code, apierror.ConfigurationError)
			}
			if !strings.Contains(e.Message, tt.wantIn) {
				t.Errorf("message: got %q, want it to contain %q", e.Message, tt.wantIn)
			}
			if tt.notIn != "" && strings.Contains(e.Error(), tt.notIn) {
				t.Errorf("message %q shows %q", e.Error(), tt.notIn)
			}
		})
	}
}

func TestNewClientAcceptsServiceHubNames(t *testing.T) {
	for _, hub := range []string{"a", "Chat", "h_1", "a`b,c.d[e]", "h" + strings.Repeat("x", 127)} {
		c, err := bindings.NewClient(&settings.Connection{Endpoint: "https://x", AccessKey: testKey}, hub, bindings.Options{})
		if err != nil {
			t.Errorf("hub %q: got error %v, want none", hub, err)
			continue
		}
		c.Close()
	}
}
