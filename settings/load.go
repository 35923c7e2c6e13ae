package settings

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/hubname"
)

// Names and defaults of the process-wide settings.
const (
	HubNameSetting           = "AzureSignalRHubName"
	CustomHandlerPortSetting = "FUNCTIONS_CUSTOMHANDLER_PORT"
	HTTPClientTimeoutSetting = "AzureSignalRHttpClientTimeout"
	CORSSetting              = "CORS_ALLOWED_ORIGINS"
	LocalAddrSetting         = "FUNCSIGNALR_LOCAL_ADDR"
	InstanceIDSetting        = "WEBSITE_INSTANCE_ID"
	// AccessTokenLifetimeSetting sets how long negotiate's client access
	// tokens are valid.
	AccessTokenLifetimeSetting = "AzureSignalRAccessTokenLifetime"
	// ClaimTypesSetting lists (comma-separated) the claim types of
	// x-ms-client-principal that negotiate copies into client tokens.
	ClaimTypesSetting = "AzureSignalRClaimTypes"
	// AuthEnabledSetting is "true" when App Service Authentication is on.
	AuthEnabledSetting = "WEBSITE_AUTH_ENABLED"

	DefaultHubName           = "default"
	DefaultHTTPClientTimeout = 30 * time.Second
	DefaultLocalAddr         = "127.0.0.1:8888"

	// DefaultAccessTokenLifetime is the service SDK's client token lifetime.
	DefaultAccessTokenLifetime = time.Hour
	// MinAccessTokenLifetime and MaxAccessTokenLifetime bound
	// AzureSignalRAccessTokenLifetime, inclusive.
	MinAccessTokenLifetime = time.Minute
	MaxAccessTokenLifetime = 24 * time.Hour
)

// Load reads the process-wide settings, the fields of Settings.
//
// Every invalid value is reported, as an *apierror.Error naming the key, joined with
// errors.Join. The returned Settings is usable even then: invalid values are
// replaced by their defaults, except Port, which keeps the raw value so that
// Standalone still tells whether the Functions host started the process.
func Load(v *Values) (Settings, error) {
	s := Settings{
		HubName:             DefaultHubName,
		HTTPClientTimeout:   DefaultHTTPClientTimeout,
		LocalAddr:           DefaultLocalAddr,
		AccessTokenLifetime: DefaultAccessTokenLifetime,
	}
	var errs []error
	invalid := func(spelling, format string, args ...any) {
		errs = append(errs, apierror.Setting(spelling, fmt.Sprintf(format, args...)))
	}

	if hub, key, ok := v.Get(HubNameSetting); ok {
		if hubname.Pattern.MatchString(hub) {
			s.HubName = hub
		} else {
			invalid(key, "invalid hub name %q: it must start with a letter and hold at most 128 letters, digits or _`,.[]", hub)
		}
	}
	if port, key, ok := v.Get(CustomHandlerPortSetting); ok {
		s.Port = port
		if n, err := parsePort(port); err != nil {
			invalid(key, "invalid port %q: %v", port, err)
		} else {
			s.Port = strconv.Itoa(n)
		}
	}
	if t, key, ok := v.Get(HTTPClientTimeoutSetting); ok {
		if d, err := parseTimeout(t); err != nil {
			invalid(key, "%v", err)
		} else {
			s.HTTPClientTimeout = d
		}
	}
	if origins, _, ok := v.Get(CORSSetting); ok {
		s.CORSOrigins = splitList(origins)
	}
	if addr, key, ok := v.Get(LocalAddrSetting); ok {
		if err := checkHostPort(addr); err != nil {
			invalid(key, "invalid address %q: %v", addr, err)
		} else {
			s.LocalAddr = addr
		}
	}
	if t, key, ok := v.Get(AccessTokenLifetimeSetting); ok {
		if d, err := ParseAccessTokenLifetime(t); err != nil {
			s.AccessTokenLifetimeError = apierror.Setting(key, err.Error())
		} else {
			s.AccessTokenLifetime = d
		}
	}
	if types, _, ok := v.Get(ClaimTypesSetting); ok {
		s.ClaimTypes = splitList(types)
	}
	_, _, s.InAzure = v.Get(InstanceIDSetting)
	if on, _, ok := v.Get(AuthEnabledSetting); ok {
		s.AuthEnabled = strings.EqualFold(strings.TrimSpace(on), "true")
	}
	return s, errors.Join(errs...)
}

// ParseAccessTokenLifetime parses a client token lifetime: a .NET TimeSpan
// ("01:00:00") or a Go duration ("90m"), from MinAccessTokenLifetime to
// MaxAccessTokenLifetime inclusive.
func ParseAccessTokenLifetime(s string) (time.Duration, error) {
	d, err := parseTimeout(s)
	if err != nil {
		return 0, fmt.Errorf("invalid access token lifetime %q: want a .NET TimeSpan such as 01:00:00 or a Go duration such as 1h", strings.TrimSpace(s))
	}
	if err := CheckAccessTokenLifetime(d); err != nil {
		return 0, err
	}
	return d, nil
}

// CheckAccessTokenLifetime says whether d is a client token lifetime the
// service is given: 1 minute to 24 hours, inclusive.
func CheckAccessTokenLifetime(d time.Duration) error {
	if d < MinAccessTokenLifetime || d > MaxAccessTokenLifetime {
		return fmt.Errorf("access token lifetime %s is out of range: want 1 minute to 24 hours (00:01:00 to 1.00:00:00)", d)
	}
	return nil
}

// IdentityWarning is the start-up warning for an app in Azure without App
// Service Authentication, or "" when none is due. App Service
// Authentication sets x-ms-client-principal-id and x-ms-client-principal
// and strips callers' own; without it any caller chooses their values,
// and so the user id and claims of its client tokens.
func (s Settings) IdentityWarning() string {
	if !s.InAzure || s.AuthEnabled {
		return ""
	}
	return "App Service Authentication is off (WEBSITE_AUTH_ENABLED is not true): any caller of negotiate can choose " +
		"the x-ms-client-principal-id and x-ms-client-principal headers, and so the user id and claims of its " +
		"SignalR access token; turn on App Service Authentication, or take the user id from a source you verify"
}

// parsePort parses a TCP port, 1–65535.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("want a number from 1 to 65535")
	}
	return n, nil
}

// checkHostPort accepts host:port with a port from 0 to 65535 (0: any free
// port, which tests and side-by-side runs use); the host may be empty (all
// interfaces).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, e.g. 127.0.0.1:8888")
	}
	if strings.TrimSpace(port) == "0" {
		return nil
	}
	_, err = parsePort(port)
	return err
}

// splitList splits a comma list (origins, claim types), trimming each and dropping
// empty ones.
func splitList(s string) []string {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// timeSpanPattern matches the .NET TimeSpan forms [d.]hh:mm[:ss[.fffffff]].
var timeSpanPattern = regexp.MustCompile(`^(?:(\d{1,5})\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)

// parseTimeout parses AzureSignalRHttpClientTimeout: a .NET TimeSpan
// ("00:00:30", "1.02:00:00", "00:01:30.5") as the official bindings read it,
// or a Go duration ("30s", "1m30s"). The result must be positive. A bare
// number is rejected: .NET reads "30" as 30 days, which is never meant.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := timeSpanPattern.FindStringSubmatch(s); m != nil {
		num := func(i int) int64 { n, _ := strconv.ParseInt(m[i], 10, 64); return n }
		days, hours, minutes, seconds := num(1), num(2), num(3), num(4)
		if hours > 23 || minutes > 59 || seconds > 59 {
			return 0, fmt.Errorf("invalid timeout %q: hours must be 0-23, minutes and seconds 0-59", s)
		}
		var frac time.Duration
		if m[5] != "" {
			f := m[5] + strings.Repeat("0", 9-len(m[5])) // to nanoseconds
			n, _ := strconv.ParseInt(f, 10, 64)
			frac = time.Duration(n)
		}
		d := time.Duration(((days*24+hours)*60+minutes)*60+seconds)*time.Second + frac
		if d <= 0 {
			return 0, fmt.Errorf("invalid timeout %q: it must be positive", s)
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid timeout %q: want a .NET TimeSpan such as 00:00:30 or a Go duration such as 30s", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid timeout %q: it must be positive", s)
	}
	return d, nil
}
