// Command compare runs aispool's exporter side by side with its peers on
// this machine and writes a markdown report: the OpenTelemetry
// Collector's azuremonitorexporter (with its file_storage persistent
// queue, fsync on; with its default in-memory queue; with no queue),
// Microsoft's ApplicationInsights-Go (memory only), and the OpenTelemetry
// SDK alone with an exporter that discards (the baseline).
//
//	cd benchmarks/compare
//	go run .                              # 300,000 spans per run, 5 rounds, both span shapes, ua101 under load too, the probe
//	go run . -spans 20000 -rounds 1       # a quick look
//	go run . -load 0                      # quiet runs only
//
// It is a Go module of its own so that aispool's module never depends on
// the Collector; it builds the aispool of the checkout it sits in
// (replace directive).
//
// Every shipper gets the same spans (HTTP server spans with 8 attributes,
// made through the real SDK with the same BatchSpanProcessor settings) and
// posts to the same counting endpoint (chaos/fakeingest in its CountBodies
// mode) in another process. Each run is a child process (this binary
// re-executed with -role), so that its CPU time (rusage) and peak RSS
// (VmHWM) are its own. Rounds are round-robin; the report gives medians
// and ranges.
//
// Under load (-load N, by default one per CPU): on the -load-shapes every
// shipper runs a second time in each round beside a process keeping N
// goroutines busy; the report gives each shipper's rise in CPU per span,
// its context switches, and aispool's group commits (their number and
// sizes, from its spool's Stats) quiet and loaded.
//
// The durability probe: the endpoint answers 503, a process hands 10,000
// spans over, 3 s later it is SIGKILLed (or, separately, shut down
// cleanly); a new process on the same directory then gets a healthy
// endpoint: how many spans does the endpoint count?
package main
