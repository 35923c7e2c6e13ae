// Package functions is how you write your own Azure Functions in Go with the
// Azure SignalR Service bindings: HTTP functions, timer functions, SignalR
// trigger functions and functions of any other trigger, in one custom
// handler that runs under the Functions host (`func start`, Azure) or on its
// own (`go run .`) with an embedded local SignalR service.
//
// A program builds an App, declares its SignalR bindings with App.Hub,
// registers its functions by function-folder name and runs it:
//
//	app := functions.New()
//	chat := app.Hub(functions.SignalR{HubName: "chat"})
//	app.HTTP("negotiate", chat.NegotiateHandler(""))
//	app.Timer("ticker", func(ctx context.Context, t functions.TimerInfo) error {
//		_, err := chat.Send(ctx, functions.Message{Target: "tick", Arguments: []any{time.Now().UTC()}})
//		return err
//	})
//	app.Main()
//
// Every HTTP, timer and generic function has a folder <name>/function.json
// beside host.json, as the Functions host requires; SignalR trigger
// functions have none: the service posts their events to the app's
// upstream function, the folder signalr/. Start-up compares folders and code
// and reports every mismatch at once.
package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/funcsignalr/funcsignalr/internal/timer"
)

// App is a function app: the functions registered by name and the SignalR
// bindings they use. Register everything before Run; registering the same
// name twice panics, as http.ServeMux does for a pattern.
type App struct {
	mu       sync.Mutex
	kinds    map[string]kind // by lower-cased name
	names    []string        // registration order, as written
	http     map[string]http.Handler
	timers   map[string]TimerFunc
	generic  map[string]GenericFunc
	triggers []*trigger
	hubs     []*Hub
	running  bool
	log      atomic.Pointer[slog.Logger] // set by Run

	clock     timer.Clock               // standalone timers' clock; nil is the wall clock
	schedules map[string]timer.Schedule // timer folders' schedules by folder name, parsed by check
}

// kind is what a registration needs of its function folder.
type kind int

const (
	kindHTTP kind = iota
	kindTimer
	kindGeneric
	kindSignalR
)

func (k kind) String() string {
	return [...]string{"HTTP", "timer", "generic", "SignalR trigger"}[k]
}

// New returns an empty App.
func New() *App {
	return &App{
		kinds:   map[string]kind{},
		http:    map[string]http.Handler{},
		timers:  map[string]TimerFunc{},
		generic: map[string]GenericFunc{},
	}
}

// validName is what the Functions host accepts as a function name.
var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)

func (a *App) register(name string, k kind) {
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("functions: invalid function name %q: a letter, then letters, digits, _ or - (at most 128)", name))
	}
	if a.running {
		panic("functions: " + name + " registered after Run")
	}
	if prev, ok := a.kinds[strings.ToLower(name)]; ok {
		panic(fmt.Sprintf("functions: %s registered twice (already a %s function; names are case-insensitive)", name, prev))
	}
	a.kinds[strings.ToLower(name)] = k
	a.names = append(a.names, name)
}

// HTTP registers an HTTP-triggered function: folder <name>/ with an
// httpTrigger named req and an http output named res. h serves the original
// request in both of the host's modes (forwarded, or rebuilt from the
// invocation payload), and standalone at the same path.
func (a *App) HTTP(name string, h http.Handler) {
	if h == nil {
		panic("functions: nil handler for " + name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.register(name, kindHTTP)
	a.http[name] = h
}

// TimerFunc is a timer function. A returned error fails the invocation; the
// host logs it (and applies a retry policy if host.json sets one).
type TimerFunc func(ctx context.Context, t TimerInfo) error

// Timer registers a timer-triggered function: folder <name>/ with a
// timerTrigger whose schedule (NCRONTAB with or without seconds, or a
// TimeSpan) and runOnStartup say when it runs. Under the Functions host it
// runs when the host invokes it; standalone (`go run .`) funcsignalr fires
// it on that schedule itself.
func (a *App) Timer(name string, fn TimerFunc) {
	if fn == nil {
		panic("functions: nil timer function for " + name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.register(name, kindTimer)
	a.timers[name] = fn
}

// InvokeRequest is a non-HTTP invocation as the Functions host sends it to
// a custom handler: the trigger's value and other input bindings by binding
// name in Data, trigger metadata in Metadata, both as raw JSON.
type InvokeRequest struct {
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
}

// InvokeResponse is what a generic function hands back to the host: output
// binding values by binding name, log lines for the invocation log, and the
// return value (for a $return binding). Values are marshalled as JSON.
type InvokeResponse struct {
	Outputs     map[string]any
	Logs        []string
	ReturnValue any
}

// GenericFunc is a function of any other trigger (queue, blob, Service Bus,
// …) declared in function.json with an extension bundle: it gets the
// invocation payload raw and returns the outputs. A returned error fails
// the invocation.
type GenericFunc func(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error)

// Generic registers a function of any trigger other than HTTP and timer:
// folder <name>/ whose function.json declares that trigger. It runs only
// under the Functions host, which owns those triggers.
func (a *App) Generic(name string, fn GenericFunc) {
	if fn == nil {
		panic("functions: nil generic function for " + name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.register(name, kindGeneric)
	a.generic[name] = fn
}
