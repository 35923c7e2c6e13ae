package functions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/app"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/settings"
)

// SignalR describes a SignalR binding, as the official bindings' attributes
// do ([SignalR], [SignalRConnectionInfo], [SignalRTrigger]): which
// connection and which hub. The zero value is the default connection and
// hub.
type SignalR struct {
	// ConnectionStringSetting names the app setting that holds the
	// connection: a connection string, or <setting>__serviceUri with
	// Microsoft Entra ID. Default AzureSignalRConnectionString, which the
	// embedded local service serves when nothing is configured.
	ConnectionStringSetting string
	// HubName is the hub; default the AzureSignalRHubName setting, else
	// "default". The service compares hub names in lower case.
	HubName string
	// AccessTokenLifetime is how long client tokens from Negotiate stay
	// valid, from 1 minute to 24 hours; default the
	// AzureSignalRAccessTokenLifetime setting, else 1 hour.
	AccessTokenLifetime time.Duration
	// ClaimTypes are the claim types of x-ms-client-principal (set by App
	// Service Authentication) that NegotiateHandler copies into client
	// tokens, like the official claimTypeList; default the
	// AzureSignalRClaimTypes setting.
	ClaimTypes []string
}

// Hub is a SignalR binding of an App: Negotiate gives clients their
// connection info (the signalRConnectionInfo input binding), Send sends
// messages and group actions (the signalR output binding). Declare it with
// App.Hub before Run; it is resolved once at start-up and safe for
// concurrent use from any function.
type Hub struct {
	app     *App
	binding SignalR

	mu       sync.RWMutex
	resolved bool
	rb       app.ResolvedBinding
}

// Hub declares a SignalR binding. Hubs with the same setting and hub name
// share one client; a binding whose setting is invalid answers
// ConfigurationError wherever it is used while the others keep working.
func (a *App) Hub(b SignalR) *Hub {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running {
		panic("functions: Hub declared after Run")
	}
	if b.AccessTokenLifetime != 0 {
		if err := settings.CheckAccessTokenLifetime(b.AccessTokenLifetime); err != nil {
			panic("functions: AccessTokenLifetime: " + err.Error())
		}
	}
	h := &Hub{app: a, binding: b}
	a.hubs = append(a.hubs, h)
	return h
}

func (h *Hub) setResolved(rb app.ResolvedBinding) {
	h.mu.Lock()
	h.resolved, h.rb = true, rb
	h.mu.Unlock()
	if h.app.hasTriggers(h) && rb.Connection != nil && len(rb.Connection.AccessKeys()) == 0 {
		h.app.Logger().Info("SignalR upstream requests for this hub carry no signature to check (its connection uses "+
			"Microsoft Entra ID, which has no access key): the signalr function's key alone protects the endpoint",
			"hub", rb.Hub, "setting", rb.Connection.Setting)
	}
}

// client returns the resolved client, or the *Error every use answers.
func (h *Hub) client() (*bindings.Client, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.resolved {
		return nil, apierror.New(apierror.ConfigurationError, "the SignalR binding is used before App.Run resolved it")
	}
	if err := h.rb.Err; err != nil {
		return nil, configurationError(err)
	}
	return h.rb.Client, nil
}

// configurationError is err, a failure to resolve the binding's settings,
// as every use of the binding answers it: an *Error as it is (settings
// errors are, naming the key), any other error as a ConfigurationError
// with its text (the wiring's errors hold no secret).
func configurationError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return apierror.Wrap(apierror.ConfigurationError, err, "%s", err.Error())
}

// Name is the hub's name as on the wire (lower case); "" before Run.
func (h *Hub) Name() string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rb.Hub
}

// accessKeys are the keys that sign upstream requests for this hub's
// connection: every endpoint's; none when an endpoint uses Microsoft Entra
// ID.
func (h *Hub) accessKeys() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.rb.Connection == nil {
		return nil
	}
	return h.rb.Connection.AccessKeys()
}

// ConnectionInfo is what a SignalR client needs to connect: the service URL
// for the hub and an access token. Serialised, it is negotiate's answer,
// which SignalR clients also follow as a redirect.
type ConnectionInfo = bindings.ConnectionInfo

// Error is funcsignalr's one error type, returned by Negotiate and Send
// and answered by WriteError: Code is one of the Code constants below and
// Message never holds a secret.
type Error = apierror.Error

// Negotiate returns the connection info for a client: an access token for
// userID ("" for none) with extra claims (several values of one type become
// a JSON array), signed for the hub's service.
func (h *Hub) Negotiate(ctx context.Context, userID string, claims map[string][]string) (ConnectionInfo, error) {
	c, err := h.client()
	if err != nil {
		return ConnectionInfo{}, err
	}
	h.mu.RLock()
	nerr := h.rb.NegotiateErr
	h.mu.RUnlock()
	if nerr != nil {
		return ConnectionInfo{}, configurationError(nerr)
	}
	return c.Negotiate(ctx, userID, claims)
}

// Action is a Message or a GroupAction: what Send carries out.
type Action interface {
	operation() (bindings.Operation, error)
}

// Message is a SignalR message (the official SignalRMessage): Target is the
// client method, Arguments its arguments (each marshalled as JSON). It goes
// to ConnectionID if set, else UserID, else GroupName, else everyone.
type Message struct {
	Target       string
	Arguments    []any
	UserID       string
	GroupName    string
	ConnectionID string
}

func (m Message) operation() (bindings.Operation, error) {
	args := make([]json.RawMessage, len(m.Arguments))
	for i, a := range m.Arguments {
		raw, err := json.Marshal(a)
		if err != nil {
			return bindings.Operation{}, apierror.New(apierror.InvalidMessage, "argument %d of %q cannot be sent as JSON: %v", i, m.Target, err)
		}
		args[i] = raw
	}
	return bindings.Operation{Message: &bindings.Message{Target: m.Target, Arguments: args,
		UserID: m.UserID, GroupName: m.GroupName, ConnectionID: m.ConnectionID}}, nil
}

// GroupActionKind is what a GroupAction does.
type GroupActionKind string

// The group actions of the official SignalRGroupAction.
const (
	// AddToGroup adds the connection, or the user (all its connections,
	// including later ones), to the group.
	AddToGroup GroupActionKind = bindings.ActionAdd
	// RemoveFromGroup removes the connection or the user from the group.
	RemoveFromGroup GroupActionKind = bindings.ActionRemove
	// RemoveFromAllGroups removes the user (or the connection) from every
	// group; GroupName is not used.
	RemoveFromAllGroups GroupActionKind = bindings.ActionRemoveAll
)

// GroupAction adds or removes a connection or a user to or from a group
// (the official SignalRGroupAction). ConnectionID wins over UserID.
type GroupAction struct {
	Action       GroupActionKind
	GroupName    string
	UserID       string
	ConnectionID string
}

func (g GroupAction) operation() (bindings.Operation, error) {
	return bindings.Operation{GroupAction: &bindings.GroupAction{Action: string(g.Action),
		GroupName: g.GroupName, UserID: g.UserID, ConnectionID: g.ConnectionID}}, nil
}

// Send carries out actions in order through the service's REST API and
// returns how many were carried out. Every action is checked first (an
// invalid one is an *Error with code InvalidMessage and nothing is sent);
// on a service failure Send stops and returns the count so far with the
// error.
func (h *Hub) Send(ctx context.Context, actions ...Action) (int, error) {
	ops := make([]bindings.Operation, len(actions))
	for i, a := range actions {
		if a == nil {
			return 0, apierror.New(apierror.InvalidMessage, "action %d is nil", i)
		}
		op, err := a.operation()
		if err != nil {
			return 0, err
		}
		ops[i] = op
	}
	c, err := h.client()
	if err != nil {
		return 0, err
	}
	return c.Send(ctx, ops)
}

// hubBinding adapts a Hub to the handler's negotiate and send functions.
type hubBinding struct{ h *Hub }

func (b hubBinding) Negotiate(ctx context.Context, userID string, claims map[string][]string) (bindings.ConnectionInfo, error) {
	return b.h.Negotiate(ctx, userID, claims)
}

// ClaimTypes are the binding's claim types, else the AzureSignalRClaimTypes
// setting.
func (b hubBinding) ClaimTypes() []string {
	if b.h.binding.ClaimTypes != nil {
		return b.h.binding.ClaimTypes
	}
	b.h.mu.RLock()
	defer b.h.mu.RUnlock()
	return b.h.rb.ClaimTypes
}

func (b hubBinding) Send(ctx context.Context, ops []bindings.Operation) (int, error) {
	c, err := b.h.client()
	if err != nil {
		return 0, err
	}
	return c.Send(ctx, ops)
}

// PrincipalIDHeader is the header that App Service Authentication sets to
// the signed-in user's id (and strips from callers' requests).
const PrincipalIDHeader = "x-ms-client-principal-id"

// The error codes of funcsignalr's JSON errors, {"error":{"code","message"}},
// for *Error values that functions answer with WriteError.
const (
	CodeInvalidJSON               = apierror.InvalidJSON               // 400: the body is not the JSON expected
	CodeInvalidMessage            = apierror.InvalidMessage            // 400: a value is missing or invalid
	CodeUnauthorized              = apierror.Unauthorized              // 401: an upstream request's signature is missing or wrong
	CodeNotFound                  = apierror.NotFound                  // 404
	CodeMethodNotAllowed          = apierror.MethodNotAllowed          // 405
	CodePayloadTooLarge           = apierror.PayloadTooLarge           // 413
	CodeUnsupportedMediaType      = apierror.UnsupportedMediaType      // 415
	CodeInternalError             = apierror.InternalError             // 500
	CodeConfigurationError        = apierror.ConfigurationError        // 500: a SignalR setting is missing or invalid
	CodeServiceError              = apierror.ServiceError              // 502: the SignalR service failed or was unreachable
	CodeAuthenticationUnavailable = apierror.AuthenticationUnavailable // 503: Microsoft Entra ID failed
	CodeServiceTimeout            = apierror.ServiceTimeout            // 504: the SignalR service did not answer in time
)

// WriteError answers err in funcsignalr's JSON error shape,
// {"error":{"code","message"}}, with the HTTP status of its code: an *Error
// from Send or Negotiate as it is, or one of your own
// (&functions.Error{Code: functions.CodeInvalidMessage, Message: "…"}).
// Any other error is answered 500 InternalError without its text, which
// may hold details not meant for callers.
func WriteError(w http.ResponseWriter, err error) { handler.Respond(w, err) }

// DefaultUserID is negotiate's default user id: the header that App Service
// Authentication sets (and strips from callers), as in the official binding.
const DefaultUserID = handler.DefaultUserID

// NegotiateHandler is a ready-made negotiate function for this hub (GET or
// POST): it answers {"url","accessToken"} as the official
// signalRConnectionInfo binding does. userID is a binding expression like
// the official userId property, with {headers.NAME} and {query.NAME}
// placeholders; "" is DefaultUserID. It panics on an invalid expression.
func (h *Hub) NegotiateHandler(userID string) http.Handler {
	nh, err := handler.NegotiateHandler(handler.Config{Negotiator: hubBinding{h}, UserID: userID, Logger: h.app.Logger()})
	if err != nil {
		panic("functions: " + strings.TrimPrefix(err.Error(), "negotiate "))
	}
	return nh
}

// SendHandler is a ready-made send function for this hub (POST): the body
// is one message or group action, or an array of them, in the JSON shape of
// the official signalR output binding; it answers 202 {"sent":N}.
func (h *Hub) SendHandler() http.Handler {
	return handler.SendHandler(handler.Config{Sender: hubBinding{h}, Logger: h.app.Logger()})
}
