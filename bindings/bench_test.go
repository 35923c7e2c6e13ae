package bindings_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// benchKeyClient is a Client with access-key auth for hub "chat", for
// benchmarks that never reach the service.
func benchKeyClient(b *testing.B) *bindings.Client {
	b.Helper()
	return mustNewClient(b, &settings.Connection{Endpoint: "https://x.service.signalr.net", AccessKey: testKey}, "chat", bindings.Options{})
}

// benchNegotiate measures c.Negotiate for one user.
func benchNegotiate(b *testing.B, c *bindings.Client) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Negotiate(ctx, "user-12345", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNegotiateAccessKey(b *testing.B) {
	benchNegotiate(b, benchKeyClient(b))
}

func BenchmarkNegotiateEntraCachedKey(b *testing.B) {
	ks := newKeyService(b, 0)
	c := entraClient(b, ks, &fake.TokenCredential{}, time.Now)
	if _, err := c.Negotiate(context.Background(), "", nil); err != nil { // fetch the key once
		b.Fatal(err)
	}
	benchNegotiate(b, c)
	if got := ks.exchanges(); got != 1 {
		b.Fatalf("exchanges: got %d, want 1", got)
	}
}

func BenchmarkNegotiateAccessKeyParallel(b *testing.B) {
	c := benchKeyClient(b)
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
	c := benchKeyClient(b)
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

// BenchmarkNegotiateEndpoints compares negotiate with one endpoint and with
// three (a random online primary per call).
func BenchmarkNegotiateEndpoints(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			specs := []endpointSpec{{name: ""}, {name: "east"}, {name: "west"}}[:n]
			benchNegotiate(b, mustNewClient(b, multiConn(b, specs...), "chat", bindings.Options{Logger: slog.New(slog.DiscardHandler)}))
		})
	}
}

// BenchmarkSendEndpoints compares one broadcast to one fake service and to
// two (concurrent calls), on loopback.
func BenchmarkSendEndpoints(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			var specs []endpointSpec
			for i := range n {
				specs = append(specs, endpointSpec{name: string(rune('a' + i)), srv: newFakeService(b, nil)})
			}
			opts := multiOptions(&testkit.Buffer{})
			c := mustNewClient(b, multiConn(b, specs...), "chat", opts)
			ops := []bindings.Operation{msg(bindings.Message{Target: "newMessage", Arguments: raws(`"hello"`)})}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Send(ctx, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
