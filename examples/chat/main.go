// Command chat is the serverless bidirectional chat of the Azure SignalR
// Service samples, written in Go with funcsignalr: a page, negotiate, hub
// methods that clients invoke (SignalR trigger functions reached through
// the upstream function signalr), an HTTP function that posts messages and
// a timer that broadcasts the time.
//
// Run it offline with `go run .` and open http://127.0.0.1:7071/api/index:
// with no AzureSignalRConnectionString, an embedded local SignalR service
// stands in for Azure SignalR Service and sends client events to this app.
// Deployed as a custom handler, the same code uses the real service.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
)

func main() {
	newApp(time.Now).Main()
}

// The page and its scripts are compiled in, so the binary alone serves them.
//
//go:embed index/index.html static/chat.js static/signalr.min.js
var content embed.FS

// newApp registers the chat's functions; now is the ticker's clock.
func newApp(now func() time.Time) *functions.App {
	app := functions.New()
	chat := app.Hub(functions.SignalR{HubName: "chat"})

	// HTTP functions: each has a folder with its function.json.
	app.HTTP("index", fileHandler("index/index.html"))
	app.HTTP("static", staticHandler())
	// The user id is the x-ms-client-principal-id header: App Service
	// Authentication sets it in Azure; run locally, the page sends the name
	// typed in its name box.
	app.HTTP("negotiate", chat.NegotiateHandler(functions.DefaultUserID))
	app.HTTP("messages", messagesHandler(chat))

	// The timer function: folder ticker, schedule "*/5 * * * * *".
	app.Timer("ticker", func(ctx context.Context, _ functions.TimerInfo) error {
		_, err := chat.Send(ctx, functions.Message{Target: "tick",
			Arguments: []any{tick{Time: now().UTC().Format(time.RFC3339)}}})
		return err
	})

	// SignalR trigger functions: no folder of their own, the service posts
	// their events to the upstream function signalr.
	app.SignalRTrigger("connected", chat, functions.Connections, functions.Connected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			if inv.UserID == "" {
				return nil, errors.New("a connection needs a user id: negotiate with the x-ms-client-principal-id header")
			}
			return nil, send(ctx, chat, functions.Message{Target: "newConnection",
				Arguments: []any{connection{ConnectionID: inv.ConnectionID, UserID: inv.UserID}}})
		})
	app.SignalRTrigger("disconnected", chat, functions.Connections, functions.Disconnected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			return nil, send(ctx, chat, functions.Message{Target: "connectionClosed",
				Arguments: []any{connection{ConnectionID: inv.ConnectionID, UserID: inv.UserID}}})
		})

	method := func(name string, fn functions.SignalRFunc) {
		app.SignalRTrigger(name, chat, functions.Messages, name, fn)
	}
	method("broadcast", func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
		var text string
		if err := bind(inv, arg{"text", &text}); err != nil {
			return nil, err
		}
		return nil, send(ctx, chat, newMessage(inv, text))
	})
	// sendTo makes a method that sends the caller's text to the one user,
	// group or connection that its first argument, param, names.
	sendTo := func(param string, address func(m *functions.Message, to string)) functions.SignalRFunc {
		return func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var to, text string
			if err := bind(inv, arg{param, &to}, arg{"text", &text}); err != nil {
				return nil, err
			}
			m := newMessage(inv, text)
			address(&m, to)
			return nil, send(ctx, chat, m)
		}
	}
	method("sendToUser", sendTo("userId", func(m *functions.Message, to string) { m.UserID = to }))
	method("sendToGroup", sendTo("group", func(m *functions.Message, to string) { m.GroupName = to }))
	method("sendToConnection", sendTo("connectionId", func(m *functions.Message, to string) { m.ConnectionID = to }))

	// connectionToGroup makes a method that adds the caller's connection to
	// the group its argument names, or removes it.
	connectionToGroup := func(action functions.GroupActionKind) functions.SignalRFunc {
		return func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var group string
			if err := bind(inv, arg{"group", &group}); err != nil {
				return nil, err
			}
			return nil, send(ctx, chat, functions.GroupAction{Action: action, GroupName: group, ConnectionID: inv.ConnectionID})
		}
	}
	method("joinGroup", connectionToGroup(functions.AddToGroup))
	method("leaveGroup", connectionToGroup(functions.RemoveFromGroup))

	// userToGroup makes a method that adds the user its first argument
	// names to the group its second names, or removes them.
	userToGroup := func(action functions.GroupActionKind) functions.SignalRFunc {
		return func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var userID, group string
			if err := bind(inv, arg{"userId", &userID}, arg{"group", &group}); err != nil {
				return nil, err
			}
			return nil, send(ctx, chat, functions.GroupAction{Action: action, GroupName: group, UserID: userID})
		}
	}
	method("joinUserToGroup", userToGroup(functions.AddToGroup))
	method("leaveUserFromGroup", userToGroup(functions.RemoveFromGroup))
	method("whoami", func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
		if err := bind(inv); err != nil {
			return nil, err
		}
		return connection{ConnectionID: inv.ConnectionID, UserID: inv.UserID}, nil
	})
	return app
}

// chatMessage is newMessage's argument: who said what.
type chatMessage struct {
	Sender       string `json:"sender"`       // the sender's user id
	ConnectionID string `json:"connectionId"` // the sender's connection; "" when posted to messages
	Text         string `json:"text"`
}

// connection is newConnection's and connectionClosed's argument, and
// whoami's result.
type connection struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId"`
}

// tick is the ticker's message: the time in RFC 3339, UTC.
type tick struct {
	Time string `json:"time"`
}

// newMessage is the caller's text as a newMessage to everyone; set UserID,
// GroupName or ConnectionID to send it to fewer.
func newMessage(inv *functions.InvocationContext, text string) functions.Message {
	return functions.Message{Target: "newMessage",
		Arguments: []any{chatMessage{Sender: inv.UserID, ConnectionID: inv.ConnectionID, Text: text}}}
}

// send carries out one message or group action. Its error (an invalid
// group name, the service unreachable) becomes the client's invocation
// error.
func send(ctx context.Context, chat *functions.Hub, a functions.Action) error {
	_, err := chat.Send(ctx, a)
	return err
}

// arg is a hub method's string argument, named for error messages.
type arg struct {
	name  string
	value *string
}

// bind reads the invocation's arguments, all strings, and refuses a call
// with other arguments, or an empty one, with an error that says what the
// method expects: `sendToUser expects 2 arguments (userId string, text
// string), got 1`.
func bind(inv *functions.InvocationContext, args ...arg) error {
	targets := make([]any, len(args))
	for i, a := range args {
		targets[i] = functions.Named(a.name, a.value)
	}
	if err := inv.Bind(targets...); err != nil {
		return err
	}
	for _, a := range args {
		if strings.TrimSpace(*a.value) == "" {
			return fmt.Errorf("%s: %s is empty", inv.Event, a.name)
		}
	}
	return nil
}

// maxMessageBody bounds a messages request: Azure SignalR Service carries
// messages of at most 1 MiB.
const maxMessageBody = 1 << 20

// messagesHandler is the messages function: POST {"text":"…"} sends a
// newMessage from the caller (the x-ms-client-principal-id header, else
// "anonymous") to everyone and answers 202 {"sent":1}.
func messagesHandler(chat *functions.Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A JSON body is required: a cross-site form or simple fetch cannot
		// declare one without the browser asking this origin first (CORS).
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			functions.WriteError(w, &functions.Error{Code: functions.CodeUnsupportedMediaType, Message: `the body must be JSON {"text":"…"} with Content-Type: application/json`})
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessageBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				functions.WriteError(w, &functions.Error{Code: functions.CodePayloadTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxMessageBody)})
				return
			}
			functions.WriteError(w, &functions.Error{Code: functions.CodeInvalidJSON, Message: "could not read the body"})
			return
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil || body == nil {
			functions.WriteError(w, &functions.Error{Code: functions.CodeInvalidJSON, Message: `the body is not a JSON object; want {"text":"…"}`})
			return
		}
		var text string
		if t, ok := body["text"]; !ok || json.Unmarshal(t, &text) != nil || strings.TrimSpace(text) == "" {
			functions.WriteError(w, &functions.Error{Code: functions.CodeInvalidMessage, Message: `"text" must be a non-empty string`})
			return
		}
		sender := r.Header.Get(functions.PrincipalIDHeader)
		if sender == "" {
			sender = "anonymous"
		}
		sent, err := chat.Send(r.Context(), functions.Message{Target: "newMessage",
			Arguments: []any{chatMessage{Sender: sender, Text: text}}})
		if err != nil {
			functions.WriteError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"sent": sent})
	})
}

// fileHandler serves one embedded file.
func fileHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, name)
	})
}

// staticFiles are the files the static function serves, by the last
// segment of its route static/{file}. Only these names are served: a
// request path never reaches the file system.
var staticFiles = map[string]string{
	"chat.js":        "static/chat.js",
	"signalr.min.js": "static/signalr.min.js", // @microsoft/signalr 10.0.11, dist/browser (MIT licence)
}

// staticHandler is the static function: the page's scripts.
func staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := staticFiles[path.Base(r.URL.Path)]
		if !ok {
			functions.WriteError(w, &functions.Error{Code: functions.CodeNotFound, Message: "no such file; the static files are chat.js and signalr.min.js"})
			return
		}
		serveFile(w, name)
	})
}

// contentSecurityPolicy lets the page run only its own scripts (never one
// hidden in a chat message) and connect to the SignalR service, which is
// another origin: the embedded local service's port, or
// <name>.service.signalr.net.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' http: https: ws: wss:; " +
	"style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func serveFile(w http.ResponseWriter, name string) {
	raw, err := content.ReadFile(name)
	if err != nil { // the names are fixed in this file; a missing one is a build mistake
		functions.WriteError(w, &functions.Error{Code: functions.CodeInternalError, Message: "the page is missing from this build"})
		return
	}
	ct := "text/html; charset=utf-8"
	if path.Ext(name) == ".js" {
		ct = "text/javascript; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, _ := json.Marshal(v) // plain structs and maps of strings and ints
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(raw)
}
