// Package upstream is the protocol of the requests that Azure SignalR
// Service in serverless mode sends to an app's upstream URL: a client
// connected, a client disconnected, or a client invoked a hub method
// (https://learn.microsoft.com/azure/azure-signalr/concept-upstream).
//
// [Parse] turns a request's headers and body into a [Request], checking
// the X-ASRS-Signature against the resource's access keys; [Completion]
// builds the body that answers an invocation with a result or an error;
// [Sign] computes the signature, for whatever sends these requests (the
// embedded local service). Dispatching a request to a function and the
// HTTP answers are the caller's business.
package upstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/jsonkind"
)

// Request headers that Azure SignalR Service sets on every upstream request.
const (
	HeaderConnectionID = "X-ASRS-Connection-Id"
	HeaderHub          = "X-ASRS-Hub"
	HeaderCategory     = "X-ASRS-Category"
	HeaderEvent        = "X-ASRS-Event"
	HeaderSignature    = "X-ASRS-Signature"
	HeaderUserID       = "X-ASRS-User-Id"
	HeaderUserClaims   = "X-ASRS-User-Claims"
	HeaderClientQuery  = "X-ASRS-Client-Query"
)

// Categories (X-ASRS-Category) and the events of the connections category
// (X-ASRS-Event); in the messages category the event is the invocation's
// target.
const (
	CategoryConnections = "connections"
	CategoryMessages    = "messages"
	EventConnected      = "connected"
	EventDisconnected   = "disconnected"
)

// Body media types: connection events are always JSON; an invocation is
// encoded in the client's hub protocol.
const (
	ContentTypeJSON        = "application/json"
	ContentTypeMessagePack = "application/x-msgpack"
)

// Hub protocols, named as in the SignalR handshake.
const (
	ProtocolJSON        = "json"
	ProtocolMessagePack = "messagepack"
)

// Message types of the request bodies. 1 is the hub protocol's
// InvocationMessage; 10 and 11 are the serverless protocol's
// OpenConnectionMessage and CloseConnectionMessage.
const (
	TypeInvocation   = 1
	TypeConnected    = 10
	TypeDisconnected = 11
)

// Request is one upstream request, checked and decoded.
type Request struct {
	ConnectionID string
	Hub          string
	// Category is CategoryConnections or CategoryMessages, in lower case
	// whatever case the header used.
	Category string
	// Event is X-ASRS-Event as sent: "connected", "disconnected" or the
	// invoked hub method. Compare it case-insensitively, as the official
	// Functions extension dispatches.
	Event  string
	UserID string // X-ASRS-User-Id; empty when the connection has no user
	// Claims are the connection's claims, every one, in the order sent.
	Claims []Claim
	// Query is the query of the client's connect request
	// (X-ASRS-Client-Query), never nil. Pairs that url.ParseQuery rejects
	// (a bad escape, a semicolon) are left out; the raw text stays in
	// Headers.
	Query url.Values
	// Headers are all the request's headers.
	Headers http.Header
	// Protocol is the hub protocol of the body: ProtocolJSON or
	// ProtocolMessagePack. A completion answering the request uses it.
	Protocol string

	// Type is TypeConnected, TypeDisconnected or TypeInvocation.
	Type int
	// InvocationID is set when the client waits for a completion
	// (connection.invoke); empty for connection.send, as SignalR servers
	// treat an empty id as none.
	InvocationID string
	// Target is the invoked hub method; it equals Event up to letter case.
	Target string
	// Arguments are the invocation's arguments, each a raw JSON value;
	// nil when there are none.
	Arguments []json.RawMessage
	// Error is the disconnected event's error; empty when the connection
	// closed cleanly.
	Error string
}

// Claim is one claim of the connection's user, as X-ASRS-User-Claims
// carries it.
type Claim struct {
	Type  string
	Value string
}

// message is what a body decoder finds in a body, whatever its encoding.
type message struct {
	Type         int
	InvocationID string
	Target       string
	Arguments    []json.RawMessage
	Error        string
}

// Parse checks and decodes an upstream request: its headers h (keys in
// canonical form, as net/http and http.Header.Add make them) and its body.
// It returns an *apierror.Error when the request cannot be served, checking in this
// order:
//
//  1. X-ASRS-Connection-Id present and not empty, else InvalidMessage;
//  2. when keys is not empty, X-ASRS-Signature matches one of them (see
//     [Sign]), else Unauthorized. Without keys (a resource that only
//     accepts Microsoft Entra ID has none) the signature is not checked;
//  3. X-ASRS-Hub, X-ASRS-Category and X-ASRS-Event present, the category
//     "connections" or "messages" and a connections event "connected" or
//     "disconnected" (any letter case), else InvalidMessage;
//  4. Content-Type application/json or application/x-msgpack (any
//     parameters), else UnsupportedMediaType;
//  5. the body one message of the kind the headers announce, else
//     InvalidMessage. A connected event may have an empty body (the
//     official Functions extension never reads it); the others need one.
//
// A JSON body is the hub-protocol message without its 0x1E record
// separator (a trailing one is tolerated), property names in any letter
// case: {"type":10}, {"type":11,"error":"…"} or
// {"type":1,"invocationId":"…","target":"…","arguments":[…]}, where a
// missing or null invocationId and arguments mean none and other
// properties are ignored. An invocation's target must equal X-ASRS-Event
// up to letter case, as the official extension requires.
//
// A MessagePack body is the invocation array
// [1, headers, invocationId|nil, target, arguments, streamIds?] without its
// length prefix, its arguments converted to JSON: integers and floats as
// numbers, binary as a base64 string, a timestamp as an RFC 3339 string,
// map keys as strings (see package msgpackhub).
//
// Header values are read from their first occurrence, except
// X-ASRS-Signature and X-ASRS-User-Claims, read from all of them.
func Parse(h http.Header, body []byte, keys []string) (*Request, error) {
	connectionID := h.Get(HeaderConnectionID)
	if connectionID == "" {
		return nil, missingHeader(HeaderConnectionID)
	}
	if len(keys) > 0 {
		if err := verifySignature(h.Values(HeaderSignature), connectionID, keys); err != nil {
			return nil, err
		}
	}
	req := &Request{ConnectionID: connectionID, Headers: h.Clone()}
	if err := req.readHeaders(h); err != nil {
		return nil, err
	}

	mediaType, err := mediaTypeOf(h)
	if err != nil {
		return nil, err
	}
	var msg message
	switch mediaType {
	case ContentTypeJSON:
		req.Protocol = ProtocolJSON
		msg, err = parseJSON(body, req.Event)
	case ContentTypeMessagePack:
		req.Protocol = ProtocolMessagePack
		msg, err = parseMsgpack(body)
	}
	if err != nil {
		return nil, err
	}
	if err := req.setMessage(msg); err != nil {
		return nil, err
	}
	return req, nil
}

// readHeaders reads every header but the connection id and the signature.
func (r *Request) readHeaders(h http.Header) error {
	r.Hub = h.Get(HeaderHub)
	if r.Hub == "" {
		return missingHeader(HeaderHub)
	}
	category := h.Get(HeaderCategory)
	if category == "" {
		return missingHeader(HeaderCategory)
	}
	r.Event = h.Get(HeaderEvent)
	if r.Event == "" {
		return missingHeader(HeaderEvent)
	}
	switch {
	case strings.EqualFold(category, CategoryConnections):
		r.Category = CategoryConnections
		if !strings.EqualFold(r.Event, EventConnected) && !strings.EqualFold(r.Event, EventDisconnected) {
			return apierror.New(apierror.InvalidMessage, "%s is %s; the %s category has the events %s and %s",
				HeaderEvent, clip.Quote(r.Event), CategoryConnections, EventConnected, EventDisconnected)
		}
	case strings.EqualFold(category, CategoryMessages):
		r.Category = CategoryMessages
	default:
		return apierror.New(apierror.InvalidMessage, "%s is %s; want %s or %s",
			HeaderCategory, clip.Quote(category), CategoryConnections, CategoryMessages)
	}

	r.UserID = h.Get(HeaderUserID)
	claims, err := parseClaims(h.Values(HeaderUserClaims))
	if err != nil {
		return err
	}
	r.Claims = claims
	// The service forwards the client's query as it came; ASP.NET Core
	// accepts what url.ParseQuery may reject, so a rejected pair is left
	// out rather than failing the client's connection.
	r.Query, _ = url.ParseQuery(strings.TrimPrefix(h.Get(HeaderClientQuery), "?"))
	return nil
}

// mediaTypeOf returns the body's media type, ContentTypeJSON or
// ContentTypeMessagePack.
func mediaTypeOf(h http.Header) (string, error) {
	contentType := h.Get("Content-Type")
	if contentType == "" {
		return "", apierror.New(apierror.UnsupportedMediaType, "Content-Type is missing; want %s or %s", ContentTypeJSON, ContentTypeMessagePack)
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", apierror.New(apierror.UnsupportedMediaType, "Content-Type %s is not a media type; want %s or %s", clip.Quote(contentType), ContentTypeJSON, ContentTypeMessagePack)
	}
	if mediaType != ContentTypeJSON && mediaType != ContentTypeMessagePack {
		return "", apierror.New(apierror.UnsupportedMediaType, "Content-Type %s is not supported; want %s or %s", clip.Quote(mediaType), ContentTypeJSON, ContentTypeMessagePack)
	}
	return mediaType, nil
}

// setMessage checks that the body's message is the one the headers
// announce and copies it into r.
func (r *Request) setMessage(msg message) error {
	want := TypeInvocation
	switch {
	case r.Category == CategoryMessages:
	case strings.EqualFold(r.Event, EventConnected):
		want = TypeConnected
	default:
		want = TypeDisconnected
	}
	if msg.Type != want {
		return apierror.New(apierror.InvalidMessage, "the body is a message of type %d; a %s %s event carries type %d",
			msg.Type, r.Category, clip.Quote(r.Event), want)
	}
	r.Type = msg.Type
	switch msg.Type {
	case TypeInvocation:
		if msg.Target == "" {
			return apierror.New(apierror.InvalidMessage, "the invocation has no target")
		}
		if !strings.EqualFold(msg.Target, r.Event) {
			return apierror.New(apierror.InvalidMessage, "the invocation's target %s differs from %s %s",
				clip.Quote(msg.Target), HeaderEvent, clip.Quote(r.Event))
		}
		r.InvocationID, r.Target, r.Arguments = msg.InvocationID, msg.Target, msg.Arguments
	case TypeDisconnected:
		r.Error = msg.Error
	}
	return nil
}

// parseClaims reads X-ASRS-User-Claims. The service writes one header value
// per claim as .NET's Claim.ToString does ("type: value"); a proxy may join
// repeated values with commas, and the official Functions extension reads
// one comma-separated value. So each value is split on commas, and an item
// is "type: value" (split at the first ": ") or "type:" (an empty value, its
// trailing space trimmed as HTTP does). An item without that separator
// continues the previous claim's value, which held a comma ("name: Doe,
// John"); as the first item of a header value it is an error.
func parseClaims(values []string) ([]Claim, error) {
	var claims []Claim
	for _, v := range values {
		first := len(claims)
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			typ, value, ok := strings.Cut(item, ": ")
			if !ok {
				typ, ok = strings.CutSuffix(item, ":")
			}
			if !ok {
				if len(claims) == first {
					return nil, apierror.New(apierror.InvalidMessage, "%s item %s is not \"type: value\"", HeaderUserClaims, clip.Quote(item))
				}
				claims[len(claims)-1].Value += ", " + item
				continue
			}
			typ = strings.TrimSpace(typ)
			if typ == "" {
				return nil, apierror.New(apierror.InvalidMessage, "%s item %s has no claim type", HeaderUserClaims, clip.Quote(item))
			}
			claims = append(claims, Claim{Type: typ, Value: strings.TrimSpace(value)})
		}
	}
	return claims, nil
}

// jsonMessage is a JSON body. Every field stays raw so that a wrong type is
// reported by name; encoding/json matches the names in any letter case, as
// the official extension reads them with Newtonsoft.Json.
type jsonMessage struct {
	Type         json.RawMessage `json:"type"`
	InvocationID json.RawMessage `json:"invocationId"`
	Target       json.RawMessage `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	Error        json.RawMessage `json:"error"`
}

// parseJSON decodes a JSON body. event is X-ASRS-Event: a connected event's
// body may be empty.
func parseJSON(body []byte, event string) (message, error) {
	body = bytes.TrimSuffix(bytes.TrimRight(body, " \t\r\n"), []byte{0x1e})
	if len(bytes.TrimSpace(body)) == 0 {
		if strings.EqualFold(event, EventConnected) {
			return message{Type: TypeConnected}, nil
		}
		return message{}, apierror.New(apierror.InvalidMessage, "the body is empty; want a JSON message")
	}
	if !json.Valid(body) {
		// Unmarshal says why json.Valid refused the body.
		err := json.Unmarshal(body, new(any))
		return message{}, apierror.New(apierror.InvalidMessage, "the body is not valid JSON: %s", clip.String(fmt.Sprint(err)))
	}
	if k := jsonkind.Of(body); k != "object" {
		return message{}, apierror.New(apierror.InvalidMessage, "the body is %s; want a JSON object", jsonkind.Article(k))
	}
	var raw jsonMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return message{}, apierror.New(apierror.InvalidMessage, "the body is not valid JSON: %s", clip.String(err.Error()))
	}

	var msg message
	if isNull(raw.Type) {
		return message{}, apierror.New(apierror.InvalidMessage, "the body has no type")
	}
	if err := json.Unmarshal(raw.Type, &msg.Type); err != nil {
		return message{}, apierror.New(apierror.InvalidMessage, "type is %s; want an integer", clip.Quote(string(raw.Type)))
	}
	var err error
	if msg.InvocationID, err = jsonString(raw.InvocationID, "invocationId"); err != nil {
		return message{}, err
	}
	if msg.Target, err = jsonString(raw.Target, "target"); err != nil {
		return message{}, err
	}
	if msg.Error, err = jsonString(raw.Error, "error"); err != nil {
		return message{}, err
	}
	if !isNull(raw.Arguments) {
		if k := jsonkind.Of(raw.Arguments); k != "array" {
			return message{}, apierror.New(apierror.InvalidMessage, "arguments is %s; want an array", jsonkind.Article(k))
		}
		if err := json.Unmarshal(raw.Arguments, &msg.Arguments); err != nil {
			return message{}, apierror.New(apierror.InvalidMessage, "arguments: %s", clip.String(err.Error()))
		}
	}
	return msg, nil
}

// jsonString decodes an optional string property; absent or null is "".
func jsonString(raw json.RawMessage, name string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", apierror.New(apierror.InvalidMessage, "%s is %s; want a string", name, jsonkind.Article(jsonkind.Of(raw)))
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func missingHeader(name string) *apierror.Error {
	return apierror.New(apierror.InvalidMessage, "the %s header is missing", name)
}
