package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for a custom handler: with
// FAKE_HANDLER_MARK set it exits with "address already in use" the first
// time (as a handler whose port another process took) and serves GET / on
// FUNCTIONS_CUSTOMHANDLER_PORT the next.
func TestMain(m *testing.M) {
	if mark := os.Getenv("FAKE_HANDLER_MARK"); mark != "" {
		if _, err := os.Stat(mark); err != nil {
			os.WriteFile(mark, nil, 0o600)
			fmt.Fprintln(os.Stderr, "listen tcp 127.0.0.1:1: bind: address already in use")
			os.Exit(1)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
		if err != nil {
			os.Exit(1)
		}
		http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	}
	os.Exit(m.Run())
}

// TestChildLostPortIsLaunchedAgain: a handler that lost its port between
// freePort and its listen is started again on another port.
func TestChildLostPortIsLaunchedAgain(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "lost-once")
	c, err := startChild(os.Args[0], t.TempDir(), "FAKE_HANDLER_MARK="+mark)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	first := c.addr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.waitReady(ctx); err != nil {
		t.Fatalf("waitReady: got %v, want the child ready on another port", err)
	}
	if c.lost != 1 {
		t.Errorf("got %d lost ports, want 1", c.lost)
	}
	if c.addr == first {
		t.Errorf("got the same address %s after the port was lost, want another", c.addr)
	}
}
