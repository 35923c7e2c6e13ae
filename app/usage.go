package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/funcsignalr/funcsignalr/localservice"
)

// ErrUsage is returned by Run when the command line holds an unknown flag
// or argument, after Run printed the problem and the usage on stderr. A
// command exits with status 2 on it, as programs using the flag package do.
var ErrUsage = errors.New("invalid command line")

// usageText is printed for -h/--help on stdout and after a command-line
// mistake on stderr; %[1]s is the program name.
const usageText = `Usage:
  %[1]s [-addr host:port]
        Serve the function app: standalone (as 'go run .'), or as the custom
        handler of the Azure Functions host when FUNCTIONS_CUSTOMHANDLER_PORT
        is set.
  %[1]s local-service [-addr host:port] [-upstream URL]
        Run only the local SignalR service and print its connection string,
        for 'func start' and apps in other languages.

Flags:
  -addr host:port
        Standalone: where the handler listens (default FUNCSIGNALR_ADDR, else
        127.0.0.1:7071; port 0 picks a free port, logged at start-up). Ignored
        under the Functions host, which gives the port. An address beyond
        loopback lets anyone who reaches it call send, which has
        no function key standalone.
        local-service: where the service listens (default 127.0.0.1:8888).
  -upstream URL
        local-service: where client events go (connected, disconnected and
        invocations), as Azure SignalR Service's upstream setting: e.g.
        http://127.0.0.1:7071/api/signalr; {hub}, {category} and {event} are
        replaced. Without it clients only listen.
  -h, --help
        Print this help.

Settings (environment; standalone, also local.settings.json, then .env):
  AzureSignalRConnectionString   connection string of Azure SignalR Service:
                                 Endpoint=...;AccessKey=... or ;AuthType=azure
  AzureSignalRConnectionString__serviceUri
                                 Microsoft Entra ID instead (with __credential,
                                 __clientId, __tenantId, ...)
                                 Neither set (and not in Azure): the embedded
                                 local SignalR service, no Azure needed.
  AzureSignalRHubName            hub (default "default")
  AzureSignalRHttpClientTimeout  time for one REST call with its retries
                                 (default 00:00:30)
  CORS_ALLOWED_ORIGINS           standalone: origins allowed to call /api,
                                 comma-separated, or *
  FUNCSIGNALR_ADDR               standalone listen address (as -addr)
  FUNCSIGNALR_LOCAL_ADDR         embedded local service address
                                 (default 127.0.0.1:8888; port 0: any free port)
  FUNCSIGNALR_LOG_LEVEL          debug, info (default), warn or error
  FUNCTIONS_CUSTOMHANDLER_PORT   set by the Functions host: listen on
                                 127.0.0.1:PORT
`

// command is what the command line asks for.
type command struct {
	localService bool   // the local-service subcommand
	addr         string // -addr, "" when not given
	upstream     string // local-service -upstream, "" when not given
	help         bool   // -h or --help
}

// parseArgs reads the arguments after the program name. On a mistake it
// returns an error naming it; the caller prints it with the usage.
func parseArgs(args []string) (command, error) {
	var cmd command
	name := ""
	if len(args) > 0 && args[0] == "local-service" {
		cmd.localService, name, args = true, "local-service", args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&cmd.addr, "addr", "", "listen address")
	if cmd.localService {
		fs.StringVar(&cmd.upstream, "upstream", "", "upstream URL template")
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		cmd.help = true
		return cmd, nil
	case err != nil:
		return cmd, err
	}
	if fs.NArg() > 0 {
		return cmd, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cmd.addr != "" {
		if _, _, err := net.SplitHostPort(cmd.addr); err != nil {
			return cmd, fmt.Errorf("invalid value %q for flag -addr: want host:port, e.g. 127.0.0.1:7071", cmd.addr)
		}
	}
	if cmd.upstream != "" {
		if _, err := localservice.ParseUpstream(cmd.upstream); err != nil {
			return cmd, fmt.Errorf("invalid value for flag -upstream: %v", err)
		}
	}
	return cmd, nil
}

// printUsage writes the usage text for program name to w.
func printUsage(w io.Writer, name string) {
	if name == "" {
		name = "funcsignalr"
	}
	fmt.Fprintf(w, usageText, name)
}

// isLoopback reports whether a listener's address is reachable only from
// this machine.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
