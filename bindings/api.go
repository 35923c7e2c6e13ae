package bindings

import (
	"context"
	"encoding/json"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"time"

	"github.com/funcsignalr/funcsignalr/settings"
)

// Error codes of CONTRACT §2.4 that this package produces.
const (
	CodeInvalidJSON               = "InvalidJson"
	CodeInvalidMessage            = "InvalidMessage"
	CodeServiceError              = "ServiceError"
	CodeAuthenticationUnavailable = "AuthenticationUnavailable"
	CodeServiceTimeout            = "ServiceTimeout"
)

// Error is the one error type of this package; Code is a CONTRACT §2.4 code.
// Message never holds a secret.
type Error struct {
	Code    string
	Message string
	Status  int    // ServiceError: the service's HTTP status
	Service string // ServiceError: the service's x-ms-error-code, if any
	Err     error  // wrapped cause (not shown to callers)
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

// ConnectionInfo is what negotiate returns to SignalR clients.
type ConnectionInfo struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// Message is a SignalR message to send (the signalR output binding's SignalRMessage).
type Message struct {
	Target       string            `json:"target"`
	Arguments    []json.RawMessage `json:"arguments"`
	UserID       string            `json:"userId,omitempty"`
	GroupName    string            `json:"groupName,omitempty"`
	ConnectionID string            `json:"connectionId,omitempty"`
}

// GroupAction adds or removes a user or connection to or from a group
// (the signalR output binding's SignalRGroupAction).
type GroupAction struct {
	Action       string `json:"action"` // add | remove | removeAll
	GroupName    string `json:"groupName,omitempty"`
	UserID       string `json:"userId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
}

// Operation is one decoded item of a send body: exactly one of Message or GroupAction is set.
type Operation struct {
	Message     *Message
	GroupAction *GroupAction
}

// Options tunes a Client; the zero value is production behaviour.
type Options struct {
	Transport  policy.Transporter // outbound HTTP (tests plug in httptest clients); default: pooled *http.Client
	Timeout    time.Duration      // overall per REST operation incl. retries; default 30s
	TryTimeout time.Duration      // per try; default min(10s, Timeout)
	RetryDelay time.Duration      // base back-off; default 800ms
	Now        func() time.Time   // clock for tokens and the key cache; default time.Now
}

// DecodeSend parses and validates a whole send body (one object or an array).
// It returns *Error with CodeInvalidJSON or CodeInvalidMessage.
func DecodeSend(body []byte) ([]Operation, error) { panic("TODO") }

// Client emulates both bindings for one connection and hub.
type Client struct{}

// NewClient builds a Client for conn and hub.
func NewClient(conn *settings.Connection, hub string, opts Options) (*Client, error) {
	panic("TODO")
}

// Negotiate returns the client URL and access token for userID ("" = no user)
// and extra claims.
func (c *Client) Negotiate(ctx context.Context, userID string, claims map[string]string) (ConnectionInfo, error) {
	panic("TODO")
}

// Send carries out ops in order and returns how many were carried out.
func (c *Client) Send(ctx context.Context, ops []Operation) (int, error) { panic("TODO") }

// Close stops background work (the Entra key refresh).
func (c *Client) Close() {}
