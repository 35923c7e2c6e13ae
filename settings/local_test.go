package settings_test

import (
	"reflect"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/devservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

func TestLocalConnection(t *testing.T) {
	tests := []struct {
		addr         string
		wantEndpoint string
	}{
		{"127.0.0.1:8888", "http://127.0.0.1:8888"},
		{"0.0.0.0:9000", "http://localhost:9000"},
		{":8888", "http://localhost:8888"},
		{"[::]:8888", "http://localhost:8888"},
		{"[::1]:8888", "http://[::1]:8888"},
		{"signalr.local:1", "http://signalr.local:1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c := settings.LocalConnection(tt.addr)
			want := settings.Connection{
				Setting:        settings.DefaultConnectionStringSetting,
				Endpoint:       tt.wantEndpoint,
				ClientEndpoint: tt.wantEndpoint,
				ServerEndpoint: tt.wantEndpoint,
				AccessKey:      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH",
				Auth:           "access key (local development key)",
				Local:          true,
			}
			if !reflect.DeepEqual(*c, want) {
				// Connection formats without its key, so spell the fields out.
				t.Errorf("got {%q %q %q %q %q %q %v}, want {%q %q %q %q %q %q %v}",
					c.Setting, c.Endpoint, c.ClientEndpoint, c.ServerEndpoint, c.AccessKey, c.Auth, c.Local,
					want.Setting, want.Endpoint, want.ClientEndpoint, want.ServerEndpoint, want.AccessKey, want.Auth, want.Local)
			}

			// The logged connection string (its text is devservice's to test)
			// resolves to the same connection.
			cs := devservice.ConnectionString(tt.addr)
			r := mustResolve(t, "", settings.Options{}, "AzureSignalRConnectionString", cs)
			if r.Endpoint != c.Endpoint || r.AccessKey != c.AccessKey {
				t.Errorf("Resolve(%q): got %s with key %q, want %s with the local key", cs, r.Endpoint, r.AccessKey, c.Endpoint)
			}
		})
	}
}
