package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/aispool/aispool/metrics"
	"github.com/aispool/aispool/spool"
)

// A spool's figures served at /metrics, next to the Go and process
// collectors, on a registry of the caller's (never the global one).
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sp, err := spool.Open(ctx, dir+"/spool", &spool.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer sp.Close()
	if err := sp.Append(ctx, []byte(`{"a":1}`), []byte(`{"b":2}`)); err != nil {
		panic(err)
	}

	reg := metrics.NewRegistry()
	// A sender's Stats and the ingestion endpoint's go in the same Sources.
	if err := metrics.Register(reg, metrics.Sources{Spool: sp.Stats, Version: "v0.1.0"}); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(reg))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "aispool_envelopes_enqueued_total ") || strings.HasPrefix(line, "aispool_spool_records ") {
			fmt.Println(line)
		}
	}
	// Output:
	// aispool_envelopes_enqueued_total 2
	// aispool_spool_records 2
}
