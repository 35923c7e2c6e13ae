// Command triggerapp is the end-to-end tests' function app for the SignalR
// trigger: functions that return values, fail, record order, refuse a
// connection and report disconnections, on hub "trig"; and a timer, tick,
// that broadcasts its TimerInfo.
package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
)

func main() {
	app := functions.New()
	hub := app.Hub(functions.SignalR{HubName: "trig"})
	app.HTTP("negotiate", hub.NegotiateHandler(""))

	var mu sync.Mutex
	seqs := map[string][]int{} // by connection

	app.SignalRTrigger("connected", hub, functions.Connections, functions.Connected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			if inv.UserID == "reject-me" {
				return nil, errors.New("not welcome")
			}
			return nil, nil
		})
	app.SignalRTrigger("disconnected", hub, functions.Connections, functions.Disconnected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			mu.Lock()
			delete(seqs, inv.ConnectionID)
			mu.Unlock()
			_, err := hub.Send(ctx, functions.Message{Target: "left", Arguments: []any{inv.ConnectionID, inv.UserID, inv.Error}})
			return nil, err
		})
	app.SignalRTrigger("echo", hub, functions.Messages, "echo",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var v any
			err := inv.Bind(functions.Named("value", &v))
			return v, err
		})
	app.SignalRTrigger("fail", hub, functions.Messages, "fail",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var msg string
			if err := inv.Bind(functions.Named("message", &msg)); err != nil {
				return nil, err
			}
			return nil, errors.New(msg)
		})
	app.SignalRTrigger("notify", hub, functions.Messages, "notify",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var text string
			if err := inv.Bind(functions.Named("text", &text)); err != nil {
				return nil, err
			}
			_, err := hub.Send(ctx, functions.Message{Target: "notified", ConnectionID: inv.ConnectionID, Arguments: []any{text, inv.UserID}})
			return nil, err
		})
	app.SignalRTrigger("seq", hub, functions.Messages, "seq",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var n int
			if err := inv.Bind(functions.Named("n", &n)); err != nil {
				return nil, err
			}
			mu.Lock()
			seqs[inv.ConnectionID] = append(seqs[inv.ConnectionID], n)
			mu.Unlock()
			return nil, nil
		})
	app.SignalRTrigger("seqDone", hub, functions.Messages, "seqDone",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			return seqs[inv.ConnectionID], nil
		})
	app.Timer("tick", func(ctx context.Context, t functions.TimerInfo) error {
		next := ""
		if t.ScheduleStatus != nil {
			next = t.ScheduleStatus.Next.UTC().Format(time.RFC3339)
		}
		_, err := hub.Send(ctx, functions.Message{Target: "tick", Arguments: []any{t.IsPastDue, next}})
		return err
	})
	app.Main()
}
