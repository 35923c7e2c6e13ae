package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

// upstreamFunction is the signalr HTTP function: it checks an upstream
// request from Azure SignalR Service (or the embedded local service),
// dispatches it on (hub, category, event) to a SignalR trigger function and
// answers as the official extension does: a framed completion for an
// invocation the client waits on, 403 to reject a connection, 200 otherwise.
type upstreamFunction struct {
	app    *App
	routes atomic.Pointer[routes] // set by route at start-up

	mu    sync.Mutex
	conns map[string]*connLock // one connection's events run one at a time
}

// connLock serialises one connection's events; refs counts its holders and
// waiters, so the map holds only connections with events in flight.
type connLock struct {
	mu   sync.Mutex
	refs int
}

func (u *upstreamFunction) lock(connectionID string) func() {
	u.mu.Lock()
	if u.conns == nil {
		u.conns = map[string]*connLock{}
	}
	l := u.conns[connectionID]
	if l == nil {
		l = &connLock{}
		u.conns[connectionID] = l
	}
	l.refs++
	u.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		u.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(u.conns, connectionID)
		}
		u.mu.Unlock()
	}
}

func (u *upstreamFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := u.app.Logger()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		handler.Respond(w, apierror.New(apierror.MethodNotAllowed, "the SignalR upstream endpoint accepts POST"))
		return
	}
	// Azure SignalR Service carries client messages of at most 1 MiB.
	body, err := handler.ReadBody(w, r, apierror.InvalidMessage)
	if err != nil {
		handler.Respond(w, err)
		return
	}
	rt := u.routes.Load()
	if rt == nil { // route runs before the handler serves
		handler.Respond(w, apierror.New(apierror.InternalError, "the SignalR trigger functions are not set up"))
		return
	}
	req, err := upstream.Parse(r.Header, body, rt.upstreamKeys(r.Header.Get(upstream.HeaderHub)))
	if err != nil {
		var ue *apierror.Error
		if !errors.As(err, &ue) {
			ue = apierror.New(apierror.InvalidMessage, "unreadable upstream request")
		}
		log.LogAttrs(r.Context(), slog.LevelWarn, "SignalR upstream request refused",
			slog.Int("status", apierror.Status(ue.Code)), slog.String("code", ue.Code), slog.String("message", ue.Message))
		handler.Respond(w, ue)
		return
	}
	t := rt.findTrigger(req.Hub, Category(req.Category), req.Event)
	if t == nil {
		e := apierror.New(apierror.NotFound, "no SignalR trigger function for hub %q, category %q, event %q", clip.String(req.Hub), req.Category, clip.String(req.Event))
		log.LogAttrs(r.Context(), slog.LevelWarn, "SignalR upstream request for no function", slog.String("message", e.Message))
		handler.Respond(w, e)
		return
	}
	inv := &InvocationContext{
		Hub: req.Hub, Category: Category(req.Category), Event: req.Event, ConnectionID: req.ConnectionID,
		UserID: req.UserID, Query: req.Query, Headers: req.Headers, Arguments: req.Arguments,
		InvocationID: req.InvocationID, Error: req.Error,
	}
	for _, c := range req.Claims {
		inv.Claims = append(inv.Claims, Claim{Type: c.Type, Value: c.Value})
	}

	unlock := u.lock(req.ConnectionID)
	result, err := callTrigger(r.Context(), t, inv, log)
	unlock()

	switch {
	case errors.Is(err, handler.ErrPanic):
		handler.Respond(w, apierror.New(apierror.InternalError, "the SignalR trigger function %s panicked; see the log", t.name))
		return
	case req.Type == upstream.TypeConnected:
		if err != nil {
			log.LogAttrs(r.Context(), slog.LevelInfo, "connection rejected by "+t.name,
				slog.String("connectionId", req.ConnectionID), slog.String("reason", clip.String(err.Error())))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	case req.Type != upstream.TypeInvocation || req.InvocationID == "":
		if err != nil {
			log.LogAttrs(r.Context(), slog.LevelWarn, "SignalR trigger function failed",
				slog.String("function", t.name), slog.String("error", clip.String(err.Error())))
		}
		w.WriteHeader(http.StatusOK)
		return
	}

	var raw json.RawMessage
	errMsg := ""
	if err != nil {
		errMsg = err.Error()
		if errMsg == "" {
			errMsg = "the function " + t.name + " failed"
		}
		log.LogAttrs(r.Context(), slog.LevelDebug, "SignalR invocation answered with an error",
			slog.String("function", t.name), slog.String("error", clip.String(errMsg)))
	} else if raw, err = json.Marshal(result); err != nil {
		log.LogAttrs(r.Context(), slog.LevelError, "SignalR trigger function's result is not JSON",
			slog.String("function", t.name), slog.String("error", err.Error()))
		errMsg = "the result of " + t.name + " cannot be sent to the client"
		raw = nil
	}
	completion, err := upstream.Completion(req.Protocol, req.InvocationID, raw, errMsg)
	if err != nil {
		log.LogAttrs(r.Context(), slog.LevelError, "could not build the completion",
			slog.String("function", t.name), slog.String("error", err.Error()))
		handler.Respond(w, apierror.New(apierror.InternalError, "could not build the completion message"))
		return
	}
	ct := upstream.ContentTypeJSON
	if req.Protocol == upstream.ProtocolMessagePack {
		ct = upstream.ContentTypeMessagePack
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	w.Write(completion)
}

// callTrigger runs t's function, turning a panic into handler.ErrPanic after
// logging it with its stack.
func callTrigger(ctx context.Context, t *trigger, inv *InvocationContext, log *slog.Logger) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			handler.LogPanic(ctx, log, t.name, v)
			result, err = nil, handler.ErrPanic
		}
	}()
	return t.fn(ctx, inv)
}

// routes are the upstream endpoint's lookups, built once the bindings are
// resolved (hub names and keys do not change after start-up).
type routes struct {
	triggers map[triggerKey]*trigger
	// keys are, by lower-cased hub, the access keys of the connections of
	// that hub's triggers, each once; all are every trigger's.
	keys map[string][]string
	all  []string
}

// triggerKey is what an upstream request is dispatched on: the hub and the
// event lower-cased (matched in any letter case), the category as is.
type triggerKey struct {
	hub      string
	category Category
	event    string
}

// route builds the routes from the resolved hubs. Two triggers for one
// (hub, category, event) are an error: only the first would ever run.
func (u *upstreamFunction) route() error {
	rt := &routes{triggers: map[triggerKey]*trigger{}, keys: map[string][]string{}}
	var problems []string
	for _, t := range u.app.triggers {
		hub := t.hub.Name()
		k := triggerKey{hub, t.category, strings.ToLower(t.event)}
		if prev, ok := rt.triggers[k]; ok {
			problems = append(problems, fmt.Sprintf("SignalR triggers %s and %s both handle %s/%s on hub %s (hub names and events compare in any letter case)",
				prev.name, t.name, prev.category, prev.event, hub))
			continue
		}
		rt.triggers[k] = t
		keys := rt.keys[hub]
		for _, key := range t.hub.accessKeys() {
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
			if !slices.Contains(rt.all, key) {
				rt.all = append(rt.all, key)
			}
		}
		rt.keys[hub] = keys // present, even empty, for every trigger's hub
	}
	if len(problems) > 0 {
		return errors.New("SignalR triggers conflict:\n  - " + strings.Join(problems, "\n  - "))
	}
	u.routes.Store(rt)
	return nil
}

// findTrigger returns the trigger for (hub, category, event), compared in
// any letter case.
func (rt *routes) findTrigger(hub string, category Category, event string) *trigger {
	return rt.triggers[triggerKey{strings.ToLower(hub), category, strings.ToLower(event)}]
}

// upstreamKeys are the access keys that may sign an upstream request for
// hub: those of the connections of hub's triggers, or of every trigger's
// connection for a hub no trigger names (so that an unsigned caller learns
// nothing about which hubs exist). None when those connections use
// Microsoft Entra ID: then the function key alone protects the endpoint.
func (rt *routes) upstreamKeys(hub string) []string {
	if keys, ok := rt.keys[strings.ToLower(hub)]; ok {
		return keys
	}
	return rt.all
}
