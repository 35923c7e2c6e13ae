package bindings

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

const apiVersionQuery = "api-version=" + apiVersion

// Send carries out ops in order and returns how many were carried out.
//
// Every operation is validated before the first is sent; an invalid one is a
// *apierror.Error with apierror.InvalidMessage and nothing is sent. On the first failure
// Send stops and returns the number carried out before it with the error:
// *apierror.Error with apierror.ServiceError, apierror.ServiceTimeout or
// apierror.AuthenticationUnavailable.
//
// With several endpoints each operation goes to every endpoint at once, and
// the next starts when all have answered. An operation is carried out when
// every endpoint accepted it; when some failed, the others keep it, Send
// stops, and the error (with the code of the first failure, in endpoint
// order) names each failed endpoint by name and host.
func (c *Client) Send(ctx context.Context, ops []Operation) (int, error) {
	if len(ops) > maxBatch {
		return 0, apierror.New(apierror.InvalidMessage, "%d operations in one send; at most %d are allowed", len(ops), maxBatch)
	}
	for i := range ops {
		problem := checkOperation(&ops[i])
		if problem == "" {
			problem = c.checkReach(&ops[i])
		}
		if problem != "" {
			return 0, apierror.New(apierror.InvalidMessage, "operation %d: %s", i, problem)
		}
	}
	if len(c.eps) > 1 {
		return c.sendEverywhere(ctx, ops)
	}
	for i := range ops {
		if err := c.eps[0].do(ctx, &ops[i], c.timeout); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

// do carries out one operation at e within timeout, retries included.
func (e *endpoint) do(ctx context.Context, op *Operation, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, tokens := trackTokens(ctx)
	ctx, reach := trackReach(ctx)
	req, err := e.newRequest(ctx, op)
	if err != nil {
		return err
	}
	what := req.Raw().Method + " " + clip.String(req.Raw().URL.EscapedPath())
	resp, err := e.pipeline.Do(req)
	if err != nil {
		err = tokens.explain(err)
		ce := callError(err, what, timeout, reach)
		if ce.Code == apierror.AuthenticationUnavailable {
			e.diag.tokenFailed("token for "+what, err)
			ce.Message += seeLog
		}
		return ce
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(resp, what)
	}
	return nil
}

// route is the data-plane REST call of an operation (api-version
// 2022-06-01): method and the path
// segments below /api/hubs/<hub>, ids marked so that only they are escaped.
type route struct {
	method   string
	segments [5]string // unescaped
	n        int
	isID     uint8 // bit i set: segments[i] is an id
}

func (r *route) lit(s string) { r.segments[r.n] = s; r.n++ }
func (r *route) id(s string)  { r.isID |= 1 << r.n; r.segments[r.n] = s; r.n++ }

func routeOf(op *Operation) route {
	var r route
	if m := op.Message; m != nil {
		r.method = http.MethodPost
		switch { // precedence: connectionId > userId > groupName > everyone
		case m.ConnectionID != "":
			r.lit("connections")
			r.id(m.ConnectionID)
		case m.UserID != "":
			r.lit("users")
			r.id(m.UserID)
		case m.GroupName != "":
			r.lit("groups")
			r.id(m.GroupName)
		}
		r.lit(":send")
		return r
	}
	g := op.GroupAction
	action := canonicalAction(g.Action)
	r.method = http.MethodPut
	if action != ActionAdd {
		r.method = http.MethodDelete
	}
	switch { // a connectionId wins over a userId
	case action == ActionRemoveAll && g.ConnectionID != "":
		r.lit("connections")
		r.id(g.ConnectionID)
		r.lit("groups")
	case action == ActionRemoveAll:
		r.lit("users")
		r.id(g.UserID)
		r.lit("groups")
	case g.ConnectionID != "":
		r.lit("groups")
		r.id(g.GroupName)
		r.lit("connections")
		r.id(g.ConnectionID)
	default:
		r.lit("users")
		r.id(g.UserID)
		r.lit("groups")
		r.id(g.GroupName)
	}
	return r
}

// newRequest builds the REST request of a validated operation.
func (e *endpoint) newRequest(ctx context.Context, op *Operation) (*policy.Request, error) {
	r := routeOf(op)
	u := e.requestURL(&r)

	hr, err := http.NewRequestWithContext(ctx, r.method, "", nil)
	if err != nil {
		return nil, apierror.Wrap(apierror.ServiceError, err, "build %s request", r.method) // unreachable: methods are constants
	}
	hr.URL, hr.Host = &u, u.Host
	req, err := runtime.NewRequestFromRequest(hr)
	if err != nil {
		return nil, apierror.Wrap(apierror.ServiceError, err, "build %s request", r.method)
	}
	if m := op.Message; m != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(payload(m))), "application/json"); err != nil {
			return nil, apierror.Wrap(apierror.ServiceError, err, "set %s request body", r.method)
		}
	}
	return req, nil
}

// requestURL is the URL of the REST call r at e. Path and RawPath are both
// set so that every id is one escaped segment on the wire: "a/b c" is sent
// as a%2Fb%20c.
func (e *endpoint) requestURL(r *route) url.URL {
	var path, raw strings.Builder
	n := len(e.hubRawPath) + r.n
	for i := 0; i < r.n; i++ {
		n += len(r.segments[i])
	}
	path.Grow(n)
	raw.Grow(n + n/2)
	path.WriteString(e.hubPath)
	raw.WriteString(e.hubRawPath)
	for i := 0; i < r.n; i++ {
		s := r.segments[i]
		path.WriteByte('/')
		path.WriteString(s)
		if r.isID&(1<<i) != 0 {
			s = url.PathEscape(s)
		}
		raw.WriteByte('/')
		raw.WriteString(s)
	}
	u := e.server
	u.Path, u.RawPath, u.RawQuery = path.String(), raw.String(), apiVersionQuery
	return u
}

// payload is the service's PayloadMessage, {"target":...,"arguments":[...]},
// with the arguments copied byte for byte (they were validated as JSON).
func payload(m *Message) []byte {
	n := len(`{"target":,"arguments":[]}`) + len(m.Target) + 2
	for _, a := range m.Arguments {
		n += len(a) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"target":`...)
	b = appendJSONString(b, m.Target)
	b = append(b, `,"arguments":[`...)
	for i, a := range m.Arguments {
		if i > 0 {
			b = append(b, ',')
		}
		if len(a) == 0 {
			a = []byte("null")
		}
		b = append(b, a...)
	}
	return append(b, "]}"...)
}
