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

// Function is one HTTP-triggered function as declared by its folder's
// function.json: the folder name is the function name.
type Function struct {
	Name      string   // folder name
	Route     string   // httpTrigger route; the function name when omitted
	Methods   []string // upper-case; empty means every method
	AuthLevel string   // anonymous | function | admin (default function)
}

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
		Type      string   `json:"type"`
		Direction string   `json:"direction"`
		Name      string   `json:"name"`
		AuthLevel string   `json:"authLevel"`
		Methods   []string `json:"methods"`
		Route     *string  `json:"route"`
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
	fn := Function{Name: name, Route: name, AuthLevel: "function"}
	var trigger, output bool
	for _, b := range f.Bindings {
		switch {
		case strings.EqualFold(b.Type, "httpTrigger") && strings.EqualFold(b.Direction, "in"):
			if b.Name != "req" {
				return Function{}, fmt.Errorf("%s/function.json: the httpTrigger binding is named %q, want \"req\"", name, b.Name)
			}
			trigger = true
			if b.Route != nil && strings.Trim(*b.Route, "/") != "" {
				fn.Route = strings.Trim(*b.Route, "/")
			}
			if b.AuthLevel != "" {
				fn.AuthLevel = strings.ToLower(b.AuthLevel)
			}
			for _, m := range b.Methods {
				fn.Methods = append(fn.Methods, strings.ToUpper(m))
			}
		case strings.EqualFold(b.Type, "http") && strings.EqualFold(b.Direction, "out"):
			if b.Name != "res" {
				return Function{}, fmt.Errorf("%s/function.json: the http output binding is named %q, want \"res\"", name, b.Name)
			}
			output = true
		}
	}
	if !trigger || !output {
		return Function{}, fmt.Errorf("%s/function.json: want an httpTrigger named req and an http output named res", name)
	}
	switch fn.AuthLevel {
	case "anonymous", "function", "admin":
	default:
		return Function{}, fmt.Errorf("%s/function.json: unknown authLevel %q", name, fn.AuthLevel)
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
