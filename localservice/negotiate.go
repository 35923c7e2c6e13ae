package localservice

import (
	"net/http"
	"strconv"
	"strings"
)

// The client endpoint: POST /client/negotiate?hub=H, then the transports at
// /client/?hub=H&id=<connectionToken>.

// transportInfo is one entry of availableTransports.
type transportInfo struct {
	Transport       string   `json:"transport"`
	TransferFormats []string `json:"transferFormats"`
}

// availableTransports are the transports every negotiate offers.
var availableTransports = []transportInfo{
	{"WebSockets", []string{"Text", "Binary"}},
	{"ServerSentEvents", []string{"Text"}},
	{"LongPolling", []string{"Text", "Binary"}},
}

// negotiateResponse is the negotiate answer (TransportProtocols.md); version
// 0 has no connectionToken.
type negotiateResponse struct {
	ConnectionID        string          `json:"connectionId"`
	ConnectionToken     string          `json:"connectionToken,omitempty"`
	NegotiateVersion    int             `json:"negotiateVersion"`
	AvailableTransports []transportInfo `json:"availableTransports"`
}

// serveClient serves /client/....
func (s *Service) serveClient(w http.ResponseWriter, r *http.Request, segs []string) {
	// Browser clients on other origins: allow them, with credentials, as the
	// service does.
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch {
	case len(segs) == 2 && segs[1] == "negotiate":
		s.negotiate(w, r)
	case len(segs) == 1:
		s.serveConnection(w, r)
	default:
		writeError(w, r, errNotFound("no such client endpoint: use /client/negotiate?hub=H and /client/?hub=H"))
	}
}

// clientHub reads and checks the hub query parameter and the request's
// client token. It returns the lower-cased hub and the token's claims.
func (s *Service) clientHub(r *http.Request) (hub string, claims *tokenClaims, e *apiError) {
	hub = r.URL.Query().Get("hub")
	if hub == "" {
		return "", nil, errBadRequest("the hub query parameter is required")
	}
	if !hubNamePattern.MatchString(hub) {
		return "", nil, errBadRequest("invalid hub name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$")
	}
	claims, err := s.authenticate(r, clientAudience(r, hub))
	if err != nil {
		return "", nil, errUnauthorized(err.Error())
	}
	return strings.ToLower(hub), claims, nil
}

// negotiate serves POST /client/negotiate?hub=H[&negotiateVersion=1].
func (s *Service) negotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, r, &apiError{http.StatusMethodNotAllowed, "Error.MethodNotAllowed", "negotiate takes POST"})
		return
	}
	hub, claims, e := s.clientHub(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	version := 0
	if v := r.URL.Query().Get("negotiateVersion"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, errBadRequest("negotiateVersion must be a non-negative integer"))
			return
		}
		version = min(n, 1)
	}
	c, err := s.newConn(hub, claims.userID(), version == 0)
	if err != nil {
		writeError(w, r, errUnavailable(err.Error()))
		return
	}
	resp := negotiateResponse{
		ConnectionID:        c.id,
		NegotiateVersion:    version,
		AvailableTransports: availableTransports,
	}
	if version > 0 {
		resp.ConnectionToken = c.token
	}
	writeJSON(w, http.StatusOK, resp)
}

// serveConnection serves /client/?hub=H&id=T: a WebSocket upgrade, a
// Server-Sent Events stream, a long poll, a send (POST) or a long-polling
// close (DELETE).
func (s *Service) serveConnection(w http.ResponseWriter, r *http.Request) {
	hub, claims, e := s.clientHub(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	user := claims.userID()
	origin := clientOrigin{query: r.URL.RawQuery, payload: claims.payload}
	token := r.URL.Query().Get("id")
	isWebSocket := r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if token == "" {
		if !isWebSocket {
			writeError(w, r, errBadRequest("the id query parameter (the connection token from negotiate) is required"))
			return
		}
		// A client that skips negotiation gets a new connection.
		c, err := s.newConn(hub, user, true)
		if err != nil {
			writeError(w, r, errUnavailable(err.Error()))
			return
		}
		s.serveStream(w, r, c, origin, transportWebSockets, s.serveWebSocket)
		return
	}
	c := s.lookup(token)
	if c == nil || c.hub != hub {
		writeError(w, r, errNotFound("no connection with this id: negotiate first"))
		return
	}
	if user != c.user {
		// The connection belongs to whoever negotiated it: a token for
		// another user (or none for a user's connection) cannot take it
		// over, even with a negotiate v0 connection id, which is not secret.
		s.log.Warn("SignalR connect refused: the access token is for another user than the negotiated one", "hub", hub, "connectionId", c.id)
		writeError(w, r, &apiError{http.StatusForbidden, "Error.Forbidden", "the access token is for another user than the one who negotiated this connection"})
		return
	}
	switch {
	case isWebSocket:
		s.serveStream(w, r, c, origin, transportWebSockets, s.serveWebSocket)
	case r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		s.serveStream(w, r, c, origin, transportServerSentEvents, s.serveSSE)
	case r.Method == http.MethodGet:
		s.servePoll(w, r, c, origin)
	case r.Method == http.MethodPost:
		s.serveSend(w, r, c)
	case r.Method == http.MethodDelete:
		s.serveDelete(w, r, c)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, r, &apiError{http.StatusMethodNotAllowed, "Error.MethodNotAllowed", "method " + r.Method + " is not allowed here"})
	}
}

// serveStream attaches c, for r from o, to the streaming transport t
// (WebSockets or Server-Sent Events), or answers why it cannot, and runs
// serve, which calls finish once the stream is over, possibly after it
// returned; the connection ends with the stream.
func (s *Service) serveStream(w http.ResponseWriter, r *http.Request, c *conn, o clientOrigin, t transportKind, serve func(w http.ResponseWriter, r *http.Request, c *conn, finish func())) {
	if _, e := c.attach(t, o); e != nil {
		writeError(w, r, e)
		return
	}
	serve(w, r, c, func() {
		c.cancel()
		s.wg.Done()
	})
}
