// Package localservice is an embedded, serverless-mode SignalR service that
// behaves like Azure SignalR Service for clients and for REST callers, so the
// whole negotiate/connect/send flow works offline.
package localservice
