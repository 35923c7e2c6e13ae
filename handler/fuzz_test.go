package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
)

// fuzzBindings answers every negotiate and send at once.
type fuzzBindings struct{}

func (fuzzBindings) Negotiate(context.Context, string, map[string][]string) (bindings.ConnectionInfo, error) {
	return bindings.ConnectionInfo{URL: "http://127.0.0.1:8888/client/?hub=default", AccessToken: "token"}, nil
}

func (fuzzBindings) Send(_ context.Context, ops []bindings.Operation) (int, error) {
	return len(ops), nil
}

// FuzzDecodeInvokeRequest feeds arbitrary payload-mode envelopes to
// DecodeInvokeRequest and to the payload endpoints. Nothing panics; an
// accepted envelope yields a request that rebuilds into a usable
// *http.Request or a contract error; and the endpoints always answer either
// a 4xx contract error or 200 with Outputs.res holding a function answer.
func FuzzDecodeInvokeRequest(f *testing.F) {
	seeds := []string{
		`{"Data":{"req":{"Url":"http://localhost:7071/api/send","Method":"POST","Query":{},"Headers":{"Content-Type":["application/json"]},"Params":{},"Body":"{\"target\":\"t\",\"arguments\":[1]}","Identities":[]}},"Metadata":{"sys":{"MethodName":"send"}}}`,
		`{"Data":{"req":{"Url":"http://localhost:7071/api/negotiate?negotiateVersion=1","Method":"POST","Query":{"negotiateVersion":"1"},"Headers":{"X-Ms-Client-Principal-Id":["alice"]}}},"Metadata":{}}`,
		`{"Data":{"req":{"Url":"http://localhost/api/send","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"eyJ0YXJnZXQiOiJ0In0="}}}`,
		`{"Data":{"req":{"Url":"http://localhost/api/send","Method":"POST","Headers":{"Content-Type":["text/plain"]},"Body":"{}"}}}`,
		`{"Data":{"req":{"Url":"http://localhost/api/send","Method":"get"}}}`,
		`{"Data":{"req":{"Method":"POST","Body":"[{\"action\":\"add\",\"userId\":\"u\",\"groupName\":\"g\"}]"}}}`,
		`{"Data":{"req":{"Url":"::not a url","Method":"POST"}}}`,
		`{"Data":{"req":{"Url":"http://[::1]:80/api/send","Method":"PO ST"}}}`,
		`{"Data":{"req":{"Url":"//host/path?x=%zz","Method":"CONNECT"}}}`,
		`{"Data":{"req":{"Headers":{"":[""],"X":[]},"Query":{"":""}}}}`,
		`{"Data":{"req":null}}`,
		`{"Data":{"req":"string"}}`,
		`{"Data":{"req":{"Method":5}}}`,
		`{"Data":{"req":{"Headers":{"A":"b"}}}}`,
		`{"Data":{"req":{"Body":{"target":"t"}}}}`,
		`{"Data":{}}`,
		`{"Data":null,"Metadata":null}`,
		`{}`,
		`[]`,
		`null`,
		`{"Data":{"req":{}}} trailing`,
		`{"Data":{"req":{"Body":"\u0000\ud800"}}}`,
		``,
		`{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	app, err := LoadApp("..")
	if err != nil {
		f.Fatalf("LoadApp: %v", err)
	}
	h, err := New(Config{App: app, Negotiator: fuzzBindings{}, Sender: fuzzBindings{}})
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	f.Fuzz(func(t *testing.T, envelope []byte) {
		d, err := DecodeInvokeRequest(bytes.NewReader(envelope))
		switch {
		case err != nil && d != nil:
			t.Fatalf("DecodeInvokeRequest returned both a request and %v", err)
		case err != nil:
			if code, msg := classify(err); code != apierror.InvalidJSON || msg == "" {
				t.Fatalf("DecodeInvokeRequest error %v classifies as %s %q, want InvalidJson", err, code, msg)
			}
		case d == nil:
			t.Fatal("DecodeInvokeRequest returned neither a request nor an error")
		default:
			parent := httptest.NewRequest("POST", "/send", nil)
			r, err := d.toHTTPRequest(parent)
			if err != nil {
				if code, _ := classify(err); code != apierror.InvalidJSON {
					t.Fatalf("toHTTPRequest error %v, want InvalidJson", err)
				}
				break
			}
			if r.Method == "" || r.URL == nil || r.Header == nil || r.Body == nil {
				t.Fatalf("rebuilt request is not usable: %+v", r)
			}
			body, err := io.ReadAll(r.Body)
			if err != nil || int64(len(body)) != r.ContentLength {
				t.Fatalf("rebuilt body: %d bytes, %v; ContentLength %d", len(body), err, r.ContentLength)
			}
		}

		for _, path := range []string{"/send", "/negotiate"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(envelope)))
			checkInvocationAnswer(t, path, rec)
		}
	})
}

// checkInvocationAnswer fails unless rec is a 4xx contract error or a 200
// invocation answer whose Outputs.res is a function answer.
func checkInvocationAnswer(t *testing.T, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("POST %s: Content-Type %q, want application/json", path, rec.Header().Get("Content-Type"))
	}
	if rec.Code >= 400 && rec.Code < 500 {
		var e errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("POST %s = %d %s, want a JSON error {\"error\":{\"code\",\"message\"}}", path, rec.Code, rec.Body)
		}
		return
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s = %d %s, want 200 or a 4xx", path, rec.Code, rec.Body)
	}
	var inv struct {
		Outputs map[string]HTTPResponseData
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &inv); err != nil {
		t.Fatalf("POST %s: invocation answer %s: %v", path, rec.Body, err)
	}
	res, ok := inv.Outputs["res"]
	if !ok {
		t.Fatalf("POST %s: no Outputs.res in %s", path, rec.Body)
	}
	if res.StatusCode < 200 || res.StatusCode > 599 {
		t.Fatalf("POST %s: Outputs.res.statusCode %d", path, res.StatusCode)
	}
	if res.StatusCode >= 400 {
		var e errorBody
		if err := json.Unmarshal([]byte(res.Body), &e); err != nil || e.Error.Code == "" {
			t.Fatalf("POST %s: Outputs.res = %d %q, want a JSON error {\"error\":{\"code\",\"message\"}}", path, res.StatusCode, res.Body)
		}
	} else if !json.Valid([]byte(res.Body)) {
		t.Fatalf("POST %s: Outputs.res.body %q is not JSON", path, res.Body)
	}
}
