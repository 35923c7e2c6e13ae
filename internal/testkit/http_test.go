package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDoAndStartRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, r.Method+" "+string(body))
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		body       io.Reader
		wantAnswer string
	}{
		{"with a body", strings.NewReader("hello"), "POST hello"},
		{"without one", nil, "POST "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{"X-Test": {"header-1"}}
			status, h, body := Do(t, "POST", srv.URL, header, tt.body)
			if status != http.StatusAccepted || h.Get("X-Echo") != "header-1" || body != tt.wantAnswer {
				t.Errorf("Do: got %d %q %q, want 202 header-1 %q", status, h.Get("X-Echo"), body, tt.wantAnswer)
			}
		})
	}
	a := <-StartRequest(t, "POST", srv.URL, http.Header{"X-Test": {"header-2"}}, strings.NewReader("later"))
	if a.Err != nil || a.Status != http.StatusAccepted || a.Header.Get("X-Echo") != "header-2" || a.Body != "POST later" {
		t.Errorf("StartRequest: got %d %q %q (%v), want 202 header-2 \"POST later\"", a.Status, a.Header.Get("X-Echo"), a.Body, a.Err)
	}
	srv.Close()
	if a := <-StartRequest(t, "GET", srv.URL, nil, nil); a.Err == nil {
		t.Errorf("StartRequest to a closed server: got %d %q, want an error", a.Status, a.Body)
	}
}
