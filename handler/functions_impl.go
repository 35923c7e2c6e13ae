package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// negotiateFunc is the negotiate function: what the signalRConnectionInfo
// input binding returns, as the HTTP response.
type negotiateFunc struct {
	cfg    *Config
	userID expression
	// warnedPrincipal is set once an undecodable x-ms-client-principal
	// has been logged: the warning is not repeated on every request.
	warnedPrincipal atomic.Bool
}

// claims returns the claims of x-ms-client-principal that the function
// lists. An undecodable header gives none: the caller still gets a token,
// and the first such header is logged.
func (f *negotiateFunc) claims(r *http.Request) map[string][]string {
	var types []string
	if ct, ok := f.cfg.Negotiator.(ClaimTyper); ok {
		types = ct.ClaimTypes()
	}
	if len(types) == 0 {
		return nil
	}
	h := r.Header[principalHeader]
	if len(h) == 0 || h[0] == "" {
		return nil
	}
	claims, err := principalClaims(h[0], types)
	if err != nil {
		if f.warnedPrincipal.CompareAndSwap(false, true) {
			f.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn,
				"negotiate: ignoring an undecodable x-ms-client-principal header (logged once)",
				slog.String("problem", err.Error()))
		}
		return nil
	}
	return claims
}

func (f *negotiateFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, err := f.cfg.Negotiator.Negotiate(r.Context(), f.userID.eval(r), f.claims(r))
	if err != nil {
		logFailure(f.cfg.Logger, r, "negotiate", err)
		Respond(w, err)
		return
	}
	// Negotiate is the hot path (every client connection starts here):
	// its two strings are written without reflection.
	body := make([]byte, 0, len(info.URL)+len(info.AccessToken)+40)
	body = append(body, `{"url":`...)
	body = appendJSONString(body, info.URL)
	body = append(body, `,"accessToken":`...)
	body = appendJSONString(body, info.AccessToken)
	body = append(body, '}')
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// jsonContentType is shared by every JSON answer; net/http only reads it.
var jsonContentType = []string{"application/json; charset=utf-8"}

// appendJSONString appends s as encoding/json would write it: strings
// without characters to escape (URLs, JWTs) are copied as they are.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// sendFunc is the send function: the body's messages and group actions,
// carried out by the signalR output binding.
type sendFunc struct{ cfg *Config }

type sendResult struct {
	Sent int `json:"sent"`
}

func (f *sendFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := checkJSONContentType(r.Header.Get("Content-Type"), isStandalone(r)); err != nil {
		Respond(w, err)
		return
	}
	body, err := ReadBody(w, r, apierror.InvalidJSON)
	if err != nil {
		Respond(w, err)
		return
	}
	ops, err := bindings.DecodeSend(body)
	if err != nil {
		Respond(w, err)
		return
	}
	sent, err := f.cfg.Sender.Send(r.Context(), ops)
	if err != nil && errors.Is(context.Cause(r.Context()), ErrShutdown) {
		err = apierror.New(apierror.ServiceTimeout,
			"the handler shut down before the batch was carried out: %d of %d objects sent", sent, len(ops))
	}
	if err != nil {
		logFailure(f.cfg.Logger, r, "send", err, "sent", sent, "of", len(ops))
		writeError(w, err, sent)
		return
	}
	writeJSON(w, http.StatusAccepted, sendResult{Sent: sent})
}

// checkJSONContentType accepts a JSON media type (application/json,
// text/json, application/*+json), and an undeclared body unless declared
// is set. The Functions host only forwards requests that carry the
// function key; without it (standalone), an undeclared body could come
// from any web page: a cross-site POST without a Content-Type, or with
// text/plain, needs no CORS preflight, while one declared as JSON does.
func checkJSONContentType(ct string, declared bool) error {
	if strings.TrimSpace(ct) == "" {
		if !declared {
			return nil
		}
		return apierror.New(apierror.UnsupportedMediaType, "the body has no Content-Type; declare it as JSON (Content-Type: application/json)")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "text/json" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	return apierror.New(apierror.UnsupportedMediaType, "the body is declared as %q; send takes JSON (Content-Type: application/json)", clip.String(ct))
}

// logFailure logs why a function failed: at error for failures of the
// handler or the service (5xx), at warn for the caller's mistakes (4xx),
// which anyone can cause and so must not fill the error log.
func logFailure(logger *slog.Logger, r *http.Request, fn string, err error, args ...any) {
	code, message := classify(err)
	level := slog.LevelWarn
	if apierror.Status(code) >= 500 {
		level = slog.LevelError
	}
	logger.LogAttrs(r.Context(), level, fn+" failed",
		append([]slog.Attr{slog.String("code", code), slog.String("message", message)}, argsToAttrs(args)...)...)
}

func argsToAttrs(args []any) []slog.Attr {
	var attrs []slog.Attr
	for i := 0; i+1 < len(args); i += 2 {
		attrs = append(attrs, slog.Any(fmt.Sprint(args[i]), args[i+1]))
	}
	return attrs
}

// expression is a binding expression such as "{headers.x-ms-client-principal-id}"
// or "user-{query.id}": literal text and {headers.NAME} / {query.NAME}
// placeholders.
type expression []exprPart

type exprPart struct {
	literal string
	source  string // "", "headers" or "query"
	name    string
}

var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

func parseExpression(s string) (expression, error) {
	var e expression
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			e = append(e, exprPart{literal: s[last:m[0]]})
		}
		inner := s[m[2]:m[3]]
		source, name, ok := strings.Cut(inner, ".")
		source = strings.ToLower(source)
		if !ok || name == "" || (source != "headers" && source != "query") {
			return nil, fmt.Errorf("unsupported binding expression {%s}: use {headers.NAME} or {query.NAME}", inner)
		}
		if source == "headers" {
			name = http.CanonicalHeaderKey(name)
		}
		e = append(e, exprPart{source: source, name: name})
		last = m[1]
	}
	if last < len(s) {
		e = append(e, exprPart{literal: s[last:]})
	}
	for _, p := range e {
		if strings.ContainsAny(p.literal, "{}") {
			return nil, errors.New("unbalanced braces in binding expression " + s)
		}
	}
	return e, nil
}

// eval resolves the expression against r. If any placeholder resolves to
// nothing, the whole value is empty (no user), as an unresolved binding
// expression gives no user id.
func (e expression) eval(r *http.Request) string {
	var b strings.Builder
	for _, p := range e {
		var v string
		switch p.source {
		case "":
			v = p.literal
		case "headers":
			if vs := r.Header[p.name]; len(vs) > 0 { // name canonicalized at parse time
				v = vs[0]
			}
		case "query":
			v = r.URL.Query().Get(p.name)
		}
		if p.source != "" && v == "" {
			return ""
		}
		b.WriteString(v)
	}
	return b.String()
}
