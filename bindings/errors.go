package bindings

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// maxServiceBodyInError bounds how many characters of a service's error
// body are kept in Error.Err and logged.
const maxServiceBodyInError = 512

// tokenError marks a failure of the Microsoft Entra ID credential, so that it
// can be told apart from a failure of the call the token was for.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get Microsoft Entra ID token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// serviceAnswerError is the cause kept in Error.Err for an unsuccessful
// answer: status and a bounded prefix of the body (the service's ErrorDetail).
type serviceAnswerError struct {
	status int
	body   string
}

func (e *serviceAnswerError) Error() string {
	return fmt.Sprintf("service answered %d: %s", e.status, e.body)
}

func newServiceAnswerError(resp *http.Response) *serviceAnswerError {
	body, _ := runtime.Payload(resp)
	return &serviceAnswerError{status: resp.StatusCode, body: clip.N(string(body), maxServiceBodyInError)}
}

// describeStatus renders "503 (x-ms-error-code Foo)" or "503".
func describeStatus(resp *http.Response) string {
	if code := serviceErrorCode(resp.Header); code != "" {
		return fmt.Sprintf("%d (x-ms-error-code %s)", resp.StatusCode, code)
	}
	return fmt.Sprintf("%d", resp.StatusCode)
}

// isTimeout reports whether err is the end of a deadline: the operation's,
// a try's, or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// transportReason is the text of a transport failure without the request
// URL that *url.Error adds.
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// callError maps a failed pipeline call, described by what (e.g.
// "POST /api/hubs/h/:send"), onto an *apierror.Error: a service that no try could
// connect to (refused, DNS, TLS) is a ServiceError saying which, even when
// the time ran out during the retries; one that took the request and did
// not answer in time is a ServiceTimeout. The cause is kept in Err; the
// message never copies a credential's error text, which may hold a response
// dump.
func callError(err error, what string, timeout time.Duration, reach *reachTracker) *apierror.Error {
	var te *tokenError
	switch {
	case errors.As(err, &te):
		return apierror.Wrap(apierror.AuthenticationUnavailable, err,
			"could not get a Microsoft Entra ID token (scope %s) for %s", EntraScope, what)
	case isTimeout(err):
		if why := reach.unreached(); why != "" {
			return apierror.Wrap(apierror.ServiceError, err, "could not reach the SignalR service for %s within %s: %s", what, timeout, why)
		}
		return apierror.Wrap(apierror.ServiceTimeout, err, "SignalR service did not answer %s within %s", what, timeout)
	case errors.Is(err, context.Canceled):
		return apierror.Wrap(apierror.ServiceTimeout, err, "%s was canceled before the SignalR service answered", what)
	default:
		return apierror.Wrap(apierror.ServiceError, err, "could not reach the SignalR service for %s: %s", what, clip.String(reachReason(err)))
	}
}

// answerError maps an unsuccessful answer (after retries) onto a ServiceError.
func answerError(resp *http.Response, what string) *apierror.Error {
	e := apierror.Wrap(apierror.ServiceError, newServiceAnswerError(resp),
		"SignalR service answered %s for %s", describeStatus(resp), what)
	e.ServiceStatus = resp.StatusCode
	e.ServiceCode = serviceErrorCode(resp.Header)
	return e
}
