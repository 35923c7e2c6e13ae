package settings_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/settings"
)

func TestLoad(t *testing.T) {
	defaults := settings.Settings{
		HubName:             "default",
		HTTPClientTimeout:   30 * time.Second,
		LocalAddr:           "127.0.0.1:8888",
		AccessTokenLifetime: time.Hour,
	}
	with := func(f func(*settings.Settings)) settings.Settings {
		s := defaults
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		kv       []string
		want     settings.Settings
		wantKeys []string // keys named by the *Error values, in order
	}{
		{name: "defaults", want: defaults},
		{name: "hub", kv: []string{"AzureSignalRHubName", "Chat_Room.1"},
			want: with(func(s *settings.Settings) { s.HubName = "Chat_Room.1" })},
		{name: "hub with every allowed character", kv: []string{"azuresignalrhubname", "a0_`,.[]"},
			want: with(func(s *settings.Settings) { s.HubName = "a0_`,.[]" })},
		{name: "hub of 128 characters", kv: []string{"AzureSignalRHubName", "h" + strings.Repeat("x", 127)},
			want: with(func(s *settings.Settings) { s.HubName = "h" + strings.Repeat("x", 127) })},
		{name: "hub of 129 characters", kv: []string{"AzureSignalRHubName", "h" + strings.Repeat("x", 128)},
			want: defaults, wantKeys: []string{"AzureSignalRHubName"}},
		{name: "hub starting with a digit", kv: []string{"AzureSignalRHubName", "1chat"},
			want: defaults, wantKeys: []string{"AzureSignalRHubName"}},
		{name: "hub with a slash", kv: []string{"AZURESIGNALRHUBNAME", "chat/room"},
			want: defaults, wantKeys: []string{"AZURESIGNALRHUBNAME"}},
		{name: "port", kv: []string{"FUNCTIONS_CUSTOMHANDLER_PORT", " 33333 "},
			want: with(func(s *settings.Settings) { s.Port = "33333" })},
		{name: "port 0", kv: []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "0"},
			want: with(func(s *settings.Settings) { s.Port = "0" }), wantKeys: []string{"FUNCTIONS_CUSTOMHANDLER_PORT"}},
		{name: "port 65536", kv: []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "65536"},
			want: with(func(s *settings.Settings) { s.Port = "65536" }), wantKeys: []string{"FUNCTIONS_CUSTOMHANDLER_PORT"}},
		{name: "port not a number", kv: []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "http"},
			want: with(func(s *settings.Settings) { s.Port = "http" }), wantKeys: []string{"FUNCTIONS_CUSTOMHANDLER_PORT"}},
		{name: "timeout TimeSpan", kv: []string{"AzureSignalRHttpClientTimeout", "00:01:30"},
			want: with(func(s *settings.Settings) { s.HTTPClientTimeout = 90 * time.Second })},
		{name: "timeout Go duration", kv: []string{"AzureSignalRHttpClientTimeout", "45s"},
			want: with(func(s *settings.Settings) { s.HTTPClientTimeout = 45 * time.Second })},
		{name: "timeout zero", kv: []string{"AzureSignalRHttpClientTimeout", "00:00:00"},
			want: defaults, wantKeys: []string{"AzureSignalRHttpClientTimeout"}},
		{name: "timeout garbage", kv: []string{"AzureSignalRHttpClientTimeout", "soon"},
			want: defaults, wantKeys: []string{"AzureSignalRHttpClientTimeout"}},
		{name: "CORS list", kv: []string{"CORS_ALLOWED_ORIGINS", " https://a.example , ,https://b.example,"},
			want: with(func(s *settings.Settings) { s.CORSOrigins = []string{"https://a.example", "https://b.example"} })},
		{name: "CORS star", kv: []string{"CORS_ALLOWED_ORIGINS", "*"},
			want: with(func(s *settings.Settings) { s.CORSOrigins = []string{"*"} })},
		{name: "CORS only commas", kv: []string{"CORS_ALLOWED_ORIGINS", " , "}, want: defaults},
		{name: "local addr", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", "0.0.0.0:9999"},
			want: with(func(s *settings.Settings) { s.LocalAddr = "0.0.0.0:9999" })},
		{name: "local addr without host", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", ":9999"},
			want: with(func(s *settings.Settings) { s.LocalAddr = ":9999" })},
		{name: "local addr IPv6", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", "[::1]:9999"},
			want: with(func(s *settings.Settings) { s.LocalAddr = "[::1]:9999" })},
		{name: "local addr without port", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", "localhost"},
			want: defaults, wantKeys: []string{"FUNCSIGNALR_LOCAL_ADDR"}},
		{name: "local addr port 0 (any free port)", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", "127.0.0.1:0"},
			want: with(func(s *settings.Settings) { s.LocalAddr = "127.0.0.1:0" })},
		{name: "local addr port too big", kv: []string{"FUNCSIGNALR_LOCAL_ADDR", "127.0.0.1:65536"},
			want: defaults, wantKeys: []string{"FUNCSIGNALR_LOCAL_ADDR"}},
		{name: "in Azure", kv: []string{"WEBSITE_INSTANCE_ID", "abc123"},
			want: with(func(s *settings.Settings) { s.InAzure = true })},
		{name: "App Service Authentication on", kv: []string{"WEBSITE_AUTH_ENABLED", "True"},
			want: with(func(s *settings.Settings) { s.AuthEnabled = true })},
		{name: "App Service Authentication off", kv: []string{"WEBSITE_AUTH_ENABLED", "false"}, want: defaults},
		{name: "claim types", kv: []string{"AzureSignalRClaimTypes", " roles, ,http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress "},
			want: with(func(s *settings.Settings) {
				s.ClaimTypes = []string{"roles", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}
			})},
		{name: "token lifetime TimeSpan", kv: []string{"AzureSignalRAccessTokenLifetime", "00:10:00"},
			want: with(func(s *settings.Settings) { s.AccessTokenLifetime = 10 * time.Minute })},
		{name: "token lifetime Go duration", kv: []string{"azuresignalraccesstokenlifetime", "24h"},
			want: with(func(s *settings.Settings) { s.AccessTokenLifetime = 24 * time.Hour })},
		{name: "every error at once", kv: []string{
			"AzureSignalRHubName", "-", "FUNCTIONS_CUSTOMHANDLER_PORT", "x",
			"AzureSignalRHttpClientTimeout", "-1s", "FUNCSIGNALR_LOCAL_ADDR", "nope"},
			want:     with(func(s *settings.Settings) { s.Port = "x" }),
			wantKeys: []string{"AzureSignalRHubName", "FUNCTIONS_CUSTOMHANDLER_PORT", "AzureSignalRHttpClientTimeout", "FUNCSIGNALR_LOCAL_ADDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := settings.Load(valuesOf(t, tt.kv...))
			if !equalSettings(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if gotKeys := errorKeys(t, err); !slices.Equal(gotKeys, tt.wantKeys) {
				t.Errorf("got errors for %q (%v), want for %q", gotKeys, err, tt.wantKeys)
			}
		})
	}
}

func equalSettings(a, b settings.Settings) bool {
	return a.HubName == b.HubName && a.Port == b.Port && a.HTTPClientTimeout == b.HTTPClientTimeout &&
		slices.Equal(a.CORSOrigins, b.CORSOrigins) && a.LocalAddr == b.LocalAddr && a.InAzure == b.InAzure &&
		a.AuthEnabled == b.AuthEnabled && a.AccessTokenLifetime == b.AccessTokenLifetime &&
		slices.Equal(a.ClaimTypes, b.ClaimTypes) && (a.AccessTokenLifetimeError == nil) == (b.AccessTokenLifetimeError == nil)
}

// TestAccessTokenLifetime checks the bounds (1 minute to 24 hours,
// inclusive) and that an invalid lifetime is kept apart from Load's error:
// only negotiate answers it.
func TestAccessTokenLifetime(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr string // part of the message
	}{
		{"00:01:00", time.Minute, ""},
		{"1m", time.Minute, ""},
		{"1.00:00:00", 24 * time.Hour, ""},
		{"23:59:59", 24*time.Hour - time.Second, ""},
		{"00:00:59", 0, "out of range"},
		{"24h1s", 0, "out of range"},
		{"1.00:00:01", 0, "out of range"},
		{"2.00:00:00", 0, "out of range"},
		{"00:00:00", 0, "01:00:00"},
		{"forever", 0, "01:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			s, err := settings.Load(valuesOf(t, "AzureSignalRAccessTokenLifetime", tt.value))
			if err != nil {
				t.Fatalf("Load error: got %v, want nil (the lifetime error is kept apart)", err)
			}
			if tt.wantErr == "" {
				if s.AccessTokenLifetimeError != nil || s.AccessTokenLifetime != tt.want {
					t.Errorf("got %s, %v; want %s, no error", s.AccessTokenLifetime, s.AccessTokenLifetimeError, tt.want)
				}
				return
			}
			checkError(t, s.AccessTokenLifetimeError, "AzureSignalRAccessTokenLifetime", []string{tt.wantErr}, nil)
			if s.AccessTokenLifetime != time.Hour {
				t.Errorf("lifetime after an error: got %s, want the default 1h", s.AccessTokenLifetime)
			}
		})
	}
}

func TestIdentityWarning(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want bool
	}{
		{"not in Azure", nil, false},
		{"in Azure without authentication", []string{"WEBSITE_INSTANCE_ID", "i"}, true},
		{"in Azure, authentication false", []string{"WEBSITE_INSTANCE_ID", "i", "WEBSITE_AUTH_ENABLED", "False"}, true},
		{"in Azure with authentication", []string{"WEBSITE_INSTANCE_ID", "i", "WEBSITE_AUTH_ENABLED", "TRUE"}, false},
		{"authentication outside Azure", []string{"WEBSITE_AUTH_ENABLED", "true"}, false},
	}
	for _, tt := range tests {
		s, _ := settings.Load(valuesOf(t, tt.kv...))
		w := s.IdentityWarning()
		if got := w != ""; got != tt.want {
			t.Errorf("%s: got warning %q, want one: %v", tt.name, w, tt.want)
		}
		if w != "" && (!strings.Contains(w, "x-ms-client-principal-id") || !strings.Contains(w, "x-ms-client-principal ")) {
			t.Errorf("%s: warning %q does not name both headers", tt.name, w)
		}
	}
}

// errorKeys returns the Key of every *apierror.Error in err (joined or not).
func errorKeys(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var keys []string
	for _, e := range errs {
		var se *apierror.Error
		if !errors.As(e, &se) {
			tb.Fatalf("got error %T %v, want *apierror.Error", e, e)
		}
		keys = append(keys, se.Key)
	}
	return keys
}

func TestStandalone(t *testing.T) {
	if s := (settings.Settings{}); !s.Standalone() {
		t.Errorf("no port: got Standalone false, want true")
	}
	if s := (settings.Settings{Port: "7071"}); s.Standalone() {
		t.Errorf("port set: got Standalone true, want false")
	}
}

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "00:00:30", want: 30 * time.Second},
		{in: "00:01:30", want: 90 * time.Second},
		{in: "01:00:00", want: time.Hour},
		{in: "1:2:3", want: time.Hour + 2*time.Minute + 3*time.Second},
		{in: "00:00:01.5", want: 1500 * time.Millisecond},
		{in: "00:00:00.0000001", want: 100 * time.Nanosecond},
		{in: "1.02:03:04", want: 26*time.Hour + 3*time.Minute + 4*time.Second},
		{in: "1.00:00:00.250", want: 24*time.Hour + 250*time.Millisecond},
		{in: "00:05", want: 5 * time.Minute}, // hh:mm, as .NET reads it
		{in: " 00:00:10 ", want: 10 * time.Second},
		{in: "30s", want: 30 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "30", wantErr: true}, // .NET: 30 days; never meant
		{in: "00:00:00", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "24:00:00", wantErr: true},
		{in: "00:60:00", wantErr: true},
		{in: "00:00:60", wantErr: true},
		{in: "00:00:01.12345678", wantErr: true},
		{in: "a.00:00:01", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := settings.ParseTimeout(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTimeout(%q): got %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
