// Package chaos is aispool's chaos kit: scenarios that push envelopes
// through a real shipper under the faults of a flaky fake Application
// Insights ingestion endpoint (package [fakeingest]), killing the shipper,
// filling its disk or corrupting its spool, and a verifier that proves
// nothing acknowledged was lost: every envelope was accepted, or dropped
// for a documented and counted reason.
//
// # Scenarios and the verifier
//
//	p, _ := fakeingest.ProfileByName("flaky")
//	res, err := (&chaos.Scenario{Profile: p, Envelopes: 10_000}).Run(ctx)
//	if err == nil && !res.Passed() { ... res.Checks, res.Lost ... }
//	_ = res.WriteHTML(f) // a self-contained report with plots
//
// A Scenario runs the shipper in this process (the OpenTelemetry SDK, the
// exporter, a spool and the sender) or as `aispool run` child processes
// (Scenario.Daemon), which it can SIGKILL and restart (KillEvery,
// MinKills), run with a small RLIMIT_FSIZE (FileSizeLimit) or whose spool
// it can damage while it is down (CorruptAfter). The verifier's checks are
// listed with the Check* constants: nothing lost, duplicates explained,
// Retry-After honoured, the in-flight bound kept, the shipper's Prometheus
// counters (scraped from its /metrics) equal to what the endpoint saw, the
// spool drained, a clean exit. A WarpClock runs hours of outage in seconds.
//
// # Liveness
//
// Losing nothing is not enough: the pipe must keep flowing. Three checks
// measure it (Result.Liveness) against the thresholds of the profile's
// "liveness" section: throughput (the bulk delivery rate, against a
// healthy twin of the same scenario run at the same time, or a floor),
// recovery (from the endpoint's last fault until its backlog left the
// spool) and stall (the longest stretch with records waiting, a healthy
// endpoint and nothing sent, records waiting a per-record retry delay
// excepted until they come due). ScenarioShape is the shape the kit's own
// tests run each profile with. The HTML report draws the shipper's gates
// and the endpoint's Retry-After windows on the timeline.
//
// The endpoint, its fault profiles (and their JSON schema), the synthetic
// envelopes and what the endpoint records are documented in package
// [fakeingest], which tests that need only the endpoint import alone.
package chaos
