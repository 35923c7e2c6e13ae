package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/funcsignalr/funcsignalr/app"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/timer"
	"github.com/funcsignalr/funcsignalr/settings"
)

// Env is the process's view of the world that Run uses: arguments,
// environment, the app root (host.json and the function folders), output
// streams. Main fills it from the process; tests fill it themselves.
type Env = app.Env

// Run runs the function app until ctx ends, then shuts down gracefully:
// under the Functions host when FUNCTIONS_CUSTOMHANDLER_PORT is set,
// standalone otherwise (local.settings.json and .env read, timers fired on
// their schedules, the embedded local SignalR service started when no
// connection is configured). Settings errors do not stop it: they are
// logged and answered by the functions that use them. A mismatch between
// function folders and registrations does: Run returns it.
func (a *App) Run(ctx context.Context, env Env) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("functions: Run called twice")
	}
	a.running = true
	a.mu.Unlock()
	return app.Run(ctx, env, a.functions())
}

// Main runs the app as a program: from the process's arguments,
// environment and working directory, until SIGINT or SIGTERM. -h prints
// the usage (flags, the local-service subcommand, the settings that
// matter); a mistake in the arguments prints it on stderr and exits 2; a
// start-up error is printed and exits 1.
func (a *App) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, _ := os.Getwd()
	name := filepath.Base(os.Args[0])
	err := a.Run(ctx, Env{Args: os.Args[1:], Environ: os.Environ(), Dir: dir, Name: name,
		Stdout: os.Stdout, Stderr: os.Stderr, Setenv: os.Setenv})
	stop()
	switch {
	case errors.Is(err, app.ErrUsage):
		os.Exit(2) // Run printed the mistake and the usage
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// functions hands the registrations to the app wiring.
func (a *App) functions() *app.Functions {
	fns := &app.Functions{
		Check:       a.check,
		HTTP:        map[string]http.Handler{},
		Invocations: map[string]handler.InvokeFunc{},
		Logger:      func(l *slog.Logger) { a.log.Store(l) },
	}
	for name, h := range a.http {
		fns.HTTP[name] = h
	}
	for name, fn := range a.timers {
		fns.Invocations[name] = hostTimer(fn)
	}
	for name, fn := range a.generic {
		fns.Invocations[name] = hostGeneric(fn)
	}
	if len(a.triggers) > 0 {
		up := &upstreamFunction{app: a}
		fns.HTTP[UpstreamFunction] = up
		fns.Upstream = UpstreamFunction
		fns.Ready = up.route
	}
	if len(a.timers) > 0 {
		fns.Standalone = a.runTimers
	}
	for _, h := range a.hubs {
		opts := bindings.Options{TokenLifetime: h.binding.AccessTokenLifetime}
		fns.Bindings = append(fns.Bindings, app.Binding{
			Setting: h.binding.ConnectionStringSetting, Hub: h.binding.HubName, Options: opts,
			Resolved: h.setResolved,
		})
	}
	return fns
}

// check compares the function folders with the registrations and reports
// every mismatch in one error. It keeps the timer schedules it parses for
// the standalone runner.
func (a *App) check(fa handler.App) error {
	var problems []string
	a.schedules = map[string]timer.Schedule{}
	folders := map[string]handler.Function{}
	for _, fn := range fa.Functions {
		folders[strings.ToLower(fn.Name)] = fn
		if len(fn.Official) > 0 {
			problems = append(problems, fmt.Sprintf(
				"%s/function.json declares the official SignalR extension's binding type %s: a custom handler gets those "+
					"only through an extension bundle, where the Functions host runs them itself. With funcsignalr, "+
					"remove it from function.json and declare the binding in Go: hub := app.Hub(functions.SignalR{HubName: \"…\"}), "+
					"then hub.NegotiateHandler(…) for signalRConnectionInfo, hub.Send(…) for signalR, "+
					"app.SignalRTrigger(…) for signalRTrigger",
				fn.Name, strings.Join(fn.Official, ", ")))
			continue
		}
		want := kindOf(fn)
		if want == kindTimer {
			sched, err := timer.Parse(fn.Schedule)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/function.json: %v", fn.Name, err))
			} else {
				a.schedules[fn.Name] = sched
			}
		}
		if strings.EqualFold(fn.Name, UpstreamFunction) && len(a.triggers) > 0 {
			if want != kindHTTP {
				problems = append(problems, fmt.Sprintf("%s/function.json must have an httpTrigger: it receives the SignalR service's upstream requests", fn.Name))
			} else if _, mine := a.kinds[strings.ToLower(fn.Name)]; mine {
				problems = append(problems, fmt.Sprintf("%s is the upstream function of the SignalR triggers; funcsignalr serves it, do not register it", fn.Name))
			} else if !fn.Allows(http.MethodPost) {
				problems = append(problems, fmt.Sprintf("%s/function.json must allow POST: the SignalR service posts upstream requests", fn.Name))
			}
			continue
		}
		got, ok := a.kinds[strings.ToLower(fn.Name)]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("function folder %s (%s) has no code: register it with %s",
				fn.Name, fn.Trigger, registerCall(want, fn.Name)))
		case got == kindSignalR:
			problems = append(problems, fmt.Sprintf("%s is a SignalR trigger function, which has no folder (the service's events reach it through %s/); remove the folder %s/ or rename the function",
				fn.Name, UpstreamFunction, fn.Name))
		case got != want:
			problems = append(problems, fmt.Sprintf("%s is registered as a %s function but %s/function.json has a %s (register it with %s)",
				fn.Name, got, fn.Name, fn.Trigger, registerCall(want, fn.Name)))
		}
	}
	for _, name := range a.names {
		k := a.kinds[strings.ToLower(name)]
		if k == kindSignalR {
			continue
		}
		if _, ok := folders[strings.ToLower(name)]; !ok {
			problems = append(problems, fmt.Sprintf("%s is registered as a %s function but there is no folder %s/ with a function.json (the Functions host finds functions by folder)",
				name, k, name))
		}
	}
	if len(a.triggers) > 0 {
		if _, ok := folders[UpstreamFunction]; !ok {
			names := make([]string, len(a.triggers))
			for i, t := range a.triggers {
				names[i] = t.name
			}
			problems = append(problems, fmt.Sprintf("the SignalR trigger functions (%s) need the folder %s/ with a function.json: "+
				`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`,
				strings.Join(names, ", "), UpstreamFunction))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New("function folders and code do not match:\n  - " + strings.Join(problems, "\n  - "))
}

func kindOf(fn handler.Function) kind {
	switch fn.Trigger {
	case handler.TriggerHTTP:
		return kindHTTP
	case handler.TriggerTimer:
		return kindTimer
	}
	return kindGeneric
}

func registerCall(k kind, name string) string {
	switch k {
	case kindHTTP:
		return fmt.Sprintf("app.HTTP(%q, handler)", name)
	case kindTimer:
		return fmt.Sprintf("app.Timer(%q, fn)", name)
	}
	return fmt.Sprintf("app.Generic(%q, fn)", name)
}

// timeZone is the time zone of NCRONTAB schedules: the app setting
// WEBSITE_TIME_ZONE (an IANA name on Linux plans) or TZ, else UTC, as on
// Azure Functions. A name that is not a known zone is logged and skipped.
func timeZone(values *settings.Values, log *slog.Logger) *time.Location {
	for _, key := range []string{"WEBSITE_TIME_ZONE", "TZ"} {
		v, spelling, ok := values.Get(key)
		if !ok {
			continue
		}
		loc, err := time.LoadLocation(v)
		if err == nil {
			return loc
		}
		log.Warn("unknown time zone: timer schedules ignore this setting (Linux plans take an IANA name such as Europe/Paris)",
			"setting", spelling, "error", err.Error())
	}
	return time.UTC
}
