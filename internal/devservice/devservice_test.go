package devservice_test

import (
	"fmt"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/devservice"
)

func TestEndpointAndConnectionString(t *testing.T) {
	const key = "AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"
	tests := []struct {
		addr         string
		wantEndpoint string
		wantConnStr  string
	}{
		{"127.0.0.1:8888", "http://127.0.0.1:8888", "Endpoint=http://127.0.0.1;Port=8888;" + key},
		{"0.0.0.0:9000", "http://localhost:9000", "Endpoint=http://localhost;Port=9000;" + key},
		{":8888", "http://localhost:8888", "Endpoint=http://localhost;Port=8888;" + key},
		{"[::]:8888", "http://localhost:8888", "Endpoint=http://localhost;Port=8888;" + key},
		{"[::1]:8888", "http://[::1]:8888", "Endpoint=http://[::1];Port=8888;" + key},
		{"signalr.local:1", "http://signalr.local:1", "Endpoint=http://signalr.local;Port=1;" + key},
		{"myhost", "http://myhost", "Endpoint=http://myhost;" + key},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := devservice.Endpoint(tt.addr); got != tt.wantEndpoint {
				t.Errorf("Endpoint(%q): got %q, want %q", tt.addr, got, tt.wantEndpoint)
			}
			if got := devservice.ConnectionString(tt.addr); got != tt.wantConnStr {
				t.Errorf("ConnectionString(%q): got %q, want %q", tt.addr, got, tt.wantConnStr)
			}
		})
	}
}

func ExampleConnectionString() {
	fmt.Println(devservice.ConnectionString("0.0.0.0:8888"))
	// Output: Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;
}
