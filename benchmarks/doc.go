// Command benchmarks runs aispool's whole-system performance scenarios on
// this machine and writes a markdown report, comparing aispool with the
// limits of the machine measured in the same run (ratios, since shared
// machines are noisy).
//
//	go run ./benchmarks                       # default sizes, writes benchmarks/REPORT.md
//	go run ./benchmarks -spans 100000 -backlog 1000000
//	go run ./benchmarks -ship-envelopes 1000000 -ship-envelope-bytes 1024 -ship-discard
//
// Scenarios (HTTP-server spans with 8 attributes, and a mixed workload of
// server spans with database and HTTP client children and exception
// events, made through the OpenTelemetry SDK with a BatchSpanProcessor
// using WithBlocking, so no span is dropped):
//
//   - produce: SDK → exporter (WithoutSender) → spool, durable;
//   - ship: the spool produce left → sender → loopback endpoint; with
//     -ship-envelopes, a spool pre-filled by a run of its own with that
//     many envelopes (padded to -ship-envelope-bytes), and with
//     -ship-discard an endpoint that discards bodies unread;
//   - e2e: SDK → exporter → spool → in-process sender → endpoint, until the
//     endpoint has counted every envelope;
//   - backlog: e2e with the endpoint down until the whole backlog is
//     spooled, then up: the drain.
//
// Baselines: the SDK with an exporter that discards; raw bbolt, 1000 puts of
// about 1 KiB per synced transaction; encoding/json of the same envelopes;
// gzip of the same bodies (klauspost/compress at the sender's level, and the
// standard library); a plain net/http client posting pre-gzip'd bodies to
// the same endpoint.
//
// The process under measurement (the "shipper") and the endpoint each run
// in a child process: this binary re-executed with -role. The parent reads
// the shipper's CPU time and peak RSS from its rusage, so the figures are
// the shipper's alone. The endpoint, the chaos kit's fake endpoint
// (chaos/fakeingest) in its counting body mode, listens on 127.0.0.1 only,
// gunzips each body and counts its lines. CPU and allocation profiles of every shipper
// run go to benchmarks/out/ (git-ignored); the report names the top
// functions of the profile behind any missed target.
package main
