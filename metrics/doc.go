// Package metrics exposes aispool's state to Prometheus: the spool (records,
// bytes, segments, age, drops by reason), the sender (envelopes sent and
// retried, requests by status code, request durations, in-flight requests,
// throttling, last success) and build information.
//
// The collector reads the Stats snapshots of the spool and the sender at
// scrape time, so the figures are exact and cost nothing between scrapes.
// It registers on a registry the caller passes in, never the global one:
//
//	reg := metrics.NewRegistry() // with the Go and process collectors
//	if err := metrics.Register(reg, metrics.Sources{Spool: sp.Stats, Sender: snd.Stats}); err != nil { ... }
//	http.Handle("/metrics", metrics.Handler(reg))
//
// Names follow the Prometheus conventions: prefix aispool_, base units
// (seconds, bytes), _total on counters. The repository's docs/metrics.md
// lists every metric.
package metrics
