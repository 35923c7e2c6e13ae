package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/localservice"
)

// Hubs of the two fleets of the MessagePack section: a broadcast to one
// reaches only its own clients.
const (
	jsonHub    = "benchjson"
	msgpackHub = "benchmsgpack"
)

// chatArgs follow the sequence number in every broadcast of the MessagePack
// section: what a chat message typically carries.
const chatArgs = `,{"user":"alice","text":"Hello everyone, the build is green again!","at":1764417600000,"score":0.75,"tags":["ci","release"],"read":false}`

// hubSender broadcasts {"target":"bench","arguments":[seq, …chatArgs]} to a
// hub through the local service's REST API, with a token per request as the
// binding signs one.
type hubSender struct {
	hc  *http.Client
	url string // …/api/hubs/{hub}/:send?api-version=2022-06-01
	aud string // url without the query
}

func newHubSender(hc *http.Client, serviceURL, hub string) *hubSender {
	u := serviceURL + "/api/hubs/" + hub + "/:send"
	return &hubSender{hc: hc, url: u + "?api-version=2022-06-01", aud: u}
}

func (s *hubSender) send(ctx context.Context, seq int) error {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": s.aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(localservice.DevAccessKey))
	if err != nil {
		return err
	}
	body := `{"target":"bench","arguments":[` + strconv.Itoa(seq) + chatArgs + `]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: %s %s", redactQuery(s.url), resp.Status, b)
	}
	return nil
}

// clientInfo is what a client of hub needs to connect to the service
// directly: its URL and a client token as negotiate would issue.
func clientInfo(serviceURL, hub string) (connectionInfo, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return connectionInfo{}, err
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": u.Scheme + "://" + u.Hostname() + "/client/?hub=" + hub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(localservice.DevAccessKey))
	return connectionInfo{URL: serviceURL + "/client/?hub=" + hub, AccessToken: tok}, err
}

// measureMessagePack broadcasts to cfg.clients MessagePack clients and to as
// many JSON clients, each fleet in its own hub of one funcsignalr's local
// service, bursts alternating between them (ABBA after a warm-up each):
// deliveries per second, and WebSocket payload bytes per message.
func measureMessagePack(ctx context.Context, cfg config) ([]row, error) {
	h, err := startChild(cfg.app+"/funcsignalr", cfg.app, append([]string{localServiceEnv}, cfg.env...)...)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	if err := h.waitReady(ctx); err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var info connectionInfo
	if err := postJSON(ctx, hc, h.url()+negotiatePath, "", &info); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, h.out.tail())
	}
	svc, err := url.Parse(info.URL)
	if err != nil {
		return nil, err
	}
	serviceURL := svc.Scheme + "://" + svc.Host

	type side struct {
		name   string
		fleet  *fleet
		stats  wireStats
		sender *hubSender
		rate   []float64
		bytes  []float64 // payload bytes per delivered message
		frames []float64 // messages per WebSocket message
		seq    int       // the next sequence number broadcast to this fleet
	}
	sides := [2]*side{{name: "JSON"}, {name: "MessagePack"}}
	// A warm-up burst to each fleet (not counted), then ABBA twice.
	order := []int{0, 1, 0, 1, 1, 0, 0, 1, 1, 0}
	bursts := len(order) / 2
	for i, hub := range []string{jsonHub, msgpackHub} {
		s := sides[i]
		ci, err := clientInfo(serviceURL, hub)
		if err != nil {
			return nil, err
		}
		binary := i == 1
		s.fleet, err = openFleetWith(ctx, cfg.clients, bursts*cfg.burst, func(ctx context.Context, on func([]byte, time.Time)) (*sigClient, error) {
			return dialService(ctx, hc, ci, binary, &s.stats, on)
		})
		if err != nil {
			return nil, fmt.Errorf("%s clients: %w\n%s", s.name, err, h.out.tail())
		}
		defer s.fleet.close()
		s.sender = newHubSender(hc, serviceURL, hub)
	}

	for round, k := range order {
		s := sides[k]
		n := int64(len(s.fleet.clients))
		target := s.fleet.delivered.Load() + n*int64(cfg.burst)
		first := s.seq
		frames0, bytes0 := s.stats.frames.Load(), s.stats.bytes.Load()
		start := time.Now()
		if err := burst(ctx, s.sender, first, cfg.burst, cfg.senders); err != nil {
			return nil, err
		}
		s.seq += cfg.burst
		if err := s.fleet.waitDelivered(ctx, target); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", s.name, err, h.out.tail())
		}
		var last int64
		for _, row := range s.fleet.recv {
			for _, at := range row[first:s.seq] {
				last = max(last, at)
			}
		}
		msgs := float64(n * int64(cfg.burst))
		r := msgs / time.Unix(0, last).Sub(start).Seconds()
		b := float64(s.stats.bytes.Load()-bytes0) / msgs
		mpf := msgs / float64(s.stats.frames.Load()-frames0)
		fmt.Fprintf(os.Stderr, "benchtab: broadcast burst %d to %s clients: %.0f deliveries/s, %.1f bytes per message, %.1f messages per frame\n", round+1, s.name, r, b, mpf)
		if round >= 2 {
			s.rate, s.bytes, s.frames = append(s.rate, r), append(s.bytes, b), append(s.frames, mpf)
		}
	}
	j, m := sides[0], sides[1]
	ratio := median(m.rate) / median(j.rate)
	return []row{{
		what: fmt.Sprintf("broadcast to %d MessagePack clients: deliveries/s (bursts of %d sends from %d concurrent senders, REST straight to the local service, 4 per protocol after a warm-up, ABBA)",
			cfg.clients, cfg.burst, cfg.senders),
		subject:  fmt.Sprintf("%.0f/s (%.1f messages per frame)", median(m.rate), median(m.frames)),
		baseline: fmt.Sprintf("%.0f/s (%.1f messages per frame) %d JSON clients, same run", median(j.rate), median(j.frames), cfg.clients),
		ratio:    ratio, goal: "≥ 0.90 × JSON deliveries/s", met: ratio >= 0.9, hasGoal: true,
	}, {
		what:     "bytes on the wire per message (WebSocket payload ÷ messages; an int and a 6-field chat object as arguments)",
		subject:  fmt.Sprintf("%.1f B MessagePack", median(m.bytes)),
		baseline: fmt.Sprintf("%.1f B JSON", median(j.bytes)),
		ratio:    median(m.bytes) / median(j.bytes),
	}}, nil
}

// burst sends seqs first … first+count-1 through s from senders goroutines.
func burst(ctx context.Context, s *hubSender, first, count, senders int) error {
	next := make(chan int, count)
	for seq := first; seq < first+count; seq++ {
		next <- seq
	}
	close(next)
	errs := make(chan error, senders)
	for range senders {
		go func() {
			for seq := range next {
				if err := s.send(ctx, seq); err != nil {
					for range next { // drain: stop the others
					}
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var firstErr error
	for range senders {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
