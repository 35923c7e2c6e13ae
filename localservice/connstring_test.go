package localservice

import (
	"fmt"
	"testing"
)

func TestConnectionString(t *testing.T) {
	const key = "AccessKey=" + DevAccessKey + ";Version=1.0;"
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8888", "Endpoint=http://127.0.0.1;Port=8888;" + key},
		{"0.0.0.0:8888", "Endpoint=http://localhost;Port=8888;" + key},
		{":8888", "Endpoint=http://localhost;Port=8888;" + key},
		{"[::]:9000", "Endpoint=http://localhost;Port=9000;" + key},
		{"[::1]:9000", "Endpoint=http://[::1];Port=9000;" + key},
		{"localhost:1", "Endpoint=http://localhost;Port=1;" + key},
		{"myhost", "Endpoint=http://myhost;" + key},
	}
	for _, tt := range tests {
		if got := ConnectionString(tt.addr); got != tt.want {
			t.Errorf("ConnectionString(%q): got %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func ExampleConnectionString() {
	fmt.Println(ConnectionString("0.0.0.0:8888"))
	// Output: Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;
}
