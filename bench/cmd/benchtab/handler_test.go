package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/localservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

// The benchmarks below serve one negotiate request in-process, without the
// network, so that `go test -bench . -cpuprofile` shows where the handler
// spends what the negotiate rows of the table measure. They are not tests:
// plain `go test` runs nothing here.
//
//	go test -run '^$' -bench . -benchmem -cpuprofile cpu.out ./bench/cmd/benchtab

// newNegotiateHandler builds the handler as the app does: the repository's
// function folders, a client with an access key, a logger at info level.
func newNegotiateHandler(tb testing.TB) http.Handler {
	tb.Helper()
	app, err := handler.LoadApp("../../..")
	if err != nil {
		tb.Fatal(err)
	}
	client, err := bindings.NewClient(&settings.Connection{
		Endpoint:  "http://127.0.0.1:8888",
		AccessKey: "BENCH-ACCESS-KEY-0123456789abcdefghijklmnopqrstu",
	}, "default", bindings.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(client.Close)
	h, err := handler.New(handler.Config{
		App: app, Negotiator: client, Sender: client,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// discardWriter is the cheapest http.ResponseWriter: what both handlers
// write costs the same inside net/http, so it is left out.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func serveNegotiate(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodPost, negotiatePath, nil).WithContext(context.Background())
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusOK || w.n < 250 {
		b.Fatalf("answer %d with %d bytes, want 200 with a negotiate body", w.status, w.n)
	}
}

// BenchmarkNegotiateHandler is funcsignalr's negotiate function.
func BenchmarkNegotiateHandler(b *testing.B) { serveNegotiate(b, newNegotiateHandler(b)) }

// BenchmarkNegotiateBare is bench/baseline's handler: fixed bytes.
func BenchmarkNegotiateBare(b *testing.B) {
	body := make([]byte, 302)
	serveNegotiate(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}))
}

// BenchmarkNegotiateBinding is the binding alone: the client token.
func BenchmarkNegotiateBinding(b *testing.B) {
	client, err := bindings.NewClient(&settings.Connection{
		Endpoint: "http://127.0.0.1:8888", AccessKey: "BENCH-ACCESS-KEY-0123456789abcdefghijklmnopqrstu",
	}, "default", bindings.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Negotiate(ctx, "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// newLocalService serves the embedded local service on loopback.
func newLocalService(tb testing.TB) *httptest.Server {
	tb.Helper()
	svc := localservice.New(localservice.Options{})
	srv := httptest.NewServer(svc)
	tb.Cleanup(func() { srv.Close(); svc.Close() })
	return srv
}

// BenchmarkSendFunction is funcsignalr's send function broadcasting to an
// empty hub of the local service: decoding, the binding's REST call through
// its azcore pipeline, the service's REST handler.
func BenchmarkSendFunction(b *testing.B) {
	srv := newLocalService(b)
	app, err := handler.LoadApp("../../..")
	if err != nil {
		b.Fatal(err)
	}
	conn := settings.LocalConnection(strings.TrimPrefix(srv.URL, "http://"))
	client, err := bindings.NewClient(conn, "default", bindings.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.Close)
	h, err := handler.New(handler.Config{App: app, Negotiator: client, Sender: client,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		b.Fatal(err)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		req := httptest.NewRequest(http.MethodPost, "/api/send", strings.NewReader(`{"target":"bench","arguments":[1]}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("send answered %d", w.status)
		}
	}
}

// BenchmarkSendREST is the same broadcast as a plain REST call: a token
// signed per request and net/http's client.
func BenchmarkSendREST(b *testing.B) {
	srv := newLocalService(b)
	paths := &sendPaths{rest: &restCaller{hc: &http.Client{}, base: srv.URL}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := paths.send(ctx, true, 1); err != nil {
			b.Fatal(err)
		}
	}
}
