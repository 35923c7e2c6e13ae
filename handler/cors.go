package handler

import (
	"net/http"
	"slices"
	"strings"
)

// cors answers CORS for the standalone handler (under the Functions host,
// CORS is the host's job). SignalR's browser client sends credentials, so
// an allowed origin is echoed with Access-Control-Allow-Credentials, even
// for "*": a wildcard origin cannot carry credentials.
func cors(origins []string, next http.Handler) http.Handler {
	any := slices.Contains(origins, "*")
	allowed := func(origin string) bool {
		return origin != "" && (any || slices.ContainsFunc(origins, func(o string) bool {
			return strings.EqualFold(strings.TrimRight(o, "/"), origin)
		}))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if !allowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
