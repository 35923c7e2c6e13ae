package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// InvokeFunc runs a function of a trigger other than HTTP (timer, queue, …)
// for one invocation from the Functions host. Its error fails the
// invocation: the host gets a non-2xx answer and logs the failure.
type InvokeFunc func(ctx context.Context, fn Function, req *InvokeRequest) (*InvocationResult, error)

// InvocationResult is a successful invocation's answer to the host:
// output binding values by name, log lines and the return value.
type InvocationResult struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// ErrPanic marks an error made from a recovered panic. Its text never holds
// the panic value, which may carry anything the function had at hand.
var ErrPanic = errors.New("the function panicked")

// invocationHandler serves POST /<name> for a non-HTTP function: the host's
// {"Data","Metadata"} in, {"Outputs","Logs","ReturnValue"} out (200), or a
// contract JSON error with a non-2xx status when the function fails, which
// the host records as a failed invocation.
func invocationHandler(fn Function, invoke InvokeFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			Respond(w, apierror.New(apierror.MethodNotAllowed, "the invocation endpoint /%s accepts POST", fn.Name))
			return
		}
		req, err := decodeEnvelope(http.MaxBytesReader(w, r.Body, maxEnvelopeBytes))
		if err != nil {
			Respond(w, err)
			return
		}
		res, err := callInvoke(r.Context(), fn, invoke, req, logger)
		if err != nil {
			logger.LogAttrs(r.Context(), slog.LevelError, "function failed",
				slog.String("function", fn.Name), slog.String("trigger", fn.Trigger), slog.String("error", err.Error()))
			if errors.Is(err, ErrPanic) {
				err = apierror.New(apierror.InternalError, "the function %s panicked; see the log", fn.Name)
			} else if code, _ := classify(err); code == apierror.InternalError {
				err = apierror.New(apierror.InternalError, "the function %s failed: %s", fn.Name, clip.String(err.Error()))
			}
			Respond(w, err)
			return
		}
		if res == nil {
			res = &InvocationResult{}
		}
		if res.Outputs == nil {
			res.Outputs = map[string]any{}
		}
		if res.Logs == nil {
			res.Logs = []string{}
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// callInvoke runs invoke, turning a panic into an ErrPanic error after
// logging it with its stack.
func callInvoke(ctx context.Context, fn Function, invoke InvokeFunc, req *InvokeRequest, logger *slog.Logger) (res *InvocationResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			LogPanic(ctx, logger, fn.Name, v)
			res, err = nil, ErrPanic
		}
	}()
	return invoke(ctx, fn, req)
}

// recoverHTTP answers 500 InternalError (without the panic's text) when an
// HTTP function panics before writing its answer, and logs the panic with
// its stack; the process keeps serving. http.ErrAbortHandler keeps its
// meaning: the request is aborted without a log line.
func recoverHTTP(name string, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			LogPanic(r.Context(), logger, name, v)
			if !tw.wrote {
				Respond(w, apierror.New(apierror.InternalError, "the function %s panicked; see the log", name))
				return
			}
			panic(http.ErrAbortHandler) // part of the answer is out: cut the connection
		}()
		next.ServeHTTP(tw, r)
	})
}

// panicMessage is the log message of a recovered panic.
const panicMessage = "function panicked"

// LogPanic logs a panic recovered from function name, with its value and
// stack, at error level: function code owns what it panics with, and the
// log is where its author finds it.
func LogPanic(ctx context.Context, logger *slog.Logger, name string, v any) {
	logger.LogAttrs(ctx, slog.LevelError, panicMessage,
		slog.String("function", name), slog.String("panic", clip.String(fmt.Sprint(v))),
		slog.String("stack", string(debug.Stack())))
}

// trackingWriter records whether anything was written, so a recovered panic
// knows whether an error answer can still be sent.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data, for functions that stream (Server-Sent Events).
func (w *trackingWriter) Flush() {
	w.wrote = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
