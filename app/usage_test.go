package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/settings"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    command
		wantErr string
	}{
		{name: "none", args: nil, want: command{}},
		{name: "addr", args: []string{"-addr", "127.0.0.1:9000"}, want: command{addr: "127.0.0.1:9000"}},
		{name: "addr with =", args: []string{"-addr=:9000"}, want: command{addr: ":9000"}},
		{name: "double dash addr", args: []string{"--addr", "localhost:0"}, want: command{addr: "localhost:0"}},
		{name: "-h", args: []string{"-h"}, want: command{help: true}},
		{name: "--help", args: []string{"--help"}, want: command{help: true}},
		{name: "-help", args: []string{"-help"}, want: command{help: true}},
		{name: "local-service", args: []string{"local-service"}, want: command{localService: true}},
		{name: "local-service addr", args: []string{"local-service", "-addr", "127.0.0.1:0"},
			want: command{localService: true, addr: "127.0.0.1:0"}},
		{name: "local-service help", args: []string{"local-service", "--help"}, want: command{localService: true, help: true}},
		{name: "local-service upstream", args: []string{"local-service", "-upstream", "http://127.0.0.1:7071/api/signalr/{hub}/{category}/{event}"},
			want: command{localService: true, upstream: "http://127.0.0.1:7071/api/signalr/{hub}/{category}/{event}"}},
		{name: "upstream without local-service", args: []string{"-upstream", "http://h/"}, wantErr: "flag provided but not defined: -upstream"},
		{name: "relative upstream", args: []string{"local-service", "-upstream", "/api/signalr"}, wantErr: "invalid value for flag -upstream: upstream URL: want an absolute http:// or https:// URL"},
		{name: "upstream placeholder", args: []string{"local-service", "-upstream", "http://h/{name}"}, wantErr: "invalid value for flag -upstream: upstream URL: unknown placeholder"},
		{name: "unknown flag", args: []string{"-port", "9000"}, wantErr: "flag provided but not defined: -port"},
		{name: "flag without value", args: []string{"-addr"}, wantErr: "flag needs an argument: -addr"},
		{name: "addr without port", args: []string{"-addr", "localhost"}, wantErr: `invalid value "localhost" for flag -addr`},
		{name: "unknown argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
		{name: "argument after flags", args: []string{"-addr", ":1", "local-service"}, wantErr: `unexpected argument "local-service"`},
		{name: "local-service extra argument", args: []string{"local-service", "now"}, wantErr: `unexpected argument "now"`},
		{name: "local-service unknown flag", args: []string{"local-service", "-port", "1"}, wantErr: "flag provided but not defined: -port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q) error = %v, want nil", tt.args, err)
			}
			if got != tt.want {
				t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

// TestUsage runs Run with help and with mistakes: help goes to stdout and
// Run returns nil (exit 0); a mistake and the usage go to stderr and Run
// returns ErrUsage (exit 2). Neither starts a server.
func TestUsage(t *testing.T) {
	// What the usage must name: both ways to start, the flags and the
	// settings that decide where and how the handler runs.
	mentions := []string{"Usage:", "funcsignalr [-addr host:port]", "funcsignalr local-service [-addr host:port]",
		"-h, --help", "127.0.0.1:7071", "127.0.0.1:8888", "AzureSignalRConnectionString",
		"AzureSignalRConnectionString__serviceUri", "AzureSignalRHubName", "AzureSignalRHttpClientTimeout",
		"CORS_ALLOWED_ORIGINS", "FUNCSIGNALR_ADDR", "FUNCSIGNALR_LOCAL_ADDR", "FUNCSIGNALR_LOG_LEVEL",
		"FUNCTIONS_CUSTOMHANDLER_PORT", "local.settings.json", ".env", "no function key"}
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantStderr string // the mistake, before the usage
	}{
		{name: "-h", args: []string{"-h"}},
		{name: "--help", args: []string{"--help"}},
		{name: "local-service -h", args: []string{"local-service", "-h"}},
		{name: "unknown flag", args: []string{"-port", "9000"}, wantErr: true, wantStderr: "flag provided but not defined: -port"},
		{name: "unknown argument", args: []string{"start"}, wantErr: true, wantStderr: `unexpected argument "start"`},
		{name: "local-service unknown flag", args: []string{"local-service", "-x"}, wantErr: true,
			wantStderr: "flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Cancelled, so that a server started by mistake stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := Run(ctx, Env{Args: tt.args, Dir: appDir(t, nil), Stdout: &stdout, Stderr: &stderr, Addr: "127.0.0.1:0",
				Listening: func(name, addr string) { t.Errorf("Run started %s on %s, want no server", name, addr) }}, nil)
			usage, other := &stdout, &stderr
			if tt.wantErr {
				usage, other = &stderr, &stdout
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("Run(%q) = %v, want ErrUsage", tt.args, err)
				}
				if !strings.HasPrefix(stderr.String(), tt.wantStderr+"\n") {
					t.Errorf("stderr starts %.80q, want the mistake %q first", stderr.String(), tt.wantStderr)
				}
			} else if err != nil {
				t.Fatalf("Run(%q) = %v, want nil", tt.args, err)
			}
			for _, m := range mentions {
				if !strings.Contains(usage.String(), m) {
					t.Errorf("usage does not mention %q:\n%s", m, usage)
				}
			}
			if other.Len() > 0 {
				t.Errorf("the other stream got %q, want nothing", other)
			}
		})
	}
}

func TestUsageNamesTheProgram(t *testing.T) {
	var stdout bytes.Buffer
	if err := Run(context.Background(), Env{Args: []string{"--help"}, Name: "chatapp", Stdout: &stdout, Stderr: &stdout}, nil); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.Contains(got, "chatapp local-service") || strings.Contains(got, "funcsignalr") {
		t.Errorf("usage = %q, want it to name the program chatapp only", got)
	}
}

func TestStandaloneAddr(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		envAddr string
		environ []string
		files   map[string]string
		want    string
	}{
		{name: "default", want: defaultAddr},
		{name: "environment", environ: []string{"FUNCSIGNALR_ADDR=127.0.0.1:9001"}, want: "127.0.0.1:9001"},
		{name: "local.settings.json", files: map[string]string{"local.settings.json": `{"Values":{"FUNCSIGNALR_ADDR":"127.0.0.1:9002"}}`},
			want: "127.0.0.1:9002"},
		{name: ".env", files: map[string]string{".env": "FUNCSIGNALR_ADDR=127.0.0.1:9003\n"}, want: "127.0.0.1:9003"},
		{name: "spelled in another case", files: map[string]string{".env": "FuncSignalR_Addr=127.0.0.1:9005\n"}, want: "127.0.0.1:9005"},
		{name: "local.settings.json over .env", files: map[string]string{
			"local.settings.json": `{"Values":{"FUNCSIGNALR_ADDR":"127.0.0.1:9002"}}`, ".env": "FUNCSIGNALR_ADDR=127.0.0.1:9003\n"},
			want: "127.0.0.1:9002"},
		{name: "environment over files", environ: []string{"FUNCSIGNALR_ADDR=127.0.0.1:9001"},
			files: map[string]string{".env": "FUNCSIGNALR_ADDR=127.0.0.1:9003\n"}, want: "127.0.0.1:9001"},
		{name: "Env.Addr over the setting", envAddr: "127.0.0.1:0", environ: []string{"FUNCSIGNALR_ADDR=127.0.0.1:9001"},
			want: "127.0.0.1:0"},
		{name: "flag over everything", flag: "127.0.0.1:9004", envAddr: "127.0.0.1:0",
			environ: []string{"FUNCSIGNALR_ADDR=127.0.0.1:9001"}, want: "127.0.0.1:9004"},
		{name: "unreadable local.settings.json is skipped", files: map[string]string{"local.settings.json": "{"},
			want: defaultAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sources, _ := settings.ReadSources(tt.environ, dir, true) // the unreadable file is skipped
			values := settings.NewValues(slog.New(slog.DiscardHandler), sources...)
			got := standaloneAddr(Env{Addr: tt.envAddr, Environ: tt.environ, Dir: dir}, command{addr: tt.flag}, values)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestAddrFlag starts the handler with -addr: it listens there, and an
// address beyond loopback logs the warning that send has no function key.
func TestAddrFlag(t *testing.T) {
	const warning = "the standalone handler listens beyond loopback"
	tests := []struct {
		addr       string
		wantPrefix string
		wantWarn   bool
	}{
		{"127.0.0.2:0", "127.0.0.2:", false}, // any loopback address: not the default Env.Addr of start
		{"localhost:0", "127.0.0.1:", false},
		{"0.0.0.0:0", "", true}, // 0.0.0.0 or [::], as the system binds it
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			r := start(t, appDir(t, nil), 2, nil, "-addr", tt.addr)
			if got := r.addrs["handler"]; !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("handler listens on %s, want %s…", got, tt.wantPrefix)
			}
			eventually(t, func() bool { return strings.Contains(r.stdout.String(), "funcsignalr listening") })
			if got := strings.Contains(r.stdout.String(), warning); got != tt.wantWarn {
				t.Errorf("warning %q logged: got %v, want %v\n%s", warning, got, tt.wantWarn, r.stdout)
			}
		})
	}
}
