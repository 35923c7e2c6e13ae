package testkit

import (
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthority(t *testing.T) {
	a := NewAuthority(t)
	token := func() (int, string) {
		t.Helper()
		resp, err := a.Client().PostForm(a.URL+"/tenant1/oauth2/v2.0/token",
			url.Values{"client_id": {"client1"}, "client_secret": {"secret-42"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name       string
		fail       bool
		wantStatus int
		wantBody   string
	}{
		{"answers", false, 200, `"access_token":"token-for-client1"`},
		{"refuses quoting the secret", true, 401, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value secret-42"},
		{"answers again", false, 200, `"access_token":"token-for-client1"`},
	}
	for _, tt := range tests {
		a.SetFail(tt.fail)
		if status, body := token(); status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: got %d %s, want %d with %s", tt.name, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	if got := a.Tokens(); got != 3 {
		t.Errorf("got %d token requests, want 3", got)
	}
	if got := a.TokenForms()[0].Get("client_secret"); got != "secret-42" {
		t.Errorf("got recorded secret %q, want secret-42", got)
	}
	if got := a.Requests()[0]; got != "POST /tenant1/oauth2/v2.0/token" {
		t.Errorf("got request %q, want POST /tenant1/oauth2/v2.0/token", got)
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := b.Len(); got != 800 {
		t.Errorf("got %d bytes, want 800", got)
	}
}

func TestProcessWaitOutput(t *testing.T) {
	p := StartProcess(t, exec.Command("sh", "-c", "echo starting; echo 'listening on 127.0.0.1:4321'; exec sleep 30"))
	m := p.WaitOutput(t, regexp.MustCompile(`listening on (\S+)`), 10*time.Second)
	if m[1] != "127.0.0.1:4321" {
		t.Errorf("got %q, want 127.0.0.1:4321", m[1])
	}
	select {
	case <-p.Exited():
		t.Error("the process exited, want it running until cleanup")
	default:
	}
}
