package bindings

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// appServerRoleHint is what an identity refused by the access-key exchange
// needs: "SignalR App Server: access to the APIs that create server
// connections and generate keys", per
// https://learn.microsoft.com/azure/azure-signalr/signalr-howto-authorize-application
const appServerRoleHint = "the identity needs the SignalR App Server role (or SignalR Service Owner) on the SignalR resource"

// seeLog ends the short message of an authentication failure answered over
// HTTP: the cause may name accounts and tenants, so it is only logged.
const seeLog = "; the cause is in the handler's log"

// maxLoggedCauses bounds the distinct causes remembered for logging once.
const maxLoggedCauses = 256

// maxCauseLength bounds a logged cause, in characters.
const maxCauseLength = 2000

// diagnostics logs why a Microsoft Entra ID token or an access-key
// exchange failed — the credential tried and its reason, the authority's
// AADSTS code, the service's status — once per distinct cause, with every
// known secret value scrubbed. The HTTP answer only names the failed step.
type diagnostics struct {
	logger  *slog.Logger
	secrets []string
	auth    string // the endpoint's auth kind, e.g. "managed identity"

	mu   sync.Mutex
	seen map[string]bool
}

func newDiagnostics(logger *slog.Logger, secrets []string, auth string) *diagnostics {
	return &diagnostics{logger: logger, secrets: secrets, auth: auth, seen: map[string]bool{}}
}

// tokenFailed logs why the credential gave no token for step.
func (d *diagnostics) tokenFailed(step string, err error) {
	if d == nil {
		return
	}
	cred, cause := credentialCause(err)
	cause = d.scrub(cause)
	attrs := []any{"step", step, "auth", d.auth}
	if cred != "" {
		attrs = append(attrs, "credential", cred)
	}
	attrs = append(attrs, "cause", cause)
	if codes := aadstsCode.FindAllString(cause, -1); len(codes) > 0 {
		attrs = append(attrs, "aadsts", strings.Join(uniq(codes), ","))
	}
	if hint := credentialHint(cause); hint != "" {
		attrs = append(attrs, "hint", hint)
	}
	d.once("Microsoft Entra ID token request failed", cred+"\x00"+withoutTraceIDs(cause), attrs)
}

// keyExchangeRefused logs the service's refusal of the access-key exchange.
func (d *diagnostics) keyExchangeRefused(server string, resp *http.Response, body string) {
	if d == nil {
		return
	}
	attrs := []any{"step", "access-key exchange with " + server, "status", resp.StatusCode}
	code := serviceErrorCode(resp.Header)
	if code != "" {
		attrs = append(attrs, "errorCode", code)
	}
	switch resp.StatusCode {
	case http.StatusForbidden:
		attrs = append(attrs, "hint", appServerRoleHint)
	case http.StatusUnauthorized:
		attrs = append(attrs, "hint", "the service did not accept the Microsoft Entra ID token: is the identity in the resource's tenant?")
	}
	body = d.scrub(compact(body))
	if body != "" {
		attrs = append(attrs, "body", body)
	}
	d.once("the SignalR service refused the access-key exchange", server+"\x00"+resp.Status+"\x00"+code, attrs)
}

// keyExchangeUnreachable logs why the service could not be reached for the
// access-key exchange.
func (d *diagnostics) keyExchangeUnreachable(server, reason string) {
	if d == nil {
		return
	}
	reason = d.scrub(reason)
	d.once("the access-key exchange could not reach the SignalR service", server+"\x00"+reason,
		[]any{"step", "access-key exchange with " + server, "cause", reason})
}

// once logs msg with attrs at error level the first time key is seen.
func (d *diagnostics) once(msg, key string, attrs []any) {
	d.mu.Lock()
	if d.seen[key] {
		d.mu.Unlock()
		return
	}
	if len(d.seen) >= maxLoggedCauses {
		clear(d.seen) // a flood of distinct causes is logged again, not forgotten silently
	}
	d.seen[key] = true
	d.mu.Unlock()
	d.logger.Error(msg, attrs...)
}

// scrub replaces every known secret value in s.
func (d *diagnostics) scrub(s string) string {
	for _, secret := range d.secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

var (
	aadstsCode = regexp.MustCompile(`AADSTS\d+`)
	// traceIDs are the per-request parts of an authority's error text.
	traceIDs = regexp.MustCompile(`\s*(?i:Trace ID|Correlation ID|Timestamp):\s*[0-9a-fA-F:.TZ-]+( [0-9:.]+Z?)?`)
	// errorDescription finds the authority's description in a response dump.
	errorDescription = regexp.MustCompile(`"error_description"\s*:\s*"((?:[^"\\]|\\.)*)"`)
	// responseStatus finds the status line of azidentity's response dump.
	responseStatus = regexp.MustCompile(`RESPONSE (\d{3})`)
	// credentialName is an azidentity credential type at the start of a line.
	credentialName = regexp.MustCompile(`^\s*([A-Za-z]+Credential)\b`)
)

// credentialCause names the credential that failed and says why in one
// line: for a chain (DefaultAzureCredential), each credential tried and its
// reason; for a refusal by the authority, its status and description with
// the AADSTS code, without the request dump azidentity adds.
func credentialCause(err error) (credential, cause string) {
	var te *tokenError
	if errors.As(err, &te) {
		err = te.err
	}
	var af *azidentity.AuthenticationFailedError
	text := err.Error()
	// azidentity's dump of a refusal: the request line, a rule, RESPONSE
	// <status>, a rule, the body, a rule, a troubleshooting link. The body's
	// description is taken below; the rest is noise in one log line.
	var parts, body []string
	inBody, afterStatus := false, false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		isRule := line != "" && strings.Trim(line, "-") == ""
		switch {
		case isRule && afterStatus:
			inBody, afterStatus = true, false
		case isRule:
			inBody = false
		case inBody:
			body = append(body, line)
		case line == "", line == "Attempted credentials:", line == "Request information not available",
			strings.HasPrefix(line, "To troubleshoot, visit"),
			strings.HasPrefix(line, "POST "), strings.HasPrefix(line, "GET "):
		case strings.HasPrefix(line, "RESPONSE "):
			afterStatus = true
			parts = append(parts, line)
		default:
			parts = append(parts, strings.TrimSuffix(line, "."))
		}
	}
	if m := errorDescription.FindStringSubmatch(text); m != nil {
		var desc string
		if json.Unmarshal([]byte(`"`+m[1]+`"`), &desc) == nil {
			parts = append(parts, "authority says: "+withoutTraceIDs(strings.Join(strings.Fields(desc), " ")))
		}
	} else if len(body) > 0 && body[0] != "Response contained no body" {
		parts = append(parts, "answer: "+clip.String(strings.Join(body, " ")))
	} else if errors.As(err, &af) && af.RawResponse != nil && !responseStatus.MatchString(text) {
		parts = append(parts, "authority answered "+af.RawResponse.Status)
	}
	if m := credentialName.FindStringSubmatch(text); m != nil {
		credential = m[1]
	}
	cause = strings.Join(uniq(parts), "; ")
	return credential, clip.N(cause, maxCauseLength)
}

// credentialHint says what to do about the causes developers meet most.
func credentialHint(cause string) string {
	switch {
	case strings.Contains(cause, "AzureCLICredential: executable not found"), strings.Contains(cause, "Azure CLI not found"):
		return "the Azure CLI (az) is not installed or not on PATH: install it and run az login, or configure another credential"
	case strings.Contains(cause, "az login"):
		return "run az login as the user the handler runs as"
	case strings.Contains(cause, "ManagedIdentityCredential") &&
		(strings.Contains(cause, "connection refused") || strings.Contains(cause, "no response") ||
			strings.Contains(cause, "timed out") || strings.Contains(cause, "unreachable") ||
			strings.Contains(cause, "ManagedIdentityCredential: context deadline exceeded")):
		return "no managed identity endpoint answered: managed identity exists only in Azure; elsewhere sign in with az login or configure a client secret"
	}
	return ""
}

// withoutTraceIDs drops the per-request trace and correlation ids and
// timestamps from an authority's text.
func withoutTraceIDs(s string) string {
	return strings.TrimSpace(traceIDs.ReplaceAllString(s, ""))
}

// compact joins a body's lines and bounds its length.
func compact(s string) string {
	return clip.N(strings.Join(strings.Fields(s), " "), maxServiceBodyInError)
}

func uniq(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
