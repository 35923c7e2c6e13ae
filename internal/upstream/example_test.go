package upstream_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

// An invocation from connection.invoke("broadcast", "hi") as Azure SignalR
// Service forwards it, checked against the resource's two access keys and
// answered with the function's result.
func ExampleParse() {
	h := http.Header{}
	h.Set(upstream.HeaderConnectionID, "c1")
	h.Set(upstream.HeaderHub, "chat")
	h.Set(upstream.HeaderCategory, upstream.CategoryMessages)
	h.Set(upstream.HeaderEvent, "broadcast")
	h.Set(upstream.HeaderUserClaims, "name: Alice, role: admin")
	h.Set(upstream.HeaderClientQuery, "?room=lobby")
	h.Set(upstream.HeaderSignature, upstream.Sign("c1", "old-key")+","+upstream.Sign("c1", "primary-key"))
	h.Set("Content-Type", "application/json")
	body := []byte(`{"type":1,"invocationId":"0","target":"broadcast","arguments":["hi"]}`)

	req, err := upstream.Parse(h, body, []string{"primary-key", "secondary-key"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Hub, req.Category, req.Event, req.ConnectionID)
	fmt.Println(req.Claims, req.Query.Get("room"))
	fmt.Printf("%s\n", req.Arguments[0])

	answer, _ := upstream.Completion(req.Protocol, req.InvocationID, json.RawMessage(`{"sent":true}`), "")
	fmt.Printf("%q\n", answer)

	_, err = upstream.Parse(h, body, []string{"another-key"})
	fmt.Println(apierror.Status(err.(*apierror.Error).Code), err)
	// Output:
	// chat messages broadcast c1
	// [{name Alice} {role admin}] lobby
	// "hi"
	// "{\"type\":3,\"invocationId\":\"0\",\"result\":{\"sent\":true}}\x1e"
	// 401 Unauthorized: X-ASRS-Signature matches none of the access keys of the SignalR connection
}
