// Package funchost is a stand-in for the Azure Functions host in tests: it
// reads host.json and the function folders the way the host does, starts the
// custom handler binary with FUNCTIONS_CUSTOMHANDLER_PORT, waits on GET /,
// enforces authLevel with a function key, and invokes functions in
// forwarding mode or payload mode, following
// shared/reference/functions-custom-handler.md. Core Tools cannot be
// installed offline, so this is how tests drive the handler like the host.
package funchost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// HostVersion is the host version the fake announces in its headers.
const HostVersion = "4.1037.0"

// Function is a function as the host sees it in <name>/function.json.
type Function struct {
	Name      string
	Route     string
	Methods   []string // upper-case; empty = all
	AuthLevel string

	// Trigger is the trigger binding's type, lower-cased; for any trigger
	// but httpTrigger the host invokes the function itself (Invoke), and
	// TriggerName is the binding's name: the key of its value in Data.
	Trigger     string
	TriggerName string
}

// IsHTTP reports whether the host routes HTTP requests to fn.
func (fn Function) IsHTTP() bool { return fn.Trigger == "httptrigger" }

// Config is the app root as the host reads it.
type Config struct {
	ExecutablePath string
	Forwarding     bool
	RoutePrefix    string
	Functions      map[string]Function // by name
}

// ReadConfig reads host.json and every */function.json under root.
func ReadConfig(root string) (Config, error) {
	raw, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		return Config{}, err
	}
	var host struct {
		Version       string
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string
			}
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		}
		Extensions struct {
			HTTP struct {
				RoutePrefix *string
			}
		}
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		return Config{}, fmt.Errorf("host.json: %w", err)
	}
	if host.Version != "2.0" {
		return Config{}, fmt.Errorf("host.json: version %q, want 2.0", host.Version)
	}
	if host.CustomHandler.Description.DefaultExecutablePath == "" {
		return Config{}, errors.New("WorkerDescription DefaultExecutablePath cannot be empty")
	}
	cfg := Config{
		ExecutablePath: host.CustomHandler.Description.DefaultExecutablePath,
		Forwarding:     host.CustomHandler.EnableForwardingHTTPRequest,
		RoutePrefix:    "api",
		Functions:      map[string]Function{},
	}
	if p := host.Extensions.HTTP.RoutePrefix; p != nil {
		cfg.RoutePrefix = *p
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "function.json"))
	for _, path := range dirs {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, err
		}
		var fj struct {
			Bindings []map[string]any
		}
		if err := json.Unmarshal(raw, &fj); err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
		name := filepath.Base(filepath.Dir(path))
		fn := Function{Name: name, Route: name, AuthLevel: "function", Trigger: "httptrigger"}
		if typ, bname, ok := otherTrigger(fj.Bindings); ok {
			fn.Trigger, fn.TriggerName, fn.Route = typ, bname, ""
			cfg.Functions[name] = fn
			continue
		}
		var in, out int
		for _, b := range fj.Bindings {
			typ, _ := b["type"].(string)
			switch strings.ToLower(typ) {
			case "httptrigger":
				in++
				if r, _ := b["route"].(string); r != "" {
					fn.Route = r
				}
				if a, _ := b["authLevel"].(string); a != "" {
					fn.AuthLevel = strings.ToLower(a)
				}
				ms, _ := b["methods"].([]any)
				for _, m := range ms {
					s, _ := m.(string)
					fn.Methods = append(fn.Methods, strings.ToUpper(s))
				}
			case "http":
				out++
			default:
				in++ // any other binding: the host no longer forwards
			}
		}
		if in != 1 || out != 1 {
			return Config{}, fmt.Errorf("%s: want exactly one httpTrigger and one http output", path)
		}
		cfg.Functions[name] = fn
	}
	if len(cfg.Functions) == 0 {
		return Config{}, errors.New("no function folders under " + root)
	}
	return cfg, nil
}

// otherTrigger finds a trigger binding other than httpTrigger (timer,
// queue, …): the host invokes such a function itself, with the trigger's
// value in Data.<binding name>.
func otherTrigger(bindings []map[string]any) (typ, name string, ok bool) {
	for _, b := range bindings {
		t, _ := b["type"].(string)
		t = strings.ToLower(t)
		if strings.HasSuffix(t, "trigger") && t != "httptrigger" {
			name, _ = b["name"].(string)
			return t, name, true
		}
	}
	return "", "", false
}

// Names returns the function names, sorted.
func (c Config) Names() []string {
	var names []string
	for n := range c.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PublicPath is /<routePrefix>/<route>.
func (c Config) PublicPath(fn Function) string {
	if c.RoutePrefix == "" {
		return "/" + fn.Route
	}
	return "/" + c.RoutePrefix + "/" + fn.Route
}

// Build compiles the handler in srcDir into an app root under dir laid out
// as it is deployed: the binary named as host.json's defaultExecutablePath
// beside host.json and the function folders.
func Build(srcDir, dir string) (string, error) {
	cfg, err := ReadConfig(srcDir)
	if err != nil {
		return "", err
	}
	root := filepath.Join(dir, "approot")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(root, cfg.ExecutablePath), ".")
	cmd.Dir = srcDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	if err := copyFile(filepath.Join(srcDir, "host.json"), filepath.Join(root, "host.json")); err != nil {
		return "", err
	}
	for name := range cfg.Functions {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			return "", err
		}
		if err := copyFile(filepath.Join(srcDir, name, "function.json"), filepath.Join(root, name, "function.json")); err != nil {
			return "", err
		}
	}
	return root, nil
}

func copyFile(from, to string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o644)
}

// Host is a running fake Functions host with its handler process.
type Host struct {
	Config      Config
	FunctionKey string
	HandlerAddr string        // 127.0.0.1:PORT of the handler
	ReadyAfter  time.Duration // process start → first answer on GET /
	URL         string        // public base URL, e.g. http://127.0.0.1:PORT

	cmd     *exec.Cmd
	public  *http.Server
	client  *http.Client
	waitErr chan error
	stdout  testkit.Buffer
	stderr  testkit.Buffer
	forward bool
}

// Options for Start.
type Options struct {
	Env         []string // extra environment (app settings), appended to a minimal base
	FunctionKey string   // default "test-function-key"
	// PayloadMode forces payload invocations even when host.json enables
	// forwarding, as the host does for functions with other bindings.
	PayloadMode bool
	Timeout     time.Duration // readiness timeout, default 30 s as the host
	// ProbeInterval is the readiness poll period: 25 ms as the host by
	// default; measurements use a shorter one.
	ProbeInterval time.Duration
}

// Start launches the handler in root as the host does and serves the
// public function URLs on a loopback port.
func Start(ctx context.Context, root string, opts Options) (*Host, error) {
	cfg, err := ReadConfig(root)
	if err != nil {
		return nil, err
	}
	if opts.FunctionKey == "" {
		opts.FunctionKey = "test-function-key"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = 25 * time.Millisecond
	}
	// Like the host, pick a free port and hand it to the handler. Another
	// process may take the port between the two: then the handler exits
	// with "address already in use", and we try again with another port.
	var h *Host
	for attempt := 1; ; attempt++ {
		h, err = startHandler(ctx, root, cfg, opts)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return nil, err
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Stop()
		return nil, err
	}
	h.URL = "http://" + ln.Addr().String()
	h.public = &http.Server{Handler: http.HandlerFunc(h.serve)}
	go h.public.Serve(ln)
	return h, nil
}

// errPortTaken reports a handler that lost its port to another process.
var errPortTaken = errors.New("the handler's port was taken by another process")

// startHandler starts the handler process on a free port and waits until
// it answers the readiness probe.
func startHandler(ctx context.Context, root string, cfg Config, opts Options) (*Host, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h := &Host{
		Config:      cfg,
		FunctionKey: opts.FunctionKey,
		HandlerAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		client: &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 256},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		waitErr: make(chan error, 1),
		forward: cfg.Forwarding && !opts.PayloadMode,
	}
	exe := filepath.Join(root, cfg.ExecutablePath)
	h.cmd = exec.Command(exe)
	h.cmd.Dir = root
	dieWithParent(h.cmd)
	h.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port),
		"FUNCTIONS_HTTPWORKER_PORT=" + strconv.Itoa(port),
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID=00000000-0000-0000-0000-000000000001",
		"FUNCTIONS_APP_ROOT_PATH=" + root,
	}, opts.Env...)
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	start := time.Now()
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { h.waitErr <- h.cmd.Wait() }()
	if err := h.waitReady(ctx, start, opts.Timeout, opts.ProbeInterval); err != nil {
		h.Stop()
		if strings.Contains(h.Stderr(), "address already in use") {
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, err
	}

	return h, nil
}

// waitReady polls GET / every interval, as the host does every 25 ms.
func (h *Host) waitReady(ctx context.Context, start time.Time, timeout, interval time.Duration) error {
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := probe.Get("http://" + h.HandlerAddr + "/")
		if err == nil {
			resp.Body.Close()
			h.ReadyAfter = time.Since(start)
			return nil
		}
		select {
		case err := <-h.waitErr:
			return fmt.Errorf("handler exited before it was ready: %v\nstderr:\n%s", err, h.Stderr())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
	return errors.New("Initializing HttpWorker timed out.")
}

// Stdout returns what the handler wrote to stdout so far.
func (h *Host) Stdout() string { return h.stdout.String() }

// Stderr returns what the handler wrote to stderr so far.
func (h *Host) Stderr() string { return h.stderr.String() }

// Signal sends sig to the handler process.
func (h *Host) Signal(sig os.Signal) error { return h.cmd.Process.Signal(sig) }

// Wait waits for the handler process to exit.
func (h *Host) Wait(timeout time.Duration) error {
	select {
	case err := <-h.waitErr:
		h.waitErr <- err
		return err
	case <-time.After(timeout):
		return errors.New("handler did not exit in time")
	}
}

// Stop stops the public listener and the handler (SIGTERM, then kill).
func (h *Host) Stop() {
	if h.public != nil {
		h.public.Close()
	}
	if h.cmd.ProcessState == nil && h.cmd.Process != nil {
		h.cmd.Process.Signal(os.Interrupt)
		if h.Wait(5*time.Second) != nil {
			h.cmd.Process.Kill()
			h.Wait(5 * time.Second)
		}
	}
}

// serve is the host's public HTTP front end: route, authLevel, invoke.
func (h *Host) serve(w http.ResponseWriter, r *http.Request) {
	var fn Function
	found := false
	for _, f := range h.Config.Functions {
		if f.IsHTTP() && routeMatches(h.Config.PublicPath(f), r.URL.Path) {
			fn, found = f, true
		}
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	if fn.AuthLevel != "anonymous" {
		key := r.Header.Get("x-functions-key")
		if key == "" {
			key = r.URL.Query().Get("code")
		}
		if key != h.FunctionKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	var resp *Response
	var err error
	if h.forward {
		resp, err = h.Forward(r.Context(), r.Method, r.URL.Path+queryString(r.URL), r.Header, body)
	} else {
		resp, err = h.Payload(r.Context(), fn.Name, r.Method, "http://"+r.Host+r.URL.RequestURI(), r.Header, body)
	}
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, err)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// routeMatches compares a request path with a function's public path, in
// any letter case; a final {*name} route parameter matches the rest of the
// path, possibly empty, as ASP.NET Core routing does.
func routeMatches(public, path string) bool {
	if i := strings.Index(public, "/{*"); i >= 0 && strings.HasSuffix(public, "}") {
		prefix := public[:i]
		return strings.EqualFold(path, prefix) || len(path) > len(prefix) &&
			strings.EqualFold(path[:len(prefix)], prefix) && path[len(prefix)] == '/'
	}
	return strings.EqualFold(path, public)
}

func queryString(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// Response is what a caller of the public function URL gets back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// roundTrip sends req to the handler with the headers the host adds and
// reads the whole answer.
func (h *Host) roundTrip(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	req.Header.Set("X-Azure-Functions-InvocationId", newInvocationID())
	req.Header.Add("User-Agent", "Azure-Functions-Host/"+HostVersion)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

var invocations struct {
	sync.Mutex
	n int
}

func newInvocationID() string {
	invocations.Lock()
	defer invocations.Unlock()
	invocations.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", invocations.n)
}

// Forward sends the request to the handler as forwarding mode does: same
// method, path (prefix included), query and headers, plus the host's.
func (h *Host) Forward(ctx context.Context, method, pathAndQuery string, header http.Header, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.HandlerAddr+pathAndQuery, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	resp, raw, err := h.roundTrip(req)
	if err != nil {
		return nil, err
	}
	hd := resp.Header.Clone()
	hd.Del("Date")
	hd.Del("Content-Length")
	return &Response{Status: resp.StatusCode, Header: hd, Body: raw}, nil
}

// Payload invokes function name as the host does in payload mode: POST
// /<name> with {"Data":{"req":...},"Metadata":...}, then turns
// Outputs.res back into an HTTP response. A non-2xx or non-JSON answer is
// an invocation failure, as in the host.
func (h *Host) Payload(ctx context.Context, name, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	query := map[string]string{}
	for k, vs := range u.Query() {
		query[k] = strings.Join(vs, ",")
	}
	headers := map[string][]string{}
	for k, vs := range header {
		headers[k] = vs
	}
	req := map[string]any{"Url": u.String(), "Method": method, "Query": query, "Headers": headers, "Identities": []any{}}
	if len(body) > 0 {
		req["Body"] = string(body)
	}
	result, err := h.Invoke(ctx, name, map[string]any{"req": req},
		map[string]any{"Query": mustJSON(query), "Headers": mustJSON(headers)})
	if err != nil {
		return nil, err
	}
	var out struct {
		StatusCode json.Number      `json:"statusCode"`
		Headers    map[string]any   `json:"headers"`
		Body       *json.RawMessage `json:"body"`
	}
	res, ok := result.Outputs["res"]
	if !ok {
		return nil, errors.New("invocation result has no Outputs.res")
	}
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, fmt.Errorf("Failed while trying to Deserialize to httpOutputBindingResponse: %v", err)
	}
	status := http.StatusOK
	if out.StatusCode != "" {
		n, err := strconv.Atoi(out.StatusCode.String())
		if err != nil {
			return nil, fmt.Errorf("statusCode %q is not a number", out.StatusCode)
		}
		status = n
	}
	hd := http.Header{}
	for k, v := range out.Headers {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("header %s is %T; the host writes header values with ToString()", k, v)
		}
		hd.Set(k, s)
	}
	var respBody []byte
	if out.Body != nil {
		var s string
		if err := json.Unmarshal(*out.Body, &s); err != nil {
			return nil, fmt.Errorf("Outputs.res.body is not a string")
		}
		respBody = []byte(s)
	}
	return &Response{Status: status, Header: hd, Body: respBody}, nil
}

// InvocationResult is the handler's answer to a non-HTTP invocation.
type InvocationResult struct {
	Status      int
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
	Body        []byte // the answer as it came
}

// Invoke invokes a non-HTTP function as the host does for a timer, queue or
// any other trigger: POST /<name> with {"Data": data, "Metadata": metadata
// + sys}. A non-2xx answer is a failed invocation: the error says so, and
// the result still carries the status and body.
func (h *Host) Invoke(ctx context.Context, name string, data, metadata map[string]any) (*InvocationResult, error) {
	md := map[string]any{"sys": map[string]any{"MethodName": name, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano), "RandGuid": newInvocationID()}}
	for k, v := range metadata {
		md[k] = v
	}
	env, err := json.Marshal(map[string]any{"Data": data, "Metadata": md})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.HandlerAddr+"/"+name, bytes.NewReader(env))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, raw, err := h.roundTrip(req)
	if err != nil {
		return nil, err
	}
	res := &InvocationResult{Status: resp.StatusCode, Body: raw}
	if resp.StatusCode/100 != 2 {
		return res, fmt.Errorf("invocation failed: handler answered %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "text/json") {
		return res, fmt.Errorf("Invalid HttpResponseMessage: content type %q", ct)
	}
	var out struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue json.RawMessage
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return res, fmt.Errorf("invalid invocation result: %v", err)
	}
	res.Outputs, res.Logs, res.ReturnValue = out.Outputs, out.Logs, out.ReturnValue
	return res, nil
}

// TimerInfo is the timer trigger's value as the host sends it, with the
// host's old zone-less timestamps (azure-functions-host #7391).
func TimerInfo(next time.Time, isPastDue bool) map[string]any {
	return map[string]any{
		"Schedule": map[string]any{"AdjustForDST": true},
		"ScheduleStatus": map[string]any{
			"Last": "0001-01-01T00:00:00", "Next": next.UTC().Format("2006-01-02T15:04:05"), "LastUpdated": "0001-01-01T00:00:00",
		},
		"IsPastDue": isPastDue,
	}
}

func mustJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
