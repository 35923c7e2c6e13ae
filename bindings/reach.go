package bindings

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// reachTracker remembers, across the tries of one call, whether any try got
// a connection to the service, and why the last try that did not failed.
// azcore's retry policy answers a call whose deadline passed during a
// back-off with the context's error; the tracker tells a service that could
// not be reached (refused, DNS, TLS: 502) from one that took the request and
// went quiet (504).
type reachTracker struct {
	mu        sync.Mutex
	connected bool  // some try got a connection
	lastErr   error // of the last try that failed before it got one
}

type reachTrackerKey struct{}

// trackReach returns a context whose tries t records.
func trackReach(ctx context.Context) (context.Context, *reachTracker) {
	t := &reachTracker{}
	return context.WithValue(ctx, reachTrackerKey{}, t), t
}

// unreached returns why the service could not be reached when no try got a
// connection, else "".
func (t *reachTracker) unreached() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.connected:
		return ""
	case t.lastErr != nil:
		return reachReason(t.lastErr)
	default:
		return "no connection was established"
	}
}

// reachPolicy records each try's connection in the call's reachTracker.
type reachPolicy struct{}

// Do implements policy.Policy.
func (reachPolicy) Do(req *policy.Request) (*http.Response, error) {
	t, _ := req.Raw().Context().Value(reachTrackerKey{}).(*reachTracker)
	if t == nil {
		return req.Next()
	}
	connected := false
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		t.mu.Lock()
		connected, t.connected = true, true
		t.mu.Unlock()
	}}
	resp, err := req.WithContext(httptrace.WithClientTrace(req.Raw().Context(), trace)).Next()
	if err != nil {
		t.mu.Lock()
		// A try cut short by the deadline says less than an earlier
		// refusal, DNS or TLS failure: keep that one.
		if !connected && (t.lastErr == nil || !isTimeout(err) || isTimeout(t.lastErr)) {
			t.lastErr = err
		}
		t.mu.Unlock()
	}
	return resp, err
}

// reachReason says why a connection to the service failed: refused, DNS,
// TLS, or the transport's own words.
func reachReason(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused" + dialTarget(err)
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr), errors.As(err, &alert):
		return "TLS handshake failed: " + tlsReason(err)
	case isTimeout(err):
		return "no connection" + dialTarget(err) + " in time"
	default:
		return transportReason(err)
	}
}

// dialTarget is " by ADDR" / " to ADDR" from a dial error, or "".
func dialTarget(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && op.Addr != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return " by " + op.Addr.String()
		}
		return " to " + op.Addr.String()
	}
	return ""
}

// tlsReason is the certificate problem, or the TLS error's text.
func tlsReason(err error) string {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return certErr.Err.Error()
	}
	return transportReason(err)
}
