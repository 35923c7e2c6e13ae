package bindings_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// TestBatchCap checks that a send of more than MaxBatch objects is refused,
// decoded or built in Go, naming the cap, and that nothing of it is sent.
func TestBatchCap(t *testing.T) {
	body := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(`{"target":"t"},`, n), ",") + "]")
	}
	if ops, err := bindings.DecodeSend(body(bindings.MaxBatch)); err != nil || len(ops) != bindings.MaxBatch {
		t.Fatalf("got %d ops, %v; want %d and no error", len(ops), err, bindings.MaxBatch)
	}
	_, err := bindings.DecodeSend(body(bindings.MaxBatch + 1))
	if e := asError(t, err); e.Code != apierror.InvalidMessage || !strings.Contains(e.Message, "1000") {
		t.Errorf("got %+v, want InvalidMessage naming the cap of 1000", e)
	}

	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	ops := make([]bindings.Operation, bindings.MaxBatch+1)
	for i := range ops {
		ops[i] = msg(bindings.Message{Target: "t"})
	}
	n, err := c.Send(context.Background(), ops)
	if e := asError(t, err); n != 0 || e.Code != apierror.InvalidMessage || !strings.Contains(e.Message, "1000") {
		t.Errorf("got %d, %+v; want 0 and InvalidMessage naming the cap", n, e)
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("got %d requests, want none", got)
	}
}

// TestReachBoundIsExact sends to ids of growing length, plain and needing
// escapes, and checks that the REST token of the longest id accepted is at
// most MaxTokenLength and within a few characters of it, that every longer
// id is refused up front (nothing sent), and that negotiate refuses every
// user id that a send could not reach.
func TestReachBoundIsExact(t *testing.T) {
	tests := []struct {
		name  string
		unit  string // repeated to make the id
		route func(id string) bindings.Operation
		user  bool // the id is a user id: negotiate must agree
		max   int  // units the search may go up to; default 4096
	}{
		{"user id", "a", func(id string) bindings.Operation { return msg(bindings.Message{Target: "t", UserID: id}) }, true, 0},
		{"user id needing escapes", "é", func(id string) bindings.Operation { return msg(bindings.Message{Target: "t", UserID: id}) }, true, 0},
		{"connection id", "c", func(id string) bindings.Operation { return msg(bindings.Message{Target: "t", ConnectionID: id}) }, false, 0},
		{"group name", "/", func(id string) bindings.Operation { return msg(bindings.Message{Target: "t", GroupName: id}) }, false, bindings.MaxGroupNameLength},
		{"user in a group", "u", func(id string) bindings.Operation {
			return group(bindings.GroupAction{Action: "add", UserID: id, GroupName: "g"})
		}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, nil)
			c := keyClient(t, srv.Server, "chat", testOptions(srv.Server))
			// try sends an id of n units: the token it went with, or 0 when
			// it was refused up front.
			try := func(n int) int {
				t.Helper()
				id := strings.Repeat(tt.unit, n)
				before := len(srv.requests())
				_, err := c.Send(context.Background(), []bindings.Operation{tt.route(id)})
				if tt.user {
					// The client token holds the user id twice, so negotiate may
					// refuse an id first; it must refuse every id a send cannot reach.
					_, negErr := c.Negotiate(context.Background(), id, nil)
					if err != nil && negErr == nil {
						t.Fatalf("length %d: negotiate accepted a user id that send refused (%v)", n, err)
					}
					if negErr != nil {
						if e := asError(t, negErr); e.Code != apierror.InvalidMessage {
							t.Fatalf("length %d: negotiate got %+v, want InvalidMessage", n, e)
						}
					}
				}
				reqs := srv.requests()
				if err != nil {
					if e := asError(t, err); e.Code != apierror.InvalidMessage || !strings.Contains(e.Message, "4096") {
						t.Fatalf("length %d: got %+v, want InvalidMessage naming the limit", n, e)
					}
					if len(reqs) != before {
						t.Fatalf("length %d: refused, yet %d requests were sent", n, len(reqs)-before)
					}
					return 0
				}
				tok := bearer(t, reqs[len(reqs)-1].Header)
				verifyToken(t, tok, testKey)
				if len(tok) > bindings.MaxTokenLength {
					t.Fatalf("length %d: sent a token of %d characters, want at most %d", n, len(tok), bindings.MaxTokenLength)
				}
				return len(tok)
			}
			// Binary search for the longest id sent: lo is sent, hi refused.
			lo, hi := 1, 4096
			if tt.max != 0 {
				hi = tt.max
			}
			if try(lo) == 0 || try(hi) != 0 {
				t.Fatalf("got the shortest id refused or the longest sent, want a bound between")
			}
			for hi-lo > 1 {
				if mid := (lo + hi) / 2; try(mid) != 0 {
					lo = mid
				} else {
					hi = mid
				}
			}
			longestToken, lastAccepted := try(lo), lo
			for n := hi; n < hi+3; n++ {
				if try(n) != 0 {
					t.Errorf("length %d sent, though %d was refused", n, hi)
				}
			}
			// One more unit adds at most 12 escaped characters to the path:
			// 16 to the base64 payload.
			if slack := bindings.MaxTokenLength - longestToken; slack < 0 || slack > 16 {
				t.Errorf("got the longest accepted id (%d units) with a token of %d characters, want within 16 of %d",
					lastAccepted, longestToken, bindings.MaxTokenLength)
			}
		})
	}
}

// TestUserIDBoundErrsLowByLittle checks the bound under which Negotiate
// accepts a user id without building its REST call: an id whose escaped
// form fits it is sent, and one more than 32 escaped bytes over it (the 30
// of the widest times, and base64 rounding) is refused.
func TestUserIDBoundErrsLowByLittle(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "chat", testOptions(srv.Server))
	bound := bindings.MaxUserIDPath(c)
	send := func(id string) error {
		_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", UserID: id})})
		return err
	}
	for _, tt := range []struct {
		unit    string
		escaped int // bytes of one unit, escaped
	}{{"a", 1}, {"/", 3}, {"é", 6}} {
		if err := send(strings.Repeat(tt.unit, bound/tt.escaped)); err != nil {
			t.Errorf("%q × %d (within the bound %d): got %v, want it sent", tt.unit, bound/tt.escaped, bound, err)
		}
		over := (bound+32)/tt.escaped + 1
		if e := asError(t, send(strings.Repeat(tt.unit, over))); e.Code != apierror.InvalidMessage {
			t.Errorf("%q × %d (over the bound %d by more than 32): got %+v, want InvalidMessage", tt.unit, over, bound, e)
		}
	}
}

// FuzzPathEscapedLen checks the counted length against url.PathEscape.
func FuzzPathEscapedLen(f *testing.F) {
	for _, s := range []string{"", "user-1", "a/b c", "é", "\xff\x00", "$&+,/:;=?@~%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := bindings.PathEscapedLen(s), len(url.PathEscape(s)); got != want {
			t.Errorf("PathEscapedLen(%q): got %d, want %d", s, got, want)
		}
	})
}

// TestIDsOfTheIssueAreRefused checks the ids that negotiate used to accept
// while no send could reach them.
func TestIDsOfTheIssueAreRefused(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "default", testOptions(srv.Server))
	for _, id := range []string{strings.Repeat("u", 3000), strings.Repeat("é", 700), strings.Repeat("x", 600<<10)} {
		_, err := c.Negotiate(context.Background(), id, nil)
		if e := asError(t, err); e.Code != apierror.InvalidMessage || len(e.Message) > 400 {
			t.Errorf("negotiate(%d bytes): got %+v, want a short InvalidMessage", len(id), e)
		}
		_, err = c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", UserID: id})})
		if e := asError(t, err); e.Code != apierror.InvalidMessage || len(e.Message) > 400 {
			t.Errorf("send(%d bytes): got %+v, want a short InvalidMessage", len(id), e)
		}
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("got %d requests, want none", got)
	}
}

// TestServiceErrorCodeIsChecked checks that x-ms-error-code is repeated
// only when it looks like an error code, and that the path in the message
// is cut.
func TestServiceErrorCodeIsChecked(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"error code", "Error.Connection.NotExisted", "Error.Connection.NotExisted"},
		{"64 characters", strings.Repeat("E", 64), strings.Repeat("E", 64)},
		{"65 characters", strings.Repeat("E", 65), ""},
		{"spaces", "Error Connection", ""},
		{"markup", "<script>alert(1)</script>", ""},
		{"quotes", `Error"Injected`, ""},
		{"long", strings.Repeat("A.", 50000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, func(int, *http.Request) answer {
				return answer{status: http.StatusNotFound, header: map[string]string{"x-ms-error-code": tt.header}}
			})
			c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
			group := strings.Repeat("g", bindings.MaxGroupNameLength)
			_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", GroupName: group})})
			e := asError(t, err)
			if e.Code != apierror.ServiceError || e.ServiceCode != tt.want {
				t.Errorf("got code %s, service code %q; want ServiceError with %q", e.Code, e.ServiceCode, tt.want)
			}
			if tt.want != "" && !strings.Contains(e.Message, tt.want) {
				t.Errorf("got message %q, want it to hold %q", e.Message, tt.want)
			}
			if tt.want == "" && strings.Contains(e.Message, "x-ms-error-code") {
				t.Errorf("got message %q, want no x-ms-error-code", e.Message)
			}
			if !strings.Contains(e.Message, clip.Ellipsis) || len(e.Message) > 500 {
				t.Errorf("got a %d-byte message %q, want the path cut", len(e.Message), e.Message)
			}
			raw, _ := json.Marshal(e)
			if len(raw) > 2000 {
				t.Errorf("got an error of %d bytes as JSON, want it bounded", len(raw))
			}
		})
	}
}

// TestReachBoundCoversEveryEndpoint checks that with several endpoints an
// id is refused when its REST call could not be authorised at any one of
// them (a send goes to all): here the second endpoint's server path is
// 1,000 characters longer.
func TestReachBoundCoversEveryEndpoint(t *testing.T) {
	a, b := newFakeService(t, nil), newFakeService(t, nil)
	conn := multiConn(t, endpointSpec{name: "", srv: a}, endpointSpec{name: "b", srv: b})
	conn.Named[0].ServerEndpoint = b.URL + "/" + strings.Repeat("p", 1000)
	c := mustNewClient(t, conn, "chat", testOptions(a.Server))
	id := strings.Repeat("/", 800) // 2,400 characters escaped: within reach of a only
	_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", UserID: id})})
	if e := asError(t, err); e.Code != apierror.InvalidMessage {
		t.Errorf("send: got %+v, want InvalidMessage", e)
	}
	for i := 0; i < 20; i++ { // negotiate picks an endpoint at random: the bound must not depend on it
		if _, err := c.Negotiate(context.Background(), id, nil); err == nil {
			t.Fatal("negotiate: got a token, want the user id refused")
		}
	}
	if n := len(a.requests()) + len(b.requests()); n != 0 {
		t.Errorf("got %d requests, want none", n)
	}
	short := strings.Repeat("/", 500)
	if _, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", UserID: short})}); err != nil {
		t.Errorf("send to a shorter id: %v, want it sent", err)
	}
}
