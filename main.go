// Command funcsignalr is an Azure Functions custom handler with the Azure
// SignalR Service bindings in Go: the function app at the repository root,
// whose negotiate and send functions do what the official
// signalRConnectionInfo and signalR bindings do.
package main

import "github.com/funcsignalr/funcsignalr/functions"

func main() {
	app := functions.New()
	hub := app.Hub(functions.SignalR{}) // AzureSignalRConnectionString, hub AzureSignalRHubName
	app.HTTP("negotiate", hub.NegotiateHandler(functions.DefaultUserID))
	app.HTTP("send", hub.SendHandler())
	app.Main()
}
