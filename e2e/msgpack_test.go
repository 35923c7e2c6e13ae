package e2e

import (
	"encoding/json"
	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The MessagePack hub protocol end to end: the official client with
// @microsoft/signalr-protocol-msgpack receives what our send function sends,
// next to a JSON client, over the transports that carry binary data.

// mixedArgs are arguments of every JSON kind, the integers at the edges of
// int64 and uint64; mixedWire is what MessagePack must carry for them
// (msgpacktest.Decode's types: positive integers unsigned, maps as ordered pairs).
const mixedArgs = `42,-7,9223372036854775807,-9223372036854775808,18446744073709551615,1.5,2.0,"ünïcødé ✓",true,false,null,[1,[2,"x"]],{"b":1,"a":{"c":[]}}`

var mixedWire = []any{
	int8(42), int8(-7), uint64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), 1.5, 2.0, "ünïcødé ✓", true, false, nil,
	[]any{int8(1), []any{int8(2), "x"}}, [][2]any{{"b", int8(1)}, {"a", [][2]any{{"c", []any{}}}}},
}

// TestMessagePackClients has a MessagePack client and a JSON client in one
// group receive broadcast, user, group and connection sends with mixed
// argument types through our send function, over WebSockets and long
// polling: the values arrive equal to what was sent, and on the wire the
// MessagePack client got integers as integers and other numbers as float64.
func TestMessagePackClients(t *testing.T) {
	requireNode(t)
	for _, transport := range []string{"WebSockets", "LongPolling"} {
		t.Run(transport, func(t *testing.T) {
			a := startStandalone(t)
			suffix := strings.ToLower(transport)
			alice, bob, room := "alice-mp-"+suffix, "bob-json-"+suffix, "room-mp-"+suffix
			args := func(tag string) json.RawMessage { return json.RawMessage(`["` + tag + `",` + mixedArgs + `]`) }
			routes := []struct {
				tag  string
				op   op
				json bool // the JSON client gets it too
			}{
				{"broadcast", op{}, true},
				{"user", op{"userId": alice}, false},
				{"group", op{"groupName": room}, true},
				{"connection", nil, false}, // to the MessagePack client's connection id, known once it connects
			}
			var wantMP, wantJSON []message
			for _, r := range routes {
				m := message{"mixed", canonicalJSON(args(r.tag))}
				wantMP = append(wantMP, m)
				if r.json {
					wantJSON = append(wantJSON, m)
				}
			}
			mp := startClient(t, "messagepack ("+alice+")", clientOptions{URL: a.base + "/api", Transport: transport, User: alice,
				Protocol: "messagepack", Targets: []string{"mixed"}, Expect: len(wantMP), Timeout: 2 * time.Minute})
			js := startClient(t, "json ("+bob+")", clientOptions{URL: a.base + "/api", Transport: transport, User: bob,
				Targets: []string{"mixed"}, Expect: len(wantJSON), Timeout: 2 * time.Minute})
			mpID, jsID := connectedOver(t, mp, transport), connectedOver(t, js, transport)
			routes[3].op = op{"connectionId": mpID}
			a.send(t, op{"action": "add", "groupName": room, "connectionId": mpID}, op{"action": "add", "groupName": room, "connectionId": jsID})
			for _, r := range routes {
				o := op{"target": "mixed", "arguments": args(r.tag)}
				for k, v := range r.op {
					o[k] = v
				}
				a.send(t, o)
			}

			for _, c := range []struct {
				client *nodeClient
				want   []message
			}{{mp, wantMP}, {js, wantJSON}} {
				events, code := c.client.finish(t, 30*time.Second)
				if diff := diffMessages(messages(events), c.want); diff != "" || code != clientOK {
					t.Errorf("client %s (exit code %d): %s\n%s", c.client.name, code, diff, c.client.describe())
				}
			}
			events, _ := mp.snapshot()
			for _, e := range events {
				if e.Event != "message" {
					continue
				}
				if len(e.Raw) == 0 {
					t.Fatalf("client %s: message without its raw bytes: %s", mp.name, e)
				}
				inv, ok := msgpacktest.Decode(t, e.Raw).([]any)
				if !ok || len(inv) != 5 {
					t.Fatalf("got invocation %#v, want [1, {}, nil, target, arguments]", inv)
				}
				want := append([]any{strings.Trim(string(e.Args[0]), `"`)}, mixedWire...)
				if got := inv[4]; !reflect.DeepEqual(got, want) {
					t.Errorf("arguments on the wire: got %#v, want %#v", got, want)
				}
			}
		})
	}
}
