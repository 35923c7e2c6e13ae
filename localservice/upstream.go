package localservice

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

// Client events sent upstream, as Azure SignalR Service in serverless mode
// does (https://learn.microsoft.com/azure/azure-signalr/concept-upstream):
// every event is a POST to the upstream URL with the X-ASRS-* headers; a
// connection's events go one at a time, in order.

const (
	// maxUpstreamResponse is the largest completion an upstream may answer,
	// the official emulator's limit (HttpServerlessMessageHandler).
	maxUpstreamResponse = 16 << 20
	// maxUpstreamDrain is how much of an ignored answer is read so that the
	// HTTP connection can be reused.
	maxUpstreamDrain = 64 << 10
	// upstreamIdleConns is how many idle keep-alive connections to the
	// upstream host are kept: one per concurrently forwarding client, up to it.
	upstreamIdleConns = 128
)

// The upstream headers in canonical form, to be set without
// canonicalizing them on every request.
var (
	hConnectionID = http.CanonicalHeaderKey(upstream.HeaderConnectionID)
	hHub          = http.CanonicalHeaderKey(upstream.HeaderHub)
	hCategory     = http.CanonicalHeaderKey(upstream.HeaderCategory)
	hEvent        = http.CanonicalHeaderKey(upstream.HeaderEvent)
	hSignature    = http.CanonicalHeaderKey(upstream.HeaderSignature)
	hUserID       = http.CanonicalHeaderKey(upstream.HeaderUserID)
	hUserClaims   = http.CanonicalHeaderKey(upstream.HeaderUserClaims)
	hClientQuery  = http.CanonicalHeaderKey(upstream.HeaderClientQuery)
)

// connectedBody is the body of the connected event, the serverless
// protocol's OpenConnectionMessage; disconnectedBody makes the
// CloseConnectionMessage of disconnected.
var connectedBody = []byte(`{"type":10}`)

// Upstream is where the service sends client events: a URL template whose
// {hub}, {category} and {event} placeholders are replaced, for each event,
// by the event's values, URI-escaped, as the service does. Build one with
// ParseUpstream. Its String form hides query values, which usually hold a
// function key.
type Upstream struct {
	template string
	parts    []templatePart // the template split at its placeholders
}

// templatePart is a literal piece of a template (placeholder < 0) or a
// placeholder: 0 hub, 1 category, 2 event.
type templatePart struct {
	literal     string
	placeholder int
}

var placeholders = [...]string{"{hub}", "{category}", "{event}"}

// ParseUpstream checks an upstream URL template: with its placeholders
// replaced it must be an absolute http or https URL, and it may hold no
// other {placeholder}. The error never repeats the template, which may hold
// a function key.
func ParseUpstream(template string) (*Upstream, error) {
	u := &Upstream{template: template}
	rest := template
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			u.parts = append(u.parts, templatePart{literal: rest, placeholder: -1})
			break
		}
		if i > 0 {
			u.parts = append(u.parts, templatePart{literal: rest[:i], placeholder: -1})
			rest = rest[i:]
		}
		p := -1
		for j, name := range placeholders {
			if strings.HasPrefix(rest, name) {
				p = j
				break
			}
		}
		if p < 0 {
			name, _, _ := strings.Cut(rest, "}")
			return nil, fmt.Errorf("upstream URL: unknown placeholder %.40q: the placeholders are {hub}, {category} and {event}", name+"}")
		}
		u.parts = append(u.parts, templatePart{placeholder: p})
		rest = rest[len(placeholders[p]):]
	}
	parsed, err := url.Parse(u.url("hub", upstream.CategoryConnections, upstream.EventConnected))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("upstream URL: not a valid URL: %v", err)
	}
	if s := strings.ToLower(parsed.Scheme); (s != "http" && s != "https") || parsed.Host == "" {
		return nil, errors.New("upstream URL: want an absolute http:// or https:// URL")
	}
	return u, nil
}

// String returns the template with every query value replaced by REDACTED.
func (u *Upstream) String() string {
	base, query, ok := strings.Cut(u.template, "?")
	if !ok {
		return base
	}
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); ok {
			pairs[i] = k + "=REDACTED"
		}
	}
	return base + "?" + strings.Join(pairs, "&")
}

// url is the upstream URL of one event.
func (u *Upstream) url(hub, category, event string) string {
	if len(u.parts) == 1 && u.parts[0].placeholder < 0 {
		return u.template
	}
	values := [...]string{hub, category, event}
	var b strings.Builder
	for _, p := range u.parts {
		if p.placeholder < 0 {
			b.WriteString(p.literal)
		} else {
			b.WriteString(escapeDataString(values[p.placeholder]))
		}
	}
	return b.String()
}

// escapeDataString escapes s as .NET's Uri.EscapeDataString, which the
// service uses for placeholder values: everything but the unreserved
// characters of RFC 3986 is percent-encoded.
func escapeDataString(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// newUpstreamClient returns the client that sends upstream requests, over
// a keep-alive transport of its own. Redirects are not followed: a 3xx is
// an answer like any other non-2xx.
func newUpstreamClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = upstreamIdleConns
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientOrigin is what upstream requests tell about a connection's client,
// as its first transport request came: its query and the claims of its
// token.
type clientOrigin struct {
	query   string // raw, without the leading ?
	payload string // the token's claims segment (base64url JSON)
}

// clientQuery is raw with its leading ?, without the access_token
// parameter: a credential of the client that the upstream has no use for
// and that functions might log. The rest is kept as the client sent it.
func clientQuery(raw string) string {
	if raw == "" {
		return ""
	}
	kept := make([]string, 0, 4)
	for _, p := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "access_token" {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return ""
	}
	return "?" + strings.Join(kept, "&")
}

// forwardedClaims lists the claims of a token's payload (base64url JSON)
// as "type: value", in token order, one item per value of an array claim.
// The claims that describe the token rather than its user (aud, exp, iat,
// nbf) and the service's own asrs.s.* claims (the user id goes in
// X-ASRS-User-Id) are left out. Strings are written as they are, other
// values as JSON.
func forwardedClaims(payload string) []string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		switch {
		case name == "aud", name == "exp", name == "iat", name == "nbf", strings.HasPrefix(name, "asrs.s."):
			continue
		}
		var items []json.RawMessage
		if len(v) > 0 && v[0] == '[' && json.Unmarshal(v, &items) == nil {
			for _, item := range items {
				if s, ok := claimValue(item); ok {
					out = append(out, name+": "+s)
				}
			}
			continue
		}
		if s, ok := claimValue(v); ok {
			out = append(out, name+": "+s)
		}
	}
	return out
}

// claimValue is a claim value as text: a string as it is, null left out,
// anything else as compact JSON.
func claimValue(v json.RawMessage) (string, bool) {
	if string(v) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return "", false
	}
	return b.String(), true
}

// upstreamAnswer is what an upstream request got: the status (500 for a
// transport error or a timeout, as the emulator does) and, when asked
// for, the body of a 200.
type upstreamAnswer struct {
	status   int
	body     []byte
	tooLarge bool // a 200 body over maxUpstreamResponse
	// aborted: Close cancelled the request; the client gets the close
	// message, not a completion.
	aborted bool
}

// postUpstream sends one event of c upstream and waits for its answer,
// within the upstream timeout. body is JSON, unless contentType says
// otherwise (connection events are always JSON). wantBody reads a 200's body. Answers other
// than 200 and 204, and failures, are logged, without the URL (it may hold a function key) and
// without the signature.
func (c *conn) postUpstream(ctx context.Context, category, event string, body []byte, contentType string, wantBody bool) upstreamAnswer {
	s := c.s
	// The client's messages wait meanwhile: its timeout starts again after.
	c.upBusy.Store(true)
	defer func() {
		c.lastMessage.Store(monoNow())
		c.upBusy.Store(false)
	}()
	ctx, cancel := context.WithTimeout(ctx, s.upTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.upstream.url(c.hub, category, event), bytes.NewReader(body))
	if err != nil {
		// The template was checked, and escaped values cannot break it.
		s.log.Warn("upstream request not sent", "hub", c.hub, "category", category, "event", event, "connectionId", c.id, "error", upstreamError(err))
		return upstreamAnswer{status: http.StatusInternalServerError}
	}
	h := c.upHeader.Clone()
	if h == nil {
		h = http.Header{}
	}
	h[hCategory] = []string{category}
	h[hEvent] = []string{event}
	h["Content-Type"] = []string{contentType}
	req.Header = h

	resp, err := s.upClient.Do(req)
	if err != nil {
		if s.invokeCtx.Err() == nil || category != upstream.CategoryMessages {
			s.log.Warn("upstream request failed", "hub", c.hub, "category", category, "event", event, "connectionId", c.id, "error", upstreamError(err))
		}
		return upstreamAnswer{status: http.StatusInternalServerError, aborted: s.invokeCtx.Err() != nil}
	}
	defer resp.Body.Close()
	a := upstreamAnswer{status: resp.StatusCode}
	// The emulator expects 200 or 204 (HttpServerlessMessageHandler) and
	// logs anything else.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		s.log.Warn("upstream answered with an error status", "hub", c.hub, "category", category, "event", event, "connectionId", c.id, "status", resp.StatusCode)
	}
	if !wantBody || resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxUpstreamDrain))
		return a
	}
	if resp.ContentLength > maxUpstreamResponse {
		a.tooLarge = true
		return a
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamResponse+1))
	switch {
	case err != nil:
		s.log.Warn("upstream answer unreadable", "hub", c.hub, "category", category, "event", event, "connectionId", c.id, "error", upstreamError(err))
		return upstreamAnswer{status: http.StatusInternalServerError}
	case len(b) > maxUpstreamResponse:
		a.tooLarge = true
	default:
		a.body = b
	}
	return a
}

// upstreamError words err without the request URL.
func upstreamError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the upstream timeout"
	}
	return err.Error()
}

// upstreamHeader is what every upstream request of c carries, besides its
// category, event and Content-Type.
func upstreamHeader(c *conn, o clientOrigin) http.Header {
	h := http.Header{
		hConnectionID: {c.id},
		hHub:          {c.hub},
		hSignature:    {upstream.Sign(c.id, string(c.s.key))},
	}
	if c.user != "" {
		h[hUserID] = []string{c.user}
	}
	if claims := forwardedClaims(o.payload); len(claims) > 0 {
		// One header line, values joined by ", ", as .NET's HttpClient
		// writes a header with several values.
		h[hUserClaims] = []string{strings.Join(claims, ", ")}
	}
	if q := clientQuery(o.query); q != "" {
		h[hClientQuery] = []string{q}
	}
	return h
}

// openUpstream sends c's connected event and waits for its answer; the
// caller holds c.rmu, so the client's messages wait until it is answered.
// A 401 or 403 refuses the client: it is closed with an error and without
// reconnecting, and its events go no further. It reports whether c is
// still open.
func (c *conn) openUpstream() bool {
	if c.isClosed() {
		return false
	}
	c.s.mu.RLock()
	origin := c.origin // set by the first transport request's goroutine
	c.s.mu.RUnlock()
	c.upHeader = upstreamHeader(c, origin)
	a := c.postUpstream(c.s.ctx, upstream.CategoryConnections, upstream.EventConnected, connectedBody, upstream.ContentTypeJSON, false)
	if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
		c.closeWithError(fmt.Sprintf("Connection rejected by upstream (%d)", a.status), false, true, "refused by upstream")
		return false
	}
	c.upOpen = true
	return !c.isClosed()
}

// closeUpstream sends c's disconnected event once c has ended, after the
// connected event and every invocation forwarded before it; errText is the
// error it ended with, if any. It runs in its own goroutine, counted in
// s.events.
func (c *conn) closeUpstream(errText string) {
	defer c.s.events.Done()
	c.rmu.Lock()
	open := c.upOpen
	c.upOpen = false
	c.rmu.Unlock()
	if !open {
		return
	}
	c.postUpstream(c.s.ctx, upstream.CategoryConnections, upstream.EventDisconnected, disconnectedBody(errText), upstream.ContentTypeJSON, false)
}

// disconnectedBody is {"type":11} with "error" when errText is not empty.
func disconnectedBody(errText string) []byte {
	if errText == "" {
		return []byte(`{"type":11}`)
	}
	b, _ := json.Marshal(struct {
		Type  int    `json:"type"`
		Error string `json:"error"`
	}{11, errText})
	return b
}

// invocationMessage is a client's Invocation message (HubProtocol.md).
type invocationMessage struct {
	InvocationID *string         `json:"invocationId"`
	Target       *string         `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	StreamIDs    []string        `json:"streamIds"`
}

// parseInvocation reads an Invocation message, with the JSON hub protocol's
// rules: a string target and an arguments array are required.
func parseInvocation(rec []byte) (*invocationMessage, error) {
	var m invocationMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("Expected '%s' to be of type %s.", te.Field, jsonTypeName(te.Field))
		}
		return nil, errors.New("the invocation message is not valid JSON")
	}
	switch {
	case m.Target == nil:
		return nil, errors.New("Missing required property 'target'.")
	case len(m.Arguments) == 0:
		return nil, errors.New("Missing required property 'arguments'.")
	case m.Arguments[0] != '[':
		return nil, errors.New("Expected 'arguments' to be of type Array.")
	}
	return &m, nil
}

// jsonTypeName is the type the JSON hub protocol wants for an invocation
// field.
func jsonTypeName(field string) string {
	if field == "streamIds" {
		return "Array"
	}
	return "String"
}

// upstreamBody is the invocation as the service forwards it: the message
// re-encoded without its headers and without the record separator.
func (m *invocationMessage) upstreamBody() []byte {
	b := invocationHead(m.InvocationID, *m.Target, len(m.Arguments)+1)
	b.Write(m.Arguments)
	b.WriteByte('}')
	return b.Bytes()
}

// upstreamInvocation is a client's Invocation as it goes upstream.
type upstreamInvocation struct {
	hasID       bool
	id, target  string
	body        []byte
	contentType string
	streams     int // stream ids among the arguments
}

// readInvocation parses an Invocation message in c's hub protocol. A JSON
// one goes upstream re-encoded without its headers; a MessagePack one as
// the client sent it, without its length prefix, as application/x-msgpack.
func (c *conn) readInvocation(msg []byte) (upstreamInvocation, error) {
	if c.binary.Load() {
		inv, err := msgpackhub.ParseInvocation(msg)
		if err != nil {
			return upstreamInvocation{}, err
		}
		return upstreamInvocation{hasID: inv.InvocationID != "", id: inv.InvocationID, target: inv.Target, body: msg,
			contentType: upstream.ContentTypeMessagePack, streams: len(inv.StreamIDs)}, nil
	}
	m, err := parseInvocation(msg)
	if err != nil {
		return upstreamInvocation{}, err
	}
	inv := upstreamInvocation{hasID: m.InvocationID != nil, target: *m.Target, body: m.upstreamBody(),
		contentType: upstream.ContentTypeJSON, streams: len(m.StreamIDs)}
	if inv.hasID {
		inv.id = *m.InvocationID
	}
	return inv, nil
}

// forwardInvocation sends inv upstream and, when it has an id, hands the
// client its completion: the upstream's 200 body as it is (for MessagePack,
// the framed completion the upstream built), or one made in c's protocol.
// The caller holds c.rmu, so the client's next message waits for the
// answer. It reports whether c is still open.
func (c *conn) forwardInvocation(inv upstreamInvocation) bool {
	if c.isClosed() || !c.upOpen {
		return false
	}
	a := c.postUpstream(c.s.invokeCtx, upstream.CategoryMessages, inv.target, inv.body, inv.contentType, inv.hasID)
	if !inv.hasID || c.isClosed() || a.aborted {
		return !c.isClosed() && !a.aborted
	}
	var f []byte
	switch {
	case a.tooLarge:
		f = c.completionMessage(inv.id, "Invocation failed, response too large.")
	case a.status == http.StatusOK && len(a.body) > 0:
		f = a.body
	case a.status == http.StatusOK || a.status == http.StatusNoContent:
		f = c.completionMessage(inv.id, "")
	default:
		f = c.completionMessage(inv.id, "Invocation failed, status code "+strconv.Itoa(a.status))
	}
	if !c.enqueue(frame{data: f}) {
		c.s.log.Warn("SignalR client too slow: closing its connection", "hub", c.hub, "connectionId", c.id, "sendBuffer", c.s.sendBuffer)
		c.closeWithError(reasonSlowClient, false, false, "send buffer full")
		return false
	}
	return true
}

// isClosed reports whether c's close was requested.
func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
