package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// Category is the kind of event a SignalR trigger receives.
type Category string

// The categories of Azure SignalR Service upstream events.
const (
	// Connections events are "connected" and "disconnected".
	Connections Category = "connections"
	// Messages events are client invocations; the event is the hub method
	// the client invoked (connection.invoke("broadcast", …) → "broadcast").
	Messages Category = "messages"
)

// The events of the Connections category.
const (
	Connected    = "connected"
	Disconnected = "disconnected"
)

// Claim is one claim of the client's access token, as the service forwards
// it.
type Claim struct {
	Type  string
	Value string
}

// InvocationContext is one event from a SignalR client (the official
// SignalRInvocationContext): who sent it and what.
type InvocationContext struct {
	Hub          string      // the hub, as the service names it
	Category     Category    // Connections or Messages
	Event        string      // "connected", "disconnected", or the invoked hub method
	ConnectionID string      // the client's connection
	UserID       string      // the user id of the client's token; "" for none
	Claims       []Claim     // the other claims of the client's token, in order
	Query        url.Values  // the query string of the client's connect request
	Headers      http.Header // the upstream request's headers

	// Arguments are the invocation's arguments as raw JSON (MessagePack
	// clients' arguments converted to JSON); see Bind.
	Arguments []json.RawMessage
	// InvocationID is set when the client waits for a result
	// (connection.invoke); "" for connection.send and connection events.
	InvocationID string
	// Error is the reason a connection closed, for "disconnected"; "" when
	// it closed cleanly.
	Error string
}

// Claim returns the value of the first claim of type typ, or "".
func (c *InvocationContext) Claim(typ string) string {
	for _, cl := range c.Claims {
		if cl.Type == typ {
			return cl.Value
		}
	}
	return ""
}

// Bind unmarshals the invocation's arguments into targets, one pointer per
// argument, and checks their count and JSON types: a client that calls
// with other arguments gets an error saying what was expected, e.g.
// `sendToUser expects 2 arguments (userId string, text string), got 1`.
// Name an argument with a Named target.
func (c *InvocationContext) Bind(targets ...any) error {
	if len(c.Arguments) != len(targets) {
		return fmt.Errorf("%s expects %s, got %d", c.Event, describeArgs(targets), len(c.Arguments))
	}
	for i, t := range targets {
		name, ptr := argName(t, i)
		raw := bytes.TrimSpace(c.Arguments[i])
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(ptr); err != nil || (bytes.Equal(raw, []byte("null")) && !nullable(ptr)) {
			return fmt.Errorf("%s expects %s: %s is not %s", c.Event, describeArgs(targets), name, typeName(ptr))
		}
	}
	return nil
}

// Named names a Bind target in error messages: Bind(Named("text", &text)).
func Named(name string, ptr any) any { return namedArg{name, ptr} }

type namedArg struct {
	name string
	ptr  any
}

func argName(t any, i int) (string, any) {
	if n, ok := t.(namedArg); ok {
		return n.name, n.ptr
	}
	return fmt.Sprintf("argument %d", i+1), t
}

func describeArgs(targets []any) string {
	parts := make([]string, len(targets))
	for i, t := range targets {
		name, ptr := argName(t, i)
		if _, ok := t.(namedArg); ok {
			parts[i] = name + " " + typeName(ptr)
		} else {
			parts[i] = typeName(ptr)
		}
	}
	word := "arguments"
	if len(targets) == 1 {
		word = "argument"
	}
	if len(targets) == 0 {
		return "no arguments"
	}
	return fmt.Sprintf("%d %s (%s)", len(targets), word, strings.Join(parts, ", "))
}

// typeName is the JSON-ish name of what ptr points to.
func typeName(ptr any) string {
	t := reflect.TypeOf(ptr)
	if t == nil || t.Kind() != reflect.Pointer {
		return "a value"
	}
	switch e := t.Elem(); e.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Interface:
		return "any"
	default:
		return e.String()
	}
}

// nullable reports whether JSON null is a meaningful value for ptr's target
// (pointers, interfaces, slices and maps); for the others encoding/json
// would silently leave the zero value.
func nullable(ptr any) bool {
	t := reflect.TypeOf(ptr)
	if t == nil || t.Kind() != reflect.Pointer {
		return true
	}
	switch t.Elem().Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return false
}

// SignalRFunc is a SignalR trigger function. For an invocation the client
// waits on (connection.invoke), the result (marshalled as JSON) resolves
// the client's promise and an error rejects it with the error's text. For
// "connected", an error rejects the client's connection.
type SignalRFunc func(ctx context.Context, inv *InvocationContext) (any, error)

// trigger is one SignalR trigger registration.
type trigger struct {
	name     string
	hub      *Hub
	category Category
	event    string
	fn       SignalRFunc
}

// UpstreamFunction is the name of the HTTP function (and function folder)
// that receives Azure SignalR Service's upstream requests: with route
// signalr/{*rest}, the portal's upstream URL is
// https://<app>.azurewebsites.net/api/signalr?code=<function key>.
const UpstreamFunction = "signalr"

// SignalRTrigger registers a SignalR trigger function: fn runs for event of
// category on hub's hub (matched in any letter case), when a client
// connects or disconnects (Connections, Connected or Disconnected) or
// invokes a hub method (Messages, the method's name). name is the
// function's name in logs; it needs no folder. A second trigger for the
// same hub, category and event panics, or, when a hub name comes from the
// AzureSignalRHubName setting, makes Run fail. The app must have the
// folder signalr/ (UpstreamFunction), to which the service posts events.
func (a *App) SignalRTrigger(name string, hub *Hub, category Category, event string, fn SignalRFunc) {
	if fn == nil || hub == nil {
		panic("functions: nil hub or function for SignalR trigger " + name)
	}
	switch category {
	case Connections:
		if !strings.EqualFold(event, Connected) && !strings.EqualFold(event, Disconnected) {
			panic(fmt.Sprintf("functions: SignalR trigger %s: the connections category has the events connected and disconnected, not %q", name, event))
		}
	case Messages:
		if event == "" {
			panic("functions: SignalR trigger " + name + ": empty event (the hub method's name)")
		}
	default:
		panic(fmt.Sprintf("functions: SignalR trigger %s: unknown category %q (use Connections or Messages)", name, category))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Upstream requests are dispatched on hub, category and event alone, in
	// any letter case. A hub named by AzureSignalRHubName ("") is compared
	// again by name once the settings are read, at Run.
	for _, t := range a.triggers {
		if strings.EqualFold(t.hub.binding.HubName, hub.binding.HubName) && t.category == category && strings.EqualFold(t.event, event) {
			panic(fmt.Sprintf("functions: SignalR trigger %s: %s/%s on this hub is already handled by %s", name, category, event, t.name))
		}
	}
	a.register(name, kindSignalR)
	a.triggers = append(a.triggers, &trigger{name: name, hub: hub, category: category, event: event, fn: fn})
}

// hasTriggers reports whether any SignalR trigger uses h.
func (a *App) hasTriggers(h *Hub) bool {
	for _, t := range a.triggers {
		if t.hub == h {
			return true
		}
	}
	return false
}
