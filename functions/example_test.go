package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/funcsignalr/funcsignalr/functions"
)

// A function app with a negotiate function, a user function that sends, a
// timer and a SignalR trigger function, run in-process on free ports.
func ExampleApp() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	folder := func(name, functionJSON string) {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(functionJSON), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"app"},"enableForwardingHttpRequest":true}}`), 0o644)
	folder("negotiate", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},{"type":"http","direction":"out","name":"res"}]}`)
	folder("hello", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["post"]},{"type":"http","direction":"out","name":"res"}]}`)
	folder("ticker", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"0 0 * * * *"}]}`)
	folder("signalr", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`)

	app := functions.New()
	chat := app.Hub(functions.SignalR{HubName: "chat"})
	app.HTTP("negotiate", chat.NegotiateHandler(""))
	app.HTTP("hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := chat.Send(r.Context(), functions.Message{Target: "newMessage", Arguments: []any{"hello"}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "sent %d", n)
	}))
	app.Timer("ticker", func(ctx context.Context, t functions.TimerInfo) error {
		_, err := chat.Send(ctx, functions.Message{Target: "tick"})
		return err
	})
	app.SignalRTrigger("broadcast", chat, functions.Messages, "broadcast",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var text string
			if err := inv.Bind(&text); err != nil {
				return nil, err
			}
			_, err := chat.Send(ctx, functions.Message{Target: "newMessage", Arguments: []any{inv.UserID, text}})
			return nil, err
		})

	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 2)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, functions.Env{Dir: dir, Environ: []string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"},
			Stdout: io.Discard, Stderr: io.Discard, Addr: "127.0.0.1:0",
			Listening: func(name, a string) {
				if name == "handler" {
					addr <- a
				}
			}})
	}()
	base := "http://" + <-addr + "/api/"

	resp, _ := http.Post(base+"hello", "text/plain", nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	resp, _ = http.Get(base + "negotiate")
	var info functions.ConnectionInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.HasSuffix(info.URL, "/client/?hub=chat"), info.AccessToken != "")

	cancel()
	fmt.Println(<-done)
	// Output:
	// 200 sent 1
	// 200 true true
	// <nil>
}

// Bind checks a client's arguments and says what was expected.
func ExampleInvocationContext_Bind() {
	inv := &functions.InvocationContext{Event: "sendToUser", Arguments: []json.RawMessage{[]byte(`"bob"`)}}
	var user, text string
	err := inv.Bind(functions.Named("userId", &user), functions.Named("text", &text))
	fmt.Println(err)

	inv.Arguments = append(inv.Arguments, []byte(`"hi"`))
	err = inv.Bind(functions.Named("userId", &user), functions.Named("text", &text))
	fmt.Println(err, user, text)
	// Output:
	// sendToUser expects 2 arguments (userId string, text string), got 1
	// <nil> bob hi
}
