package upstream

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// FuzzParse feeds arbitrary headers and bodies to Parse. It never panics; a
// refusal is always an *apierror.Error with a known code, its status, a bounded
// message and neither the key nor the signature in it; an accepted request
// is consistent: a known category and type, the protocol of its
// Content-Type, an
// invocation's target equal to its event up to case, and valid JSON
// arguments.
func FuzzParse(f *testing.F) {
	sig := Sign(testConnID, testKey)
	seeds := []struct {
		connID, hub, category, event, signature, claims, query, contentType, body string
		checkKeys                                                                 bool
	}{
		{testConnID, "chat", "messages", "broadcast", sig, "sub: 1, name: A", "?a=1", "application/json",
			`{"type":1,"invocationId":"0","target":"broadcast","arguments":["hi",{"x":1}]}`, true},
		{testConnID, "chat", "connections", "connected", sig, "", "", "application/json; charset=utf-8", `{"type":10}`, true},
		{testConnID, "chat", "connections", "disconnected", sig, "", "", "application/json", `{"Type":11,"Error":"e"}`, true},
		{testConnID, "chat", "Messages", "Echo", sig + ",sha256=00", "", "", "application/json",
			`{"Type":1,"Target":"echo","Arguments":null}` + "\x1e", true},
		{testConnID, "chat", "messages", "t", "sha256=00", "", "", "application/json", `{"type":1,"target":"t"}`, false},
		{testConnID, "chat", "messages", "t", sig, "", "", "application/x-msgpack", "\x95\x01\x80\xc0\xa1t\x90", true},
		{testConnID, "chat", "messages", "t", sig, "", "", "application/x-msgpack", "\x95\x01\x80\xa10\xa1t\x92\xc4\x01\xff\xd6\xff\x00\x00\x00\x01", true},
		{"", "", "", "", "", "oops", "?%zz;", "text/plain", "\x00", true},
		{testConnID, "chat", "messages", "t", sig, "a:", "", "application/json", `{"type":1e400}`, true},
	}
	for _, s := range seeds {
		f.Add(s.connID, s.hub, s.category, s.event, s.signature, s.claims, s.query, s.contentType, []byte(s.body), s.checkKeys)
	}
	f.Fuzz(func(t *testing.T, connID, hub, category, event, signature, claims, query, contentType string, body []byte, checkKeys bool) {
		h := http.Header{}
		for name, v := range map[string]string{
			HeaderConnectionID: connID, HeaderHub: hub, HeaderCategory: category, HeaderEvent: event,
			HeaderSignature: signature, HeaderUserClaims: claims, HeaderClientQuery: query, "Content-Type": contentType,
		} {
			if v != "" {
				h.Set(name, v)
			}
		}
		var keys []string
		if checkKeys {
			keys = []string{testKey}
		}
		req, err := Parse(h, body, keys)
		if err != nil {
			var e *apierror.Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v (%T), want *apierror.Error", err, err)
			}
			switch e.Code {
			case apierror.InvalidMessage, apierror.Unauthorized, apierror.UnsupportedMediaType:
			default:
				t.Fatalf("got code %q, want InvalidMessage, Unauthorized or UnsupportedMediaType", e.Code)
			}
			// Fixed text plus at most two quoted echoes of clip.MaxRunes
			// characters (plus the ellipsis), each quoted in at most ten
			// bytes (\U0010ffff).
			if len(e.Message) > 2*(10*(clip.MaxRunes+1)+2)+200 {
				t.Fatalf("got a message of %d bytes, want it bounded", len(e.Message))
			}
			echoed := strings.Join([]string{connID, hub, category, event, claims, query, contentType, string(body)}, "\n")
			if strings.Contains(e.Message, testKey) ||
				(len(signature) >= 8 && strings.Contains(e.Message, signature) && !strings.Contains(echoed, signature)) {
				t.Fatalf("got message %q, want it without the key or the signature", e.Message)
			}
			if req != nil {
				t.Fatalf("got a request with error %v", err)
			}
			return
		}
		wantProtocol := ProtocolJSON
		if strings.Contains(strings.ToLower(contentType), "msgpack") {
			wantProtocol = ProtocolMessagePack
		}
		if req.ConnectionID == "" || req.Hub == "" || req.Event == "" || req.Query == nil || req.Protocol != wantProtocol {
			t.Fatalf("got incomplete request %+v", req)
		}
		switch {
		case req.Category == CategoryConnections && req.Type == TypeConnected && strings.EqualFold(req.Event, EventConnected):
		case req.Category == CategoryConnections && req.Type == TypeDisconnected && strings.EqualFold(req.Event, EventDisconnected):
		case req.Category == CategoryMessages && req.Type == TypeInvocation && strings.EqualFold(req.Target, req.Event):
		default:
			t.Fatalf("got inconsistent request: category %q type %d event %q target %q", req.Category, req.Type, req.Event, req.Target)
		}
		for i, a := range req.Arguments {
			if !json.Valid(a) {
				t.Fatalf("got argument %d %q, want valid JSON", i, a)
			}
		}
	})
}
