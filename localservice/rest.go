package localservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The data-plane REST API, in its api-version form (/api/hubs/{hub}/...,
// status codes of the 2022-06-01 swagger) and its v1 form
// (/api/v1/hubs/{hub}/...).

// restCall is one REST request being served.
type restCall struct {
	r      *http.Request
	hub    string            // lower-cased, application prefix applied
	params map[string]string // path parameters: user, group, connectionId
}

// restOp carries out a REST operation. It answers with the route's status
// and, when body is not nil, body as JSON.
type restOp func(s *Service, c *restCall) (body any, err *apiError)

// route is one REST operation: method (HEAD also serves GET), the path after
// /hubs/{hub} ({name} segments are parameters), its success status.
type route struct {
	method  string
	pattern []string
	status  int
	op      restOp
}

// routeSpec is a route as the tables write it: the path as text, "/"
// between segments.
type routeSpec struct {
	method, path string
	status       int
	op           restOp
}

// routes splits the paths of table into patterns.
func routes(table []routeSpec) []route {
	rs := make([]route, len(table))
	for i, t := range table {
		var p []string
		if t.path != "" {
			p = strings.Split(t.path, "/")
		}
		rs[i] = route{t.method, p, t.status, t.op}
	}
	return rs
}

// apiRoutes are the api-version operations (swagger 2022-06-01 and later).
var apiRoutes = routes([]routeSpec{
	{"POST", ":send", 202, opBroadcast},
	{"POST", ":closeConnections", 204, opCloseAll},
	{"POST", ":generateToken", 200, opGenerateToken},
	{"POST", "users/{user}/:send", 202, opSendToUser},
	{"HEAD", "users/{user}", 200, opUserExists},
	{"POST", "users/{user}/:closeConnections", 204, opCloseUser},
	{"DELETE", "users/{user}/groups", 204, opRemoveUserFromAllGroups},
	{"PUT", "users/{user}/groups/{group}", 200, opAddUserToGroup},
	{"DELETE", "users/{user}/groups/{group}", 204, opRemoveUserFromGroup},
	{"HEAD", "users/{user}/groups/{group}", 200, opUserInGroup},
	{"POST", "connections/{connectionId}/:send", 202, opSendToConnection},
	{"HEAD", "connections/{connectionId}", 200, opConnectionExists},
	{"DELETE", "connections/{connectionId}", 200, opCloseConnection},
	{"DELETE", "connections/{connectionId}/groups", 200, opRemoveConnectionFromAllGroups},
	{"POST", "groups/{group}/:send", 202, opSendToGroup},
	{"HEAD", "groups/{group}", 200, opGroupExists},
	{"POST", "groups/{group}/:closeConnections", 204, opCloseGroup},
	{"PUT", "groups/{group}/connections/{connectionId}", 200, opAddConnectionToGroup},
	{"DELETE", "groups/{group}/connections/{connectionId}", 200, opRemoveConnectionFromGroup},
})

// v1Routes are the operations of the v1 API.
var v1Routes = routes([]routeSpec{
	{"POST", "", 202, opBroadcast},
	{"POST", "users/{user}", 202, opSendToUser},
	{"HEAD", "users/{user}", 200, opUserExists},
	{"DELETE", "users/{user}/groups", 202, opRemoveUserFromAllGroups},
	{"HEAD", "users/{user}/groups/{group}", 200, opUserInGroup},
	{"PUT", "users/{user}/groups/{group}", 202, opAddUserToGroup},
	{"DELETE", "users/{user}/groups/{group}", 202, opRemoveUserFromGroup},
	{"POST", "connections/{connectionId}", 202, opSendToConnection},
	{"HEAD", "connections/{connectionId}", 200, opConnectionExists},
	{"DELETE", "connections/{connectionId}", 202, opCloseConnection},
	{"PUT", "connections/{connectionId}/groups/{group}", 200, opAddConnectionToGroup},
	{"DELETE", "connections/{connectionId}/groups/{group}", 200, opRemoveConnectionFromGroup},
	{"POST", "groups/{group}", 202, opSendToGroup},
	{"HEAD", "groups/{group}", 200, opGroupExists},
	{"PUT", "groups/{group}/connections/{connectionId}", 200, opAddConnectionToGroup},
	{"DELETE", "groups/{group}/connections/{connectionId}", 200, opRemoveConnectionFromGroup},
	{"HEAD", "groups/{group}/users/{user}", 200, opUserInGroup},
	{"PUT", "groups/{group}/users/{user}", 202, opAddUserToGroup},
	{"DELETE", "groups/{group}/users/{user}", 202, opRemoveUserFromGroup},
})

// match finds the route for method and the segments after the hub. It
// returns the allowed methods when the path matches but the method does not.
func match(table []route, method string, segs []string) (*route, map[string]string, []string) {
	var allowed []string
	for i := range table {
		rt := &table[i]
		params, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method == method || rt.method == http.MethodHead && method == http.MethodGet {
			return rt, params, nil
		}
		allowed = append(allowed, rt.method)
		if rt.method == http.MethodHead {
			allowed = append(allowed, http.MethodGet)
		}
	}
	return nil, nil, allowed
}

func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(p, "{}")] = segs[i]
		} else if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return params, true
}

// serveREST serves /api/....
func (s *Service) serveREST(w http.ResponseWriter, r *http.Request, segs []string) {
	rest, v1, hubIndex := segs[1:], false, 2
	if len(rest) > 0 && rest[0] == "v1" {
		rest, v1, hubIndex = rest[1:], true, 3
	}
	if len(rest) == 1 && strings.EqualFold(rest[0], "health") {
		if r.Method != http.MethodHead && r.Method != http.MethodGet {
			w.Header().Set("Allow", "HEAD, GET")
			writeError(w, r, &apiError{http.StatusMethodNotAllowed, "Error.MethodNotAllowed", "health supports HEAD and GET"})
			return
		}
		if s.isClosed() {
			writeError(w, r, errUnavailable(errServiceClosed.Error()))
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if len(rest) < 2 || !strings.EqualFold(rest[0], "hubs") {
		writeError(w, r, errNotFound("no such REST operation"))
		return
	}
	table := apiRoutes
	if v1 {
		table = v1Routes
	}
	rt, params, allowed := match(table, r.Method, rest[2:])
	if rt == nil {
		if allowed != nil {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, &apiError{http.StatusMethodNotAllowed, "Error.MethodNotAllowed", "method " + r.Method + " is not allowed here"})
			return
		}
		writeError(w, r, errNotFound("no such REST operation"))
		return
	}
	q := r.URL.Query()
	if !v1 && q.Get("api-version") == "" {
		writeError(w, r, errBadRequest("the api-version query parameter is required, e.g. api-version=2022-06-01"))
		return
	}
	if _, err := s.authenticate(r, restAudience(r, segs, hubIndex)); err != nil {
		writeError(w, r, errUnauthorized(err.Error()))
		return
	}
	if s.isClosed() {
		writeError(w, r, errUnavailable(errServiceClosed.Error()))
		return
	}
	hubName := rest[1]
	if !hubNamePattern.MatchString(hubName) {
		writeError(w, r, errBadRequest("invalid hub name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$"))
		return
	}
	if app := q.Get("application"); app != "" {
		if !hubNamePattern.MatchString(app) {
			writeError(w, r, errBadRequest("invalid application name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$"))
			return
		}
		hubName = app + "_" + hubName
	}
	if e := checkParams(params); e != nil {
		writeError(w, r, e)
		return
	}
	call := &restCall{r: r, hub: strings.ToLower(hubName), params: params}
	body, e := rt.op(s, call)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if body != nil {
		writeJSON(w, rt.status, body)
		return
	}
	w.WriteHeader(rt.status)
}

// checkParams validates path parameters as the service does.
func checkParams(params map[string]string) *apiError {
	if g, ok := params["group"]; ok && !validGroupName(g) {
		return errBadRequest("invalid group name: it must have 1 to 1024 characters")
	}
	if u, ok := params["user"]; ok && u == "" {
		return errBadRequest("the user id is empty")
	}
	if c, ok := params["connectionId"]; ok && c == "" {
		return errBadRequest("the connection id is empty")
	}
	return nil
}

func (s *Service) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// payload reads a PayloadMessage body, {"target":"...","arguments":[...]},
// and returns it as the message to deliver.
func payload(r *http.Request) (*sendMessage, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMessageSize+1))
	if err != nil {
		return nil, errBadRequest("cannot read the request body")
	}
	if len(body) > maxMessageSize {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "Error.PayloadTooLarge", "the message is larger than 1 MiB"}
	}
	var msg struct {
		Target    *string         `json:"target"`
		Arguments json.RawMessage `json:"arguments"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&msg); err != nil {
		return nil, errBadRequest("the body is not a JSON object {\"target\":\"...\",\"arguments\":[...]}")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errBadRequest("the body has data after its JSON object")
	}
	if msg.Target == nil || *msg.Target == "" {
		return nil, errBadRequest("the message target is required and must not be empty")
	}
	args := bytes.TrimSpace(msg.Arguments)
	if bytes.Equal(args, []byte("null")) {
		args = nil
	}
	if len(args) > 0 && args[0] != '[' {
		return nil, errBadRequest("the message arguments must be an array")
	}
	m, err := newSendMessage(*msg.Target, args)
	if err != nil {
		return nil, errBadRequest("the message arguments are not valid JSON")
	}
	return m, nil
}

// everyConn picks every connection of the hub.
func everyConn(h *hub, emit func(*conn)) {
	for _, conn := range h.conns {
		emit(conn)
	}
}

// userConns picks the connections of user.
func userConns(user string) connPicker {
	return func(h *hub, emit func(*conn)) {
		for conn := range h.users[user] {
			emit(conn)
		}
	}
}

// connByID picks the connection id, if it is in the hub.
func connByID(id string) connPicker {
	return func(h *hub, emit func(*conn)) {
		if conn := h.conns[id]; conn != nil {
			emit(conn)
		}
	}
}

// groupConns picks the members of group at the time of the pick, as a
// user's membership may expire.
func groupConns(s *Service, group string) connPicker {
	return func(h *hub, emit func(*conn)) { h.groupMembers(group, s.now(), emit) }
}

// except leaves the connections in excluded out of pick.
func except(pick connPicker, excluded map[string]bool) connPicker {
	if excluded == nil {
		return pick
	}
	return func(h *hub, emit func(*conn)) {
		pick(h, func(conn *conn) {
			if !excluded[conn.id] {
				emit(conn)
			}
		})
	}
}

// sendTo delivers the call's payload to the connections pick chooses.
func (s *Service) sendTo(c *restCall, pick connPicker) (any, *apiError) {
	f, e := payload(c.r)
	if e != nil {
		return nil, e
	}
	s.fanOut(c.hub, f, pick)
	return nil, nil
}

func opBroadcast(s *Service, c *restCall) (any, *apiError) {
	return s.sendTo(c, except(everyConn, excludedSet(c.r.URL.Query())))
}

func opSendToUser(s *Service, c *restCall) (any, *apiError) {
	return s.sendTo(c, userConns(c.params["user"]))
}

func opSendToConnection(s *Service, c *restCall) (any, *apiError) {
	return s.sendTo(c, connByID(c.params["connectionId"]))
}

func opSendToGroup(s *Service, c *restCall) (any, *apiError) {
	return s.sendTo(c, except(groupConns(s, c.params["group"]), excludedSet(c.r.URL.Query())))
}

// closeConns closes the connections that pick chooses, except the excluded
// ones, with the reason query parameter as the close message's error.
func (s *Service) closeConns(c *restCall, pick connPicker) (any, *apiError) {
	q := c.r.URL.Query()
	var conns []*conn
	s.mu.RLock()
	if h := s.hubs[c.hub]; h != nil {
		except(pick, excludedSet(q))(h, func(conn *conn) { conns = append(conns, conn) })
	}
	s.mu.RUnlock()
	msg := &closeMessages{reason: q.Get("reason")}
	for _, conn := range conns {
		conn.end(msg.forConn(conn), msg.reason, true, "closed by a REST call")
	}
	return nil, nil
}

func opCloseAll(s *Service, c *restCall) (any, *apiError) { return s.closeConns(c, everyConn) }

func opCloseUser(s *Service, c *restCall) (any, *apiError) {
	return s.closeConns(c, userConns(c.params["user"]))
}

func opCloseGroup(s *Service, c *restCall) (any, *apiError) {
	return s.closeConns(c, groupConns(s, c.params["group"]))
}

func opCloseConnection(s *Service, c *restCall) (any, *apiError) {
	return s.closeConns(c, connByID(c.params["connectionId"]))
}

// Bounds of the duration query parameters: both are int32 in the service's
// swagger (2022-06-01 and later). A value out of range is refused rather than
// wrapped into a time in the past.
const (
	maxMinutesToExpire = math.MaxInt32
	maxTTLSeconds      = math.MaxInt32
)

// intParam parses q's parameter name as an integer from lo to hi; an empty
// value gives def.
func intParam(q url.Values, name string, lo, hi, def int64) (int64, *apiError) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errBadRequest(fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi))
	}
	return n, nil
}

func opGenerateToken(s *Service, c *restCall) (any, *apiError) {
	q := c.r.URL.Query()
	minutes, e := intParam(q, "minutesToExpire", 1, maxMinutesToExpire, 60)
	if e != nil {
		return nil, e
	}
	token, err := s.signClientToken(c.r, c.hub, q.Get("userId"), minutes)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, "Error.Internal", "cannot sign the token"}
	}
	return struct {
		Token string `json:"token"`
	}{token}, nil
}

// exists answers an existence check: 200, or 404 with code.
func (s *Service) exists(c *restCall, code, what string, test func(h *hub) bool) (any, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if h := s.hubs[c.hub]; h != nil && test(h) {
		return nil, nil
	}
	return nil, errNotExisted(code, what)
}

func opConnectionExists(s *Service, c *restCall) (any, *apiError) {
	id := c.params["connectionId"]
	return s.exists(c, "Warning.Connection.NotExisted", "connection "+strconv.Quote(id)+" does not exist", func(h *hub) bool {
		return h.conns[id] != nil
	})
}

func opUserExists(s *Service, c *restCall) (any, *apiError) {
	u := c.params["user"]
	return s.exists(c, "Warning.User.NotExisted", "user "+strconv.Quote(u)+" has no connection", func(h *hub) bool {
		return len(h.users[u]) > 0
	})
}

func opGroupExists(s *Service, c *restCall) (any, *apiError) {
	g := c.params["group"]
	now := s.now()
	return s.exists(c, "Warning.Group.NotExisted", "group "+strconv.Quote(g)+" has no connection", func(h *hub) bool {
		return h.hasMember(g, now)
	})
}

func opUserInGroup(s *Service, c *restCall) (any, *apiError) {
	u, g := c.params["user"], c.params["group"]
	now := s.now()
	return s.exists(c, "Info.User.NotInGroup", "user "+strconv.Quote(u)+" is not in group "+strconv.Quote(g), func(h *hub) bool {
		return h.userInGroup(u, g, now)
	})
}

// connectionNotExisted is the 404 of a group operation on a missing connection.
func connectionNotExisted(id string) *apiError {
	return errNotExisted("Error.Connection.NotExisted", "connection "+strconv.Quote(id)+" does not exist")
}

// changeGroup applies change (join or leave) to the call's connection and
// group, or answers 404 when the connection is not in the hub.
func (s *Service) changeGroup(c *restCall, change func(h *hub, group string, conn *conn)) (any, *apiError) {
	id, g := c.params["connectionId"], c.params["group"]
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hubLocked(c.hub, false)
	if h == nil || h.conns[id] == nil {
		return nil, connectionNotExisted(id)
	}
	change(h, g, h.conns[id])
	return nil, nil
}

func opAddConnectionToGroup(s *Service, c *restCall) (any, *apiError) {
	return s.changeGroup(c, (*hub).joinGroup)
}

func opRemoveConnectionFromGroup(s *Service, c *restCall) (any, *apiError) {
	return s.changeGroup(c, (*hub).leaveGroup)
}

func opRemoveConnectionFromAllGroups(s *Service, c *restCall) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubLocked(c.hub, false); h != nil {
		if conn := h.conns[c.params["connectionId"]]; conn != nil {
			for g := range conn.groups {
				h.leaveGroup(g, conn)
			}
		}
	}
	return nil, nil
}

func opAddUserToGroup(s *Service, c *restCall) (any, *apiError) {
	u, g := c.params["user"], c.params["group"]
	var expiry time.Time
	ttl, e := intParam(c.r.URL.Query(), "ttl", 0, maxTTLSeconds, -1)
	if e != nil {
		return nil, e
	}
	if ttl > 0 {
		expiry = s.now().Add(time.Duration(ttl) * time.Second) // at most 68 years: no overflow
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hubLocked(c.hub, true)
	if ttl == 0 {
		// Only the user's current connections join.
		for conn := range h.users[u] {
			h.joinGroup(g, conn)
		}
	} else {
		h.addUserToGroup(u, g, expiry)
	}
	s.pruneExpiredLocked(c.hub, h)
	return nil, nil
}

func opRemoveUserFromGroup(s *Service, c *restCall) (any, *apiError) {
	u, g := c.params["user"], c.params["group"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubLocked(c.hub, false); h != nil {
		h.removeUserFromGroup(u, g)
		for conn := range h.users[u] {
			h.leaveGroup(g, conn)
		}
		s.pruneExpiredLocked(c.hub, h)
	}
	return nil, nil
}

func opRemoveUserFromAllGroups(s *Service, c *restCall) (any, *apiError) {
	u := c.params["user"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubLocked(c.hub, false); h != nil {
		h.removeUserFromAllGroups(u)
		for conn := range h.users[u] {
			for g := range conn.groups {
				h.leaveGroup(g, conn)
			}
		}
		s.pruneExpiredLocked(c.hub, h)
	}
	return nil, nil
}
