// Package e2e holds end-to-end tests: they build the funcsignalr binary,
// lay it out as it is deployed, and drive it the way the Azure Functions
// host does (internal/funchost), with the official @microsoft/signalr
// client (e2e/node) as the SignalR client.
package e2e
