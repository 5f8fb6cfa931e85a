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

	"github.com/aispool/aispool/chaos/fakeingest"
)

// The endpoint role: the loopback ingestion endpoint, a healthy
// fakeingest.Endpoint that counts (or discards) bodies instead of decoding
// them, so that it costs little next to the shipper, with the parent's
// routes /stats and /control on the same address.

// endpointStats is what the endpoint counted, served on /stats.
type endpointStats struct {
	Items     int64 `json:"items"`     // lines in accepted bodies (0 if discarding)
	BodyBytes int64 `json:"bodyBytes"` // accepted request bodies as received (gzip)
	Requests  int64 `json:"requests"`  // accepted requests
	Rejected  int64 `json:"rejected"`  // requests answered 503 while down
	BadBodies int64 `json:"badBodies"` // bodies that failed to decompress or to be read (answered 4xx)
}

// statsOf is what the parent reads from the endpoint's counters.
func statsOf(st fakeingest.Stats) endpointStats {
	out := endpointStats{
		Items:     int64(st.ItemsAccepted),
		BodyBytes: st.BodyBytes,
		Requests:  int64(st.ByOutcome[fakeingest.FaultNone.Outcome(http.StatusOK)]),
		Rejected:  int64(st.ByOutcome[fakeingest.FaultOutage.Outcome(http.StatusServiceUnavailable)]),
	}
	for k, n := range st.ByOutcome {
		if strings.HasPrefix(k, string(fakeingest.FaultBadBody)) {
			out.BadBodies += int64(n)
		}
	}
	return out
}

// endpointMain serves on 127.0.0.1:0, prints "LISTEN <url>" on stdout and
// serves until its standard input closes or ctx ends. It gunzips each
// body, counts its lines (items) and answers 200 with itemsReceived =
// itemsAccepted; with -discard it reads each body and throws it away
// unread (no gunzip, no count) and answers 200, which acknowledges every
// item. While down (-down, or /control?down=1) it answers 503.
func endpointMain(ctx context.Context, f childFlags) error {
	bodies := fakeingest.CountBodies
	if f.discard {
		bodies = fakeingest.DiscardBodies
	}
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
	ep, err := fakeingest.New(fakeingest.Config{Bodies: bodies, Fallback: mux, Logger: slog.New(slog.DiscardHandler)})
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
