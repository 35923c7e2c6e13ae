package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
)

// testFunctions is the code app's tests run: negotiate and send on the
// default binding, the functions of the repository's function folders.
func testFunctions() *Functions {
	hub := &lateBinding{}
	negotiate, _ := handler.NegotiateHandler(handler.Config{Negotiator: hub}) // the default user id parses
	return &Functions{
		HTTP:     map[string]http.Handler{"negotiate": negotiate, "send": handler.SendHandler(handler.Config{Sender: hub})},
		Bindings: []Binding{{Resolved: func(rb ResolvedBinding) { hub.rb = rb }}},
	}
}

// lateBinding is a binding resolved at start-up, before the handler serves.
type lateBinding struct{ rb ResolvedBinding }

func (b *lateBinding) Negotiate(ctx context.Context, userID string, claims map[string][]string) (bindings.ConnectionInfo, error) {
	if err := errors.Join(b.rb.Err, b.rb.NegotiateErr); err != nil {
		return bindings.ConnectionInfo{}, err
	}
	return b.rb.Client.Negotiate(ctx, userID, claims)
}

// ClaimTypes are the claim types negotiate copies into client tokens.
func (b *lateBinding) ClaimTypes() []string { return b.rb.ClaimTypes }

func (b *lateBinding) Send(ctx context.Context, ops []bindings.Operation) (int, error) {
	if b.rb.Err != nil {
		return 0, b.rb.Err
	}
	return b.rb.Client.Send(ctx, ops)
}
