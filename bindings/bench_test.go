package bindings_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

func BenchmarkNegotiateAccessKey(b *testing.B) {
	c := mustNewClient(b, &settings.Connection{Endpoint: "https://x.service.signalr.net", AccessKey: testKey}, "chat", bindings.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Negotiate(ctx, "user-12345", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNegotiateEntraCachedKey(b *testing.B) {
	ks := newKeyService(b, 0)
	c := entraClient(b, ks, &fake.TokenCredential{}, time.Now)
	ctx := context.Background()
	if _, err := c.Negotiate(ctx, "", nil); err != nil { // fetch the key once
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Negotiate(ctx, "user-12345", nil); err != nil {
			b.Fatal(err)
		}
	}
	if got := ks.exchanges(); got != 1 {
		b.Fatalf("exchanges: got %d, want 1", got)
	}
}

func BenchmarkNegotiateAccessKeyParallel(b *testing.B) {
	c := mustNewClient(b, &settings.Connection{Endpoint: "https://x.service.signalr.net", AccessKey: testKey}, "chat", bindings.Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Negotiate(context.Background(), "user-12345", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBuildSendRequest(b *testing.B) {
	c := mustNewClient(b, &settings.Connection{Endpoint: "https://x.service.signalr.net", AccessKey: testKey}, "chat", bindings.Options{})
	op := msg(bindings.Message{Target: "newMessage", UserID: "user-12345", Arguments: raws(`"hello"`, `{"from":"alice","n":1}`)})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bindings.BuildSendRequest(ctx, c, &op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSend(b *testing.B) {
	body := []byte(`[{"target":"newMessage","userId":"u1","arguments":["hello",{"from":"alice","n":1}]},{"action":"add","groupName":"g","userId":"u1"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bindings.DecodeSend(body); err != nil {
			b.Fatal(err)
		}
	}
}
