package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// The endpoint role: the chaos kit's fake ingestion endpoint in its
// counting mode (fakeingest.CountBodies: it gunzips each body and counts
// its lines, without decoding them, so that it costs little next to the
// shipper), with the parent's routes /stats and /control on the same
// address. Every shipper posts to it.

// endpointStats is what the endpoint counted, served on /stats.
type endpointStats struct {
	Items     int64 `json:"items"`     // lines in accepted bodies
	BodyBytes int64 `json:"bodyBytes"` // accepted request bodies as received (gzip)
	Requests  int64 `json:"requests"`  // accepted requests
	Rejected  int64 `json:"rejected"`  // requests answered 503 while down
	BadBodies int64 `json:"badBodies"` // bodies that failed to decompress or to be read
	Other     int64 `json:"other"`     // requests with any other outcome
}

// statsOf is what the parent reads from the endpoint's counters.
func statsOf(st fakeingest.Stats) endpointStats {
	out := endpointStats{Items: int64(st.ItemsAccepted), BodyBytes: st.BodyBytes}
	ok := fakeingest.FaultNone.Outcome(http.StatusOK)
	down := fakeingest.FaultOutage.Outcome(http.StatusServiceUnavailable)
	for k, n := range st.ByOutcome {
		switch {
		case k == ok:
			out.Requests += int64(n)
		case k == down:
			out.Rejected += int64(n)
		case strings.HasPrefix(k, string(fakeingest.FaultBadBody)):
			out.BadBodies += int64(n)
		default:
			out.Other += int64(n)
		}
	}
	return out
}

// endpointMain serves on 127.0.0.1:0, prints "LISTEN <url>" on stdout and
// serves until its standard input closes or ctx ends. While down (-down,
// or /control?down=1) it answers every track request 503.
func endpointMain(ctx context.Context, f childFlags) error {
	var ep *fakeingest.Endpoint
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(statsOf(ep.Stats()))
	})
	mux.HandleFunc("/control", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("down") {
		case "1":
			ep.SetUnavailable(true)
		case "0":
			ep.SetUnavailable(false)
		default:
			http.Error(w, "want down=0 or down=1", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	ep, err := fakeingest.New(fakeingest.Config{Bodies: fakeingest.CountBodies, Fallback: mux, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ep.SetUnavailable(f.down)
	if err := ep.Start(); err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ep.URL())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
	case <-ctx.Done():
	}
	return ep.Close()
}

// endpointClient talks to the endpoint's /stats and /control routes.
type endpointClient struct {
	base string
	hc   *http.Client
}

func newEndpointClient(base string) *endpointClient {
	return &endpointClient{base: base, hc: &http.Client{Timeout: 5 * time.Second}}
}

// stats asks the endpoint for its counts.
func (c *endpointClient) stats(ctx context.Context) (endpointStats, error) {
	var st endpointStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("endpoint stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// setDown tells the endpoint to answer 503 (down) or to accept again.
func (c *endpointClient) setDown(ctx context.Context, down bool) error {
	v := "0"
	if down {
		v = "1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/control?down="+v, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("endpoint control: %s", resp.Status)
	}
	return nil
}

// waitItems polls the endpoint every interval until it has counted at
// least want items, or until deadline (then it returns the last count and
// no error), or ctx ends.
func (c *endpointClient) waitItems(ctx context.Context, want int64, interval time.Duration, deadline time.Time) (endpointStats, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.stats(ctx)
		if err != nil {
			return st, err
		}
		if st.Items >= want || !time.Now().Before(deadline) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
}
