package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
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

// clientInfo is what a client of hub needs to connect to the service
// directly: its URL and a client token as negotiate would issue.
func clientInfo(serviceURL, hub string) (connectionInfo, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return connectionInfo{}, err
	}
	tok, err := devToken(u.Scheme + "://" + u.Hostname() + "/client/?hub=" + hub)
	return connectionInfo{URL: serviceURL + "/client/?hub=" + hub, AccessToken: tok}, err
}

// measureMessagePack broadcasts to cfg.clients MessagePack clients and to as
// many JSON clients, each fleet in its own hub of one funcsignalr's local
// service, bursts alternating between them (ABBA after a warm-up each):
// deliveries per second, and WebSocket payload bytes per message.
func measureMessagePack(ctx context.Context, cfg config) ([]row, error) {
	h, err := startLocalService(ctx, cfg, 64, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer h.stop()

	type side struct {
		name   string
		fleet  *fleet
		stats  wireStats
		send   func(seq int) error // broadcasts to this fleet's hub
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
		ci, err := clientInfo(h.rest.base, hub)
		if err != nil {
			return nil, err
		}
		binary := i == 1
		s.fleet, err = openFleetWith(ctx, cfg.clients, bursts*cfg.burst, func(ctx context.Context, on func([]byte, time.Time)) (*sigClient, error) {
			return dialService(ctx, h.hc, ci, binary, &s.stats, on)
		})
		if err != nil {
			return nil, fmt.Errorf("%s clients: %w\n%s", s.name, err, h.tail())
		}
		defer s.fleet.close()
		path := "/api/hubs/" + hub + "/:send"
		s.send = func(seq int) error {
			body := `{"target":"bench","arguments":[` + strconv.Itoa(seq) + chatArgs + `]}`
			return h.rest.do(ctx, http.MethodPost, path, "", body, http.StatusAccepted)
		}
	}

	for round, k := range order {
		s := sides[k]
		n := int64(len(s.fleet.clients))
		target := s.fleet.delivered.Load() + n*int64(cfg.burst)
		first := s.seq
		frames0, bytes0 := s.stats.frames.Load(), s.stats.bytes.Load()
		start := time.Now()
		if err := sendConcurrently(first, cfg.burst, cfg.senders, s.send); err != nil {
			return nil, err
		}
		s.seq += cfg.burst
		if err := s.fleet.waitDelivered(ctx, target); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", s.name, err, h.tail())
		}
		last := s.fleet.lastArrival(first, s.seq)
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
