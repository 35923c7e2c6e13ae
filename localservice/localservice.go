// Package localservice is an embedded, serverless-mode SignalR service that
// behaves like Azure SignalR Service for clients and for REST callers, so the
// whole negotiate/connect/send flow works offline.
//
// It speaks the client side of the service (negotiate, WebSockets,
// Server-Sent Events and long polling; the JSON hub protocol, and the
// MessagePack one over WebSockets and long polling) and its
// data-plane REST API in both the api-version and the v1 forms, and checks
// access tokens as the service does: HS256 with the access key, exp and aud
// enforced. Users, groups and connections follow the service's rules. Each
// connection has an outbound queue bounded by messages and bytes, drained by
// one writer, so a client that stops reading is dropped instead of slowing
// down the others or holding memory; a client's partial message is bounded
// too, and a client that sends nothing is closed after the client timeout.
// Serve runs it behind an http.Server with timeouts and a connection cap.
package localservice
