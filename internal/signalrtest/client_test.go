package signalrtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/localservice"
)

func TestRecordsSplitsFramesIntoMessages(t *testing.T) {
	tests := []struct {
		name        string
		frames      []string
		want        []string
		wantPartial string
		wantErr     bool
	}{
		{"one message", []string{"{}\x1e"}, []string{"{}"}, "", false},
		{"two in one frame", []string{`{"type":6}` + "\x1e" + `{"type":1}` + "\x1e"}, []string{`{"type":6}`, `{"type":1}`}, "", false},
		{"split over two frames", []string{`{"ty`, `pe":6}` + "\x1e"}, []string{`{"type":6}`}, "", false},
		{"split over three frames", []string{`{"type"`, `:1,"target":"t"`, `}` + "\x1e"}, []string{`{"type":1,"target":"t"}`}, "", false},
		{"separator in its own frame", []string{"abc", "\x1e"}, []string{"abc"}, "", false},
		{"empty message", []string{"\x1e"}, []string{""}, "", false},
		{"tail kept", []string{"a\x1eb"}, []string{"a"}, "b", false},
		{"tail completed later", []string{"a\x1eb", "c\x1ed\x1e"}, []string{"a", "bc", "d"}, "", false},
		{"no separator yet", []string{`{"type":1`}, nil, `{"type":1`, false},
		{"empty frame", []string{""}, nil, "", false},
		{"too large", []string{strings.Repeat("x", maxRecordBytes+1)}, nil, "", true},
		{"too large over frames", []string{strings.Repeat("x", maxRecordBytes), "y"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r records
			var got [][]byte
			var err error
			for _, f := range tt.frames {
				var recs [][]byte
				recs, err = r.feed([]byte(f))
				got = append(got, recs...)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages %q, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("message %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
			if string(r.partial) != tt.wantPartial {
				t.Errorf("kept %q, want %q", r.partial, tt.wantPartial)
			}
		})
	}
}

func TestRecordsStayValidAfterLaterFeeds(t *testing.T) {
	var r records
	first, _ := r.feed([]byte("one\x1etw"))
	second, _ := r.feed([]byte("o\x1ethree\x1e"))
	if len(first) != 1 || string(first[0]) != "one" {
		t.Errorf("first feed = %q, want [one] after the second feed", first)
	}
	if len(second) != 2 || string(second[0]) != "two" || string(second[1]) != "three" {
		t.Errorf("second feed = %q, want [two three]", second)
	}
}

func TestURLs(t *testing.T) {
	tests := []struct {
		base, negotiate, connect string
	}{
		{"http://svc:8888/client/?hub=chat", "http://svc:8888/client/negotiate?hub=chat", "ws://svc:8888/client/?hub=chat&id=T"},
		{"https://x.service.signalr.net/client/?hub=h&asrs.op=%2Fclient%2F", "https://x.service.signalr.net/client/negotiate?hub=h&asrs.op=%2Fclient%2F", "wss://x.service.signalr.net/client/?asrs.op=%2Fclient%2F&hub=h&id=T"},
		{"http://svc/hub", "http://svc/hub/negotiate", "ws://svc/hub/?id=T"},
	}
	for _, tt := range tests {
		if got := negotiatePath(tt.base); got != tt.negotiate {
			t.Errorf("negotiatePath(%q) = %q, want %q", tt.base, got, tt.negotiate)
		}
		got, err := connectURL(withNegotiateVersion(tt.negotiate), "T")
		if err != nil || got != tt.connect {
			t.Errorf("connectURL(%q) = %q, %v, want %q", tt.negotiate, got, err, tt.connect)
		}
	}
	if got := withNegotiateVersion("http://a/api/negotiate"); got != "http://a/api/negotiate?negotiateVersion=1" {
		t.Errorf("withNegotiateVersion without query = %q", got)
	}
	if got := withNegotiateVersion("http://a/n?hub=h&negotiateVersion=0"); got != "http://a/n?hub=h&negotiateVersion=0" {
		t.Errorf("withNegotiateVersion kept an explicit version: %q", got)
	}
}

// service is a local SignalR service on loopback with a negotiate function
// in front of it, as funcsignalr serves one.
type service struct {
	svc       *localservice.Service
	base      string // the service's http://127.0.0.1:port
	negotiate string // the negotiate function's URL
}

func newService(tb testing.TB) *service {
	tb.Helper()
	return newServiceWith(tb, localservice.Options{})
}

func newServiceWith(tb testing.TB, opts localservice.Options) *service {
	tb.Helper()
	s := &service{svc: localservice.New(opts)}
	srv := httptest.NewServer(s.svc)
	s.base = srv.URL
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"url":         s.base + "/client/?hub=Chat",
			"accessToken": clientToken(tb, "chat", r.Header.Get("x-user")),
		})
	}))
	s.negotiate = fn.URL + "/api/negotiate"
	tb.Cleanup(func() {
		fn.Close()
		s.svc.Close()
		srv.Close()
	})
	return s
}

func sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(localservice.DevAccessKey))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func clientToken(tb testing.TB, hub, user string) string {
	claims := jwt.MapClaims{"aud": "http://127.0.0.1/client/?hub=" + hub, "exp": time.Now().Add(time.Hour).Unix()}
	if user != "" {
		claims["asrs.s.uid"] = user
	}
	return sign(tb, claims)
}

// rest calls the service's REST API at path (below /api/hubs/chat).
func (s *service) rest(tb testing.TB, method, path, body string) int {
	tb.Helper()
	u := s.base + "/api/hubs/chat" + path
	req, _ := http.NewRequest(method, u+"?api-version=2022-06-01", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+sign(tb, jwt.MapClaims{"aud": u, "exp": time.Now().Add(time.Hour).Unix()}))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestDialFollowsTheNegotiateRedirect(t *testing.T) {
	s := newService(t)
	ctx := testContext(t)
	c, err := Dial(ctx, s.negotiate, http.Header{"X-User": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ConnectionID() == "" {
		t.Fatal("ConnectionID is empty")
	}
	if status := s.rest(t, "POST", "/users/alice/:send", `{"target":"greet","arguments":["hi",{"n":1}]}`); status != 202 {
		t.Fatalf("send to user = %d, want 202", status)
	}
	if status := s.rest(t, "POST", "/connections/"+c.ConnectionID()+"/:send", `{"target":"direct"}`); status != 202 {
		t.Fatalf("send to connection = %d, want 202", status)
	}
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeInvocation || m.Target != "greet" || len(m.Arguments) != 2 ||
		string(m.Arguments[0]) != `"hi"` || string(m.Arguments[1]) != `{"n":1}` {
		t.Errorf("got %+v, want greet(\"hi\", {\"n\":1})", m)
	}
	if m, err = c.Next(ctx); err != nil || m.Target != "direct" || len(m.Arguments) != 0 {
		t.Errorf("got %+v, %v, want direct()", m, err)
	}
	// A done context leaves the connection usable.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing sent = %v, want DeadlineExceeded", err)
	}
	s.rest(t, "POST", "/:send", `{"target":"later"}`)
	if m, err = c.Next(ctx); err != nil || m.Target != "later" {
		t.Errorf("after a timed-out Next got %+v, %v, want later()", m, err)
	}
	// The service shutting down closes the client with a close message.
	s.svc.Close()
	_, err = c.Next(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Next after the service closed = %v, want a *CloseError", err)
	}
	if _, again := c.Next(ctx); again != err {
		t.Errorf("Next after the end = %v, want the same %v", again, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the service closed = %v, want nil", err)
	}
}

func TestDialAtTheServiceWithAToken(t *testing.T) {
	s := newService(t)
	ctx := testContext(t)
	c, err := Dial(ctx, s.base+"/client/negotiate?hub=chat",
		http.Header{"Authorization": {"Bearer " + clientToken(t, "chat", "bob")}})
	if err != nil {
		t.Fatal(err)
	}
	s.rest(t, "POST", "/users/bob/:send", `{"target":"t","arguments":[1]}`)
	if m, err := c.Next(ctx); err != nil || m.Target != "t" {
		t.Fatalf("got %+v, %v, want t(1)", m, err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Next(ctx); done <- err }()
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Next blocked during Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestDialFailures(t *testing.T) {
	s := newService(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"code":"ConfigurationError","message":"not configured"}}`))
	}))
	defer broken.Close()
	tests := []struct {
		name, url string
		header    http.Header
		want      string
	}{
		{"negotiate function fails", broken.URL + "/api/negotiate", nil, "answered 500"},
		{"no token", s.base + "/client/negotiate?hub=chat", nil, "answered 401"},
		{"wrong key", s.base + "/client/negotiate?hub=chat", http.Header{"Authorization": {"Bearer " + func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "http://127.0.0.1/client/?hub=chat",
				"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not-the-key"))
			return tok
		}()}}, "answered 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(testContext(t), tt.url, tt.header)
			if err == nil {
				c.Close()
				t.Fatalf("Dial succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestKeepAlive: a client pinging every interval outlives the service's
// client timeout; one that does not is closed by it. The intervals are
// shortened; the real ones are 15 s and 30 s.
func TestKeepAlive(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tt := range []struct {
		name      string
		interval  time.Duration
		wantAlive bool
	}{
		{"pings keep it open", timeout / 6, true},
		{"silence closes it", time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func(old time.Duration) { KeepAliveInterval = old }(KeepAliveInterval)
			KeepAliveInterval = tt.interval
			s := newServiceWith(t, localservice.Options{ClientTimeout: timeout})
			ctx := testContext(t)
			c, err := Dial(ctx, s.negotiate, http.Header{"X-User": {"alice"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			<-time.After(3 * timeout) // three client timeouts
			s.rest(t, "POST", "/users/alice/:send", `{"target":"still"}`)
			m, err := c.Next(ctx)
			var ce *CloseError
			switch {
			case tt.wantAlive && (err != nil || m.Target != "still"):
				t.Errorf("got %+v, %v, want still() on a live connection", m, err)
			case !tt.wantAlive && !errors.As(err, &ce):
				t.Errorf("got %+v, %v, want the service's close for a silent client", m, err)
			}
		})
	}
}
