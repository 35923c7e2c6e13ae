package settings_test

import (
	"errors"
	"fmt"

	"github.com/funcsignalr/funcsignalr/settings"
)

func ExampleResolve() {
	v := settings.NewValues(nil, settings.Source{Name: "environment", Pairs: map[string]string{
		"AzureSignalRConnectionString__serviceUri":    "https://chat.service.signalr.net/",
		"AzureSignalRConnectionString__credential":    "managedidentity",
		"AzureSignalRConnectionString__clientId":      "00000000-0000-0000-0000-000000000001",
		"AzureSignalRConnectionString:clientEndpoint": "https://chat.example.com",
	}})
	c, err := settings.Resolve(v, settings.DefaultConnectionStringSetting, settings.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Endpoint)
	fmt.Println(c.ClientEndpoint)
	fmt.Println(c.Auth)

	_, err = settings.Resolve(v, "OtherConnection", settings.Options{})
	fmt.Println(errors.Is(err, settings.ErrNotConfigured))
	fmt.Println(err)
	// Output:
	// https://chat.service.signalr.net
	// https://chat.example.com
	// managed identity (client 00000000-0000-0000-0000-000000000001)
	// true
	// ConfigurationError: SignalR is not configured: set OtherConnection (a connection string) or OtherConnection__serviceUri (identity-based; OtherConnection:serviceUri in local.settings.json)
}

func ExampleLoad() {
	v := settings.NewValues(nil, settings.Source{Name: "environment", Pairs: map[string]string{
		"AzureSignalRHubName":           "chat",
		"AzureSignalRHttpClientTimeout": "00:01:00",
	}})
	s, err := settings.Load(v)
	fmt.Println(s.HubName, s.HTTPClientTimeout, s.LocalAddr, s.Standalone(), err)
	// Output: chat 1m0s 127.0.0.1:8888 true <nil>
}
