package localservice

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// splitPath splits an escaped URL path into unescaped segments, so that an
// escaped slash (a%2Fb) stays inside its segment. A trailing slash is
// ignored; empty inner segments are kept.
func splitPath(escaped string) ([]string, error) {
	escaped = strings.TrimPrefix(escaped, "/")
	escaped = strings.TrimSuffix(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	segs := strings.Split(escaped, "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, err
		}
		segs[i] = u
	}
	return segs, nil
}

// apiError is an error answer: status, the x-ms-error-code and the
// ErrorDetail message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func errBadRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "Error.BadRequest", msg}
}

func errUnauthorized(msg string) *apiError {
	return &apiError{http.StatusUnauthorized, "Error.Unauthorized", msg}
}

func errNotFound(msg string) *apiError {
	return &apiError{http.StatusNotFound, "Error.NotFound", msg}
}

func errConflict(msg string) *apiError {
	return &apiError{http.StatusConflict, "Error.Conflict", msg}
}

func errUnavailable(msg string) *apiError {
	return &apiError{http.StatusServiceUnavailable, "Error.ServiceUnavailable", msg}
}

// errNotExisted is the 404 of a failed existence check or of an operation
// on a missing connection.
func errNotExisted(code, msg string) *apiError {
	return &apiError{http.StatusNotFound, code, msg}
}

// writeError answers e as the service does: x-ms-error-code and a JSON
// ErrorDetail body (none for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	h := w.Header()
	h.Set("x-ms-error-code", e.code)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	writeJSON(w, e.status, struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.code, e.message})
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// connPicker calls emit for each connection of h that an operation
// targets; it runs with the service's lock held.
type connPicker func(h *hub, emit func(*conn))

// fanOut queues m for every connection that pick chooses in hub, without
// blocking: a connection whose queue is full is closed as too slow instead.
// m is serialized at most once per hub protocol.
func (s *Service) fanOut(hubName string, m *sendMessage, pick connPicker) {
	var slow []*conn
	var convErr error
	s.mu.RLock()
	if h := s.hubs[hubName]; h != nil {
		pick(h, func(c *conn) {
			data, err := m.forConn(c)
			if err != nil {
				convErr = err
				return
			}
			if !c.enqueue(frame{data: data}) {
				slow = append(slow, c)
			}
		})
	}
	s.mu.RUnlock()
	if convErr != nil {
		s.log.Error("SignalR message not delivered to MessagePack clients", "hub", hubName, "target", m.target, "error", convErr)
	}
	for _, c := range slow {
		s.log.Warn("SignalR client too slow: closing its connection", "hub", c.hub, "connectionId", c.id,
			"queued", c.out.len(), "queuedBytes", c.out.bytes(), "sendBuffer", s.sendBuffer, "sendBufferBytes", s.sendBytes)
		c.closeWithError(reasonSlowClient, false, false, "send buffer full")
	}
}

// excludedSet is the set of connection ids in the excluded query parameters.
func excludedSet(q url.Values) map[string]bool {
	ids := q["excluded"]
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}
