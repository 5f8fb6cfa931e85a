package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// The endpoint role: the chaos kit's fake ingestion endpoint in a process
// of its own, counting bodies (fakeingest.CountBodies: it gunzips each and
// counts its lines, without decoding them, so that it costs little next
// to the shipper) or discarding them, with the parent's routes /stats and
// /control on the same address.

// EndpointStats is what the endpoint counted, served on /stats.
type EndpointStats struct {
	Items     int64 `json:"items"`     // lines in accepted bodies (0 when discarding)
	BodyBytes int64 `json:"bodyBytes"` // accepted request bodies as received (gzip)
	Requests  int64 `json:"requests"`  // accepted requests
	Rejected  int64 `json:"rejected"`  // requests answered 503 while down
	BadBodies int64 `json:"badBodies"` // bodies that failed to decompress or to be read (answered 4xx)
	Other     int64 `json:"other"`     // requests with any other outcome
}

// StatsOf is what a parent reads from the endpoint's counters.
func StatsOf(st fakeingest.Stats) EndpointStats {
	out := EndpointStats{Items: int64(st.ItemsAccepted), BodyBytes: st.BodyBytes}
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

// ServeEndpoint serves an endpoint reading bodies as bodies says on
// 127.0.0.1:0, writes "LISTEN <url>" to stdout, and serves until stdin
// reaches its end (the parent closed it, or died) or ctx ends. While down
// (down, or after POST /control?down=1) it answers every track request
// 503. GET /stats answers its [EndpointStats] in JSON.
func ServeEndpoint(ctx context.Context, bodies fakeingest.BodyMode, down bool, stdin io.Reader, stdout io.Writer) error {
	var ep *fakeingest.Endpoint
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(StatsOf(ep.Stats()))
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
	ep, err := fakeingest.New(fakeingest.Config{Bodies: bodies, Fallback: mux, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ep.SetUnavailable(down)
	if err := ep.Start(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "LISTEN %s\n", ep.URL()); err != nil {
		_ = ep.Close()
		return err
	}
	UntilClosed(ctx, stdin)
	return ep.Close()
}

// EndpointClient talks to an endpoint's /stats and /control routes.
type EndpointClient struct {
	// Base is the endpoint's base URL, as it said after LISTEN.
	Base string
	hc   *http.Client
}

// NewEndpointClient returns a client of the endpoint at base; each
// request is bounded to 5 s.
func NewEndpointClient(base string) *EndpointClient {
	return &EndpointClient{Base: base, hc: &http.Client{Timeout: 5 * time.Second}}
}

// Stats asks the endpoint for its counts.
func (c *EndpointClient) Stats(ctx context.Context) (EndpointStats, error) {
	var st EndpointStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/stats", nil)
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

// SetDown tells the endpoint to answer 503 (down) or to accept again.
func (c *EndpointClient) SetDown(ctx context.Context, down bool) error {
	v := "0"
	if down {
		v = "1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/control?down="+v, nil)
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

// WaitItems polls the endpoint every interval until it has counted at
// least want items, or until deadline (then it returns the last count and
// no error), or ctx ends.
func (c *EndpointClient) WaitItems(ctx context.Context, want int64, interval time.Duration, deadline time.Time) (EndpointStats, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.Stats(ctx)
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
