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
// connection has a bounded outbound queue drained by one writer, so a client
// that stops reading is dropped instead of slowing down the others.
package localservice
