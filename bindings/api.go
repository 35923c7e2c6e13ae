package bindings

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/funcsignalr/funcsignalr/apierror"
)

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

// Group action names as DecodeSend returns them (it accepts any letter case).
const (
	ActionAdd       = "add"
	ActionRemove    = "remove"
	ActionRemoveAll = "removeAll"
)

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
	// TokenLifetime is the exp of client access tokens from Negotiate,
	// 1 minute to 24 hours; default one hour. REST tokens always live one
	// hour.
	TokenLifetime time.Duration
	// HealthInterval spaces the probes of offline endpoints (several
	// endpoints only); default DefaultHealthInterval.
	HealthInterval time.Duration
	// Logger receives endpoints going offline and coming back; default
	// slog.Default().
	Logger *slog.Logger
}

// Client emulates both bindings for one connection and hub: it issues client
// access tokens (negotiate) and calls the data-plane REST API (send).
// It is safe for concurrent use; call Close when done with it.
//
// A connection with several endpoints (settings.Connection.Named) is served
// as the official SDK serves several SignalR resources: negotiate picks one
// endpoint, send reaches all of them.
type Client struct {
	eps []*endpoint
	// maxUserIDPath is the least endpoint.maxUserIDPath of eps: user ids
	// whose escaped form fits it need no further check in Negotiate.
	maxUserIDPath int

	timeout       time.Duration
	tokenLifetime time.Duration // of client access tokens
	now           func() time.Time

	health    *health     // several endpoints only
	primaries []*endpoint // several endpoints only: the primaries, or every endpoint when none is
	closer    sync.Once
}

// endpoint is one SignalR resource of a Client.
type endpoint struct {
	name    string // "" for the ConnectionStringSetting's own
	primary bool
	host    string // host:port, for messages

	clientURL string // <clientEndpoint>/client/?hub=<hub>
	audience  string // <scheme>://<host>/client/?hub=<hub>, no port

	server     url.URL // server endpoint; its Path and RawPath end before /api
	hubPath    string  // server path + /api/hubs/<hub>, decoded
	hubRawPath string  // the same, escaped
	serverName string  // scheme://host[:port] of the server endpoint, for messages
	healthURL  string  // <serverEndpoint>/api/health

	pipeline runtime.Pipeline
	signer   *signer   // access-key auth; nil with Microsoft Entra ID
	keys     *keyCache // Microsoft Entra ID auth; nil with an access key
	diag     *diagnostics

	offline atomic.Bool // several endpoints only
}

// Negotiate returns the client URL and access token for userID ("" = no user)
// and extra claims.
//
// The token is an HS256 JWT valid for Options.TokenLifetime (default one
// hour) whose aud is the client URL of the endpoint without its port;
// userID goes into asrs.s.uid and nameid. Each extra claim is a JSON string
// when it has one value and an array of strings when it has several; a
// claim without values is left out. Extra claims never replace the user id
// claims; ones named like registered JWT claims (aud, exp, iss, …) are
// renamed asrs.u.<name>, as the service's SDK does.
// With Microsoft Entra ID it signs with the key from the access-key exchange
// and fails with apierror.AuthenticationUnavailable when there is none.
//
// With several endpoints it picks, at random, an online primary; when no
// primary is online, an online secondary; when none is online, a primary.
// The URL and the token are the chosen endpoint's.
func (c *Client) Negotiate(ctx context.Context, userID string, claims map[string][]string) (ConnectionInfo, error) {
	if problem := c.checkUserReach(userID); problem != "" {
		return ConnectionInfo{}, apierror.New(apierror.InvalidMessage, "%s", problem)
	}
	ep := c.eps[0]
	if len(c.eps) > 1 {
		ep = c.pick()
	}
	s := ep.signer
	if ep.keys != nil {
		var err error
		if s, err = ep.keys.get(ctx); err != nil {
			return ConnectionInfo{}, err
		}
	}
	token, err := s.sign("", ep.audience, c.now(), c.tokenLifetime, userID, claims)
	if err != nil {
		return ConnectionInfo{}, apierror.Wrap(apierror.AuthenticationUnavailable, err, "could not sign the client access token")
	}
	if len(token) > MaxTokenLength {
		return ConnectionInfo{}, apierror.New(apierror.InvalidMessage,
			"client access token would be %d characters long; the service accepts at most %d (user id or claims too long)",
			len(token), MaxTokenLength)
	}
	return ConnectionInfo{URL: ep.clientURL, AccessToken: token}, nil
}

// Close stops background work (the Entra key refresh, the health watch).
// It waits for that work to end and may be called more than once.
func (c *Client) Close() {
	c.closer.Do(func() {
		if c.health != nil {
			c.health.close()
		}
		for _, ep := range c.eps {
			if ep.keys != nil {
				ep.keys.close()
			}
		}
	})
}
