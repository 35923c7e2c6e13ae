package localservice

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

func TestMessagePackInvocationsGoUpstream(t *testing.T) {
	resultCompletion, _ := upstream.Completion(upstream.ProtocolMessagePack, "1", []byte(`{"ok":[1,2.5]}`), "")
	tests := []struct {
		name    string
		msg     []byte
		respond func(w http.ResponseWriter, r *http.Request, req upRequest)
		want    []any // the completion the client gets; nil: none
	}{
		{
			name:    "invoke: the upstream's completion as it is",
			msg:     msgpacktest.Message(t, 1, map[string]string{}, "1", "echo", []any{1, "x"}),
			respond: func(w http.ResponseWriter, _ *http.Request, _ upRequest) { w.Write(resultCompletion) },
			want:    []any{int8(msgCompletion), [][2]any{}, "1", int8(3), [][2]any{{"ok", []any{int8(1), 2.5}}}},
		},
		{
			name:    "invoke answered by an empty 200: a completion without result",
			msg:     msgpacktest.Message(t, 1, map[string]string{}, "2", "echo", []any{}),
			respond: func(http.ResponseWriter, *http.Request, upRequest) {},
			want:    []any{int8(msgCompletion), [][2]any{}, "2", int8(2)},
		},
		{
			name:    "invoke answered by 204",
			msg:     msgpacktest.Message(t, 1, map[string]string{}, "3", "echo", []any{}),
			respond: func(w http.ResponseWriter, _ *http.Request, _ upRequest) { w.WriteHeader(http.StatusNoContent) },
			want:    []any{int8(msgCompletion), [][2]any{}, "3", int8(2)},
		},
		{
			name:    "invoke answered by 404: a completion with the error",
			msg:     msgpacktest.Message(t, 1, map[string]string{}, "4", "echo", []any{}),
			respond: func(w http.ResponseWriter, _ *http.Request, _ upRequest) { w.WriteHeader(http.StatusNotFound) },
			want:    []any{int8(msgCompletion), [][2]any{}, "4", int8(1), "Invocation failed, status code 404"},
		},
		{
			name:    "send: no completion",
			msg:     msgpacktest.Message(t, 1, map[string]string{}, nil, "echo", []any{true}),
			respond: func(w http.ResponseWriter, _ *http.Request, _ upRequest) { w.Write(resultCompletion) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
				if req.header.Get("X-ASRS-Category") == "messages" {
					tt.respond(w, r, req)
				}
			})
			e := newUpstreamEnv(t, u, "/api/signalr", Options{}, nil)
			c := e.dialMsgpack("chat", "u")
			u.nextEvent("connected")
			c.writeBinary(msgpackhub.AppendFrame(nil, tt.msg))
			r := u.nextEvent("echo")
			if ct := r.header.Get("Content-Type"); ct != upstream.ContentTypeMessagePack {
				t.Errorf("got Content-Type %q, want %s", ct, upstream.ContentTypeMessagePack)
			}
			if r.body != string(tt.msg) {
				t.Errorf("got body % x, want the client's message % x without its prefix", r.body, tt.msg)
			}
			if tt.want == nil {
				// A broadcast after the send arrives first: no completion came.
				e.send("chat", "", "after")
				if got := c.next(); got[0] != int8(msgInvocation) || got[3] != "after" {
					t.Fatalf("got %#v, want the invocation of after and no completion", got)
				}
				return
			}
			if got := c.next(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestMessagePackInvocationRefused(t *testing.T) {
	tests := []struct {
		name      string
		msg       []byte
		wantClose string
	}{
		{"stream ids", msgpacktest.Message(t, 1, map[string]string{}, "1", "upload", []any{}, []string{"s"}), reasonStreaming},
		{"target not a string", msgpacktest.Message(t, 1, map[string]string{}, "1", 5, []any{}),
			"Connection closed with an error. InvalidDataException: the invocation target is not a string"},
		{"stream invocation", msgpacktest.Message(t, 4, map[string]string{}, "1", "s", []any{}), reasonStreaming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			e := newUpstreamEnv(t, u, "/api/signalr", Options{}, nil)
			c := e.dialMsgpack("chat", "u")
			u.nextEvent("connected")
			c.writeBinary(msgpackhub.AppendFrame(nil, tt.msg))
			if got, want := c.expectClose(), []any{int8(msgClose), tt.wantClose, false}; !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
			if r := u.nextEvent("disconnected"); r.body != `{"type":11,"error":"`+tt.wantClose+`"}` {
				t.Errorf("got disconnected body %s, want the close error", r.body)
			}
		})
	}
}

func TestMessagePackClientCloseErrorGoesUpstream(t *testing.T) {
	u := newFakeUpstream(t)
	e := newUpstreamEnv(t, u, "/api/signalr", Options{}, nil)
	c := e.dialMsgpack("chat", "u")
	u.nextEvent("connected")
	c.writeBinary(msgpackhub.AppendFrame(nil, msgpackhub.AppendClose(nil, "bye now", false)))
	if r := u.nextEvent("disconnected"); r.body != `{"type":11,"error":"bye now"}` {
		t.Errorf("got disconnected body %s, want the client's close error", r.body)
	}
}
