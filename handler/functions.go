package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Trigger types of function.json that this handler tells apart; any other
// trigger type is served as a generic payload function.
const (
	TriggerHTTP  = "httptrigger"
	TriggerTimer = "timertrigger"
)

// officialSignalRBindings are the binding types of the official SignalR
// extension (Microsoft.Azure.WebJobs.Extensions.SignalRService). A custom
// handler only gets them through an extension bundle, where the host runs
// them itself; funcsignalr declares them in Go instead.
var officialSignalRBindings = []string{"signalRConnectionInfo", "signalR", "signalRTrigger"}

// Function is one function as declared by its folder's function.json: the
// folder name is the function name.
type Function struct {
	Name        string // folder name
	Trigger     string // the trigger binding's type, lower-cased (TriggerHTTP, TriggerTimer, …)
	TriggerName string // the trigger binding's name: the key of its value in a payload's Data

	// httpTrigger
	Route     string   // route; the function name when omitted
	Methods   []string // upper-case; empty means every method
	AuthLevel string   // anonymous | function | admin (default function)

	// timerTrigger
	Schedule     string // NCRONTAB expression or TimeSpan
	RunOnStartup bool
	UseMonitor   *bool // nil when function.json leaves it out

	// Official lists the official SignalR extension's binding types that the
	// folder declares: signalRConnectionInfo, signalR or signalRTrigger.
	Official []string
}

// IsHTTP reports whether fn has an httpTrigger.
func (fn Function) IsHTTP() bool { return fn.Trigger == TriggerHTTP }

// App is what the Functions host reads from the app root: host.json and the
// function folders.
type App struct {
	RoutePrefix       string     // extensions.http.routePrefix, default "api"
	ForwardingEnabled bool       // customHandler.enableForwardingHttpRequest
	ExecutablePath    string     // customHandler.description.defaultExecutablePath
	Functions         []Function // sorted by name
}

// PublicPath is the path callers use for fn (and the path the host
// forwards to): /<routePrefix>/<route>.
func (a App) PublicPath(fn Function) string {
	if a.RoutePrefix == "" {
		return "/" + fn.Route
	}
	return "/" + a.RoutePrefix + "/" + fn.Route
}

// Function returns the function called name.
func (a App) Function(name string) (Function, bool) {
	for _, fn := range a.Functions {
		if strings.EqualFold(fn.Name, name) {
			return fn, true
		}
	}
	return Function{}, false
}

type hostJSON struct {
	Version       string `json:"version"`
	CustomHandler *struct {
		Description *struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
}

type functionJSON struct {
	Bindings []struct {
		Type         string   `json:"type"`
		Direction    string   `json:"direction"`
		Name         string   `json:"name"`
		AuthLevel    string   `json:"authLevel"`
		Methods      []string `json:"methods"`
		Route        *string  `json:"route"`
		Schedule     string   `json:"schedule"`
		RunOnStartup bool     `json:"runOnStartup"`
		UseMonitor   *bool    `json:"useMonitor"`
	} `json:"bindings"`
}

// LoadApp reads host.json and every <name>/function.json under dir, the way
// the Functions host does, and checks what this handler relies on: an
// httpTrigger named req and an http output named res in every function.
func LoadApp(dir string) (App, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "host.json"))
	if err != nil {
		return App{}, fmt.Errorf("read host.json: %w", err)
	}
	var h hostJSON
	if err := json.Unmarshal(raw, &h); err != nil {
		return App{}, fmt.Errorf("parse host.json: %w", err)
	}
	if h.Version != "2.0" {
		return App{}, fmt.Errorf("host.json: version is %q, want \"2.0\"", h.Version)
	}
	app := App{RoutePrefix: "api"}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		app.RoutePrefix = strings.Trim(*p, "/")
	}
	if h.CustomHandler != nil {
		app.ForwardingEnabled = h.CustomHandler.EnableForwardingHTTPRequest
		if h.CustomHandler.Description != nil {
			app.ExecutablePath = h.CustomHandler.Description.DefaultExecutablePath
		}
	}

	matches, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return App{}, err
	}
	sort.Strings(matches)
	for _, path := range matches {
		fn, err := loadFunction(path)
		if err != nil {
			return App{}, err
		}
		app.Functions = append(app.Functions, fn)
	}
	if len(app.Functions) == 0 {
		return App{}, errors.New("no function folders (<name>/function.json) found in " + dir)
	}
	return app, nil
}

func loadFunction(path string) (Function, error) {
	name := filepath.Base(filepath.Dir(path))
	raw, err := os.ReadFile(path)
	if err != nil {
		return Function{}, fmt.Errorf("read %s/function.json: %w", name, err)
	}
	var f functionJSON
	if err := json.Unmarshal(raw, &f); err != nil {
		return Function{}, fmt.Errorf("parse %s/function.json: %w", name, err)
	}
	fn := Function{Name: name}
	var triggers, httpOutputs []string
	for _, b := range f.Bindings {
		for _, official := range officialSignalRBindings {
			if strings.EqualFold(b.Type, official) {
				fn.Official = append(fn.Official, official)
			}
		}
		typ := strings.ToLower(b.Type)
		switch {
		case strings.HasSuffix(typ, "trigger") && typ != "signalrtrigger":
			triggers = append(triggers, b.Type)
			fn.Trigger, fn.TriggerName = typ, b.Name
			switch typ {
			case TriggerHTTP:
				fn.Route, fn.AuthLevel = name, "function"
				if b.Route != nil && strings.Trim(*b.Route, "/") != "" {
					fn.Route = strings.Trim(*b.Route, "/")
				}
				if b.AuthLevel != "" {
					fn.AuthLevel = strings.ToLower(b.AuthLevel)
				}
				for _, m := range b.Methods {
					fn.Methods = append(fn.Methods, strings.ToUpper(m))
				}
			case TriggerTimer:
				fn.Schedule, fn.RunOnStartup, fn.UseMonitor = b.Schedule, b.RunOnStartup, b.UseMonitor
			}
		case typ == "http" && strings.EqualFold(b.Direction, "out"):
			httpOutputs = append(httpOutputs, b.Name)
		}
	}
	if len(fn.Official) > 0 {
		// Reported with the registration check, which explains the Go way.
		return fn, nil
	}
	switch {
	case len(triggers) == 0:
		return Function{}, fmt.Errorf("%s/function.json: no trigger binding (a binding whose type ends in \"Trigger\")", name)
	case len(triggers) > 1:
		return Function{}, fmt.Errorf("%s/function.json: %d trigger bindings (%s); a function has exactly one", name, len(triggers), strings.Join(triggers, ", "))
	}
	switch fn.Trigger {
	case TriggerHTTP:
		if fn.TriggerName != "req" {
			return Function{}, fmt.Errorf("%s/function.json: the httpTrigger binding is named %q, want \"req\"", name, fn.TriggerName)
		}
		if len(httpOutputs) != 1 || httpOutputs[0] != "res" {
			return Function{}, fmt.Errorf("%s/function.json: want an httpTrigger named req and an http output named res", name)
		}
		switch fn.AuthLevel {
		case "anonymous", "function", "admin":
		default:
			return Function{}, fmt.Errorf("%s/function.json: unknown authLevel %q", name, fn.AuthLevel)
		}
	case TriggerTimer:
		if strings.TrimSpace(fn.Schedule) == "" {
			return Function{}, fmt.Errorf("%s/function.json: the timerTrigger has no schedule", name)
		}
	}
	if fn.TriggerName == "" {
		return Function{}, fmt.Errorf("%s/function.json: the %s binding has no name", name, triggers[0])
	}
	return fn, nil
}

// Allows reports whether fn accepts method.
func (fn Function) Allows(method string) bool {
	if len(fn.Methods) == 0 {
		return true
	}
	for _, m := range fn.Methods {
		if m == method {
			return true
		}
	}
	return false
}
