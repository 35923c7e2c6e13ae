// Command funcsignalr is an Azure Functions custom handler that emulates
// the Azure SignalR Service bindings (negotiate and send) in Go.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/funcsignalr/funcsignalr/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, _ := os.Getwd()
	err := app.Run(ctx, app.Env{Args: os.Args[1:], Environ: os.Environ(), Dir: dir,
		Stdout: os.Stdout, Stderr: os.Stderr, Setenv: os.Setenv})
	switch {
	case errors.Is(err, app.ErrUsage):
		os.Exit(2) // Run printed the mistake and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "funcsignalr:", err)
		os.Exit(1)
	}
}
