// Package bindings emulates the Azure Functions SignalR bindings: client
// access tokens for negotiate (signalRConnectionInfo) and the data-plane REST
// calls behind send (signalR). It knows Azure SignalR Service and nothing
// about HTTP routing.
package bindings
