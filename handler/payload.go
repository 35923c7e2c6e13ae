package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// maxEnvelopeBytes bounds a payload-mode request: a 1 MiB body can grow
// up to six-fold when JSON-escaped into the envelope's Body string.
const maxEnvelopeBytes = 6*MaxBodyBytes + 64<<10

// InvokeRequest is what the Functions host POSTs to /<function> in payload
// mode: the trigger's value and the output bindings' inputs under Data,
// trigger metadata under Metadata.
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// HTTPRequestData is the httpTrigger value in InvokeRequest.Data: Headers
// are string arrays, Query an object of strings, Body a string.
type HTTPRequestData struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   map[string]string   `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params,omitempty"`
	Body    *string             `json:"Body,omitempty"`
}

// InvokeResponse is the payload-mode answer: the http output binding's
// value under Outputs.res.
type InvokeResponse struct {
	Outputs     map[string]HTTPResponseData `json:"Outputs"`
	Logs        []string                    `json:"Logs"`
	ReturnValue any                         `json:"ReturnValue"`
}

// HTTPResponseData is the http output binding's value: header values are
// strings (the host writes them with ToString()), body is the JSON text.
type HTTPResponseData struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// DecodeInvokeRequest reads a payload-mode envelope and rebuilds the
// original HTTP request it carries in Data.req.
func DecodeInvokeRequest(r io.Reader) (*HTTPRequestData, error) {
	env, err := decodeEnvelope(r)
	if err != nil {
		return nil, err
	}
	raw, ok := env.Data["req"]
	if !ok {
		return nil, apierror.New(apierror.InvalidJSON, `the invocation payload has no Data.req`)
	}
	var req HTTPRequestData
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, apierror.New(apierror.InvalidJSON, "Data.req is not an HTTP request object: %s", jsonProblem(err))
	}
	return &req, nil
}

// decodeEnvelope reads the host's {"Data","Metadata"} envelope.
func decodeEnvelope(r io.Reader) (*InvokeRequest, error) {
	var env InvokeRequest
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, apierror.New(apierror.InvalidJSON, "the invocation payload is not JSON: %s", jsonProblem(err))
	}
	return &env, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s has the wrong type (%s)", te.Field, te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "malformed"
}

// toHTTPRequest rebuilds the caller's request from d for function code
// that serves both modes alike.
func (d *HTTPRequestData) toHTTPRequest(parent *http.Request) (*http.Request, error) {
	u, err := url.Parse(d.URL)
	if err != nil || d.URL == "" {
		u = &url.URL{Path: parent.URL.Path}
	}
	q := url.Values{}
	for k, v := range d.Query {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	method := strings.ToUpper(d.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body []byte
	h := http.Header{}
	for k, vs := range d.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if d.Body != nil {
		body = []byte(*d.Body)
		// The host base64-encodes binary bodies.
		if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
			if dec, err := base64.StdEncoding.DecodeString(*d.Body); err == nil {
				body = dec
			}
		}
	}
	r, err := http.NewRequestWithContext(parent.Context(), method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, apierror.New(apierror.InvalidJSON, "Data.req has an unusable Method or Url")
	}
	r.Header = h
	r.ContentLength = int64(len(body))
	r.Host = u.Host
	r.RemoteAddr = parent.RemoteAddr
	return r, nil
}

// payloadHandler serves POST /<name>: it unwraps the host's envelope, runs
// the forwarded-mode code on the rebuilt request and wraps the response
// into Outputs.res.
func payloadHandler(fn Function, forwarded http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			Respond(w, apierror.New(apierror.MethodNotAllowed, "the invocation endpoint /%s accepts POST", fn.Name))
			return
		}
		rec := newRecorder()
		d, err := DecodeInvokeRequest(http.MaxBytesReader(w, r.Body, maxEnvelopeBytes))
		var ae *apierror.Error
		switch {
		case errors.As(err, &ae) && ae.Code == apierror.PayloadTooLarge:
			// The caller's body is too large: answer it as the function's
			// response, since the host turns a failed invocation into a bare 500.
			Respond(rec, err)
		case err != nil:
			Respond(w, err) // a malformed envelope is the host's fault, not the caller's
			return
		default:
			inner, err := d.toHTTPRequest(r)
			if err != nil {
				Respond(w, err)
				return
			}
			forwarded.ServeHTTP(rec, inner)
		}
		resp := InvokeResponse{
			Outputs: map[string]HTTPResponseData{"res": rec.result()},
			Logs:    []string{},
		}
		if rec.status >= 400 {
			resp.Logs = append(resp.Logs, fmt.Sprintf("%s answered %d", fn.Name, rec.status))
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// recorder buffers a function's response for the payload envelope.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) result() HTTPResponseData {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	headers := make(map[string]string, len(r.header))
	for k, vs := range r.header {
		headers[k] = strings.Join(vs, ", ")
	}
	return HTTPResponseData{StatusCode: r.status, Headers: headers, Body: r.body.String()}
}
