package bindings

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// DefaultHealthInterval spaces the probes of an offline endpoint.
const DefaultHealthInterval = 10 * time.Second

// pick chooses the endpoint of a negotiation among several: a random
// online primary; else a random online secondary; else a random primary
// (any endpoint when all are secondaries).
func (c *Client) pick() *endpoint {
	if c.health.offline.Load() == 0 { // the common case: one random number
		return c.primaries[rand.IntN(len(c.primaries))]
	}
	if ep := pickRandom(c.eps, func(e *endpoint) bool { return e.primary && !e.offline.Load() }); ep != nil {
		return ep
	}
	if ep := pickRandom(c.eps, func(e *endpoint) bool { return !e.offline.Load() }); ep != nil {
		return ep
	}
	if ep := pickRandom(c.eps, func(e *endpoint) bool { return e.primary }); ep != nil {
		return ep
	}
	return c.eps[rand.IntN(len(c.eps))]
}

// pickRandom returns a uniformly random endpoint among those that match,
// or nil, without allocating. An endpoint that changes state between the
// two passes may tilt one choice; the next is fair again.
func pickRandom(eps []*endpoint, match func(*endpoint) bool) *endpoint {
	n := 0
	for _, e := range eps {
		if match(e) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := rand.IntN(n)
	var last *endpoint
	for _, e := range eps {
		if match(e) {
			if k == 0 {
				return e
			}
			k--
			last = e
		}
	}
	return last
}

// sendEverywhere carries out each operation at every endpoint at once and
// starts the next when all have answered; it stops at the first operation
// that some endpoint did not carry out.
func (c *Client) sendEverywhere(ctx context.Context, ops []Operation) (int, error) {
	errs := make([]error, len(c.eps))
	var wg sync.WaitGroup
	for i := range ops {
		op := &ops[i]
		for j := 1; j < len(c.eps); j++ {
			wg.Go(func() { errs[j] = c.doAt(ctx, c.eps[j], op) })
		}
		errs[0] = c.doAt(ctx, c.eps[0], op)
		wg.Wait()
		if err := c.partialFailure(errs); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

// doAt carries out op at e and marks e offline when the service could not
// be reached, did not answer in time or answered a 5xx.
func (c *Client) doAt(ctx context.Context, e *endpoint, op *Operation) error {
	err := e.do(ctx, op, c.timeout)
	var be *apierror.Error
	if err != nil && errors.As(err, &be) && ctx.Err() == nil &&
		(be.Code == apierror.ServiceTimeout || be.Code == apierror.ServiceError && (be.ServiceStatus == 0 || be.ServiceStatus >= 500)) {
		c.health.markOffline(e, be.Message)
	}
	return err
}

// partialFailure combines the failures of one operation, nil when every
// endpoint carried it out.
func (c *Client) partialFailure(errs []error) error {
	var first *apierror.Error
	var failed []string
	var causes []error
	for j, err := range errs {
		if err == nil {
			continue
		}
		var be *apierror.Error
		if !errors.As(err, &be) { // unreachable: every failure is an *apierror.Error
			be = apierror.Wrap(apierror.ServiceError, err, "%v", err)
		}
		if first == nil {
			first = be
		}
		failed = append(failed, c.eps[j].describe()+": "+be.Message)
		causes = append(causes, err)
	}
	if first == nil {
		return nil
	}
	e := apierror.Wrap(first.Code, errors.Join(causes...), "failed at %d of %d SignalR endpoints (the others carried it out): %s",
		len(failed), len(c.eps), strings.Join(failed, "; "))
	e.ServiceStatus, e.ServiceCode = first.ServiceStatus, first.ServiceCode
	return e
}

// describe names the endpoint in messages: its name and host.
func (e *endpoint) describe() string {
	return "endpoint " + strconv.Quote(e.name) + " (" + e.host + ")"
}

// health watches the endpoints of a Client: a failed call marks one
// offline, and while any is, each offline one is probed with
// HEAD <serverEndpoint>/api/health every interval; 200 brings it back.
type health struct {
	eps        []*endpoint
	transport  policy.Transporter
	interval   time.Duration
	tryTimeout time.Duration
	logger     *slog.Logger

	offline atomic.Int32  // endpoints offline now
	wake    chan struct{} // an endpoint went offline
	life    context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

func newHealth(eps []*endpoint, o Options) *health {
	h := &health{eps: eps, transport: o.Transport, interval: o.HealthInterval, tryTimeout: o.TryTimeout,
		logger: o.Logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.life, h.cancel = context.WithCancel(context.Background())
	go h.run()
	return h
}

// markOffline marks e offline, logging the change once.
func (h *health) markOffline(e *endpoint, reason string) {
	if h == nil || !e.offline.CompareAndSwap(false, true) {
		return
	}
	h.offline.Add(1)
	h.logger.Warn("SignalR endpoint is offline: negotiate avoids it until its health probe answers 200",
		slog.String("endpoint", e.name), slog.String("host", e.host), slog.String("reason", reason))
	select {
	case h.wake <- struct{}{}:
	default: // a wake-up is pending
	}
}

func (h *health) run() {
	defer close(h.done)
	for {
		select {
		case <-h.life.Done():
			return
		case <-h.wake:
		}
		t := time.NewTicker(h.interval)
		for h.anyOffline() {
			select {
			case <-h.life.Done():
				t.Stop()
				return
			case <-t.C:
			}
			for _, e := range h.eps {
				if e.offline.Load() && h.probe(e) {
					e.offline.Store(false)
					h.offline.Add(-1)
					h.logger.Info("SignalR endpoint is back online", slog.String("endpoint", e.name), slog.String("host", e.host))
				}
			}
		}
		t.Stop()
	}
}

func (h *health) anyOffline() bool { return h.offline.Load() > 0 }

// probe reports whether HEAD <serverEndpoint>/api/health answers 200.
func (h *health) probe(e *endpoint) bool {
	ctx, cancel := context.WithTimeout(h.life, h.tryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, e.healthURL, nil)
	if err != nil {
		return false
	}
	resp, err := h.transport.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// close stops the watch and waits for it to end.
func (h *health) close() {
	h.cancel()
	<-h.done
}
