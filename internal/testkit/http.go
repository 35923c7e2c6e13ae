package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Answer is an HTTP answer read to its end, or the error that ended the
// request.
type Answer struct {
	Status int
	Header http.Header
	Body   string
	Err    error
}

// Do sends method url with header and body (none when nil) through
// http.DefaultClient and returns the answer's status, headers and body. An
// error fails the test.
func Do(tb testing.TB, method, url string, header http.Header, body io.Reader) (int, http.Header, string) {
	tb.Helper()
	a := roundTrip(newRequest(tb, method, url, header, body))
	if a.Err != nil {
		tb.Fatalf("%s %s: %v", method, url, a.Err)
	}
	return a.Status, a.Header, a.Body
}

// StartRequest sends the request Do sends, on another goroutine so that
// the test can act while it is in flight, and delivers the answer. An error
// comes in Answer.Err: only the test's goroutine may fail the test.
func StartRequest(tb testing.TB, method, url string, header http.Header, body io.Reader) <-chan Answer {
	tb.Helper()
	req := newRequest(tb, method, url, header, body)
	answer := make(chan Answer, 1)
	go func() { answer <- roundTrip(req) }()
	return answer
}

func newRequest(tb testing.TB, method, url string, header http.Header, body io.Reader) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return req
}

func roundTrip(req *http.Request) Answer {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: string(raw), Err: err}
}
