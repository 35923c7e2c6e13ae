package localservice

import "github.com/funcsignalr/funcsignalr/internal/devservice"

// DevAccessKey is the public development key of the local service, the one
// the official SignalR emulator (Azure/azure-signalr, Microsoft.Azure.SignalR.Emulator)
// uses too. It is not a secret.
const DevAccessKey = devservice.AccessKey

// ConnectionString is the connection string for a service listening on
// addr, as the official emulator prints it:
// Endpoint=http://<host>;Port=<port>;AccessKey=<DevAccessKey>;Version=1.0;
func ConnectionString(addr string) string { return devservice.ConnectionString(addr) }
