// Package sender drains a durable queue of Application Insights envelopes
// (the spool) to the ingestion endpoint ("Breeze"), following the decisions
// that the repository's docs/protocol.md states.
//
// # Use
//
//	sp, _ := spool.Open(ctx, dir, nil)
//	s, err := sender.New(sender.Config{
//		Queue:            sender.SpoolQueue(sp),
//		ConnectionString: cs, // or APPLICATIONINSIGHTS_CONNECTION_STRING via LookupEnv
//		LookupEnv:        os.LookupEnv,
//	})
//	go s.Run(ctx)
//	...
//	s.Flush(ctx) // what was queued is delivered or dropped (counted)
//	s.Close(ctx)
//
// # What a request looks like
//
// A batch of at most Config.MaxBatchItems records (≤ 64,000) and
// Config.MaxBatchBytes uncompressed bytes is leased from the queue. Records
// older than Config.MaxAge (47 h), tried Config.MaxAttempts times, or longer
// than Config.MaxItemBytes are dropped first, counted by reason. The rest are
// concatenated (each is one JSON line) and gzip'd into one body, posted to
// <endpoint>/v2.1/track with Content-Type application/x-json-stream and
// Content-Encoding gzip, and with "Authorization: Bearer <token>" from
// Config.TokenSource when one is given (a connection string that says
// Authorization=AAD requires one). The token is cached until two minutes
// before it expires (halfway through its life if that is shorter); a 401
// makes the sender forget it, so the next request carries a fresh one.
//
// # Responses
//
// Each answer is classified by the protocol's own package (internal/breeze)
// exactly as the Decisions of the protocol say: 200 acknowledges all; 206
// (and 400 listing errors[]) keeps the items refused with 408, 429, 439,
// 500, 502, 503 or 504 unless sampled out, and drops the rest counted as
// "status_<code>" or "sampled_out"; 401, 403, 408, 429, 439, 5xx, timeouts
// and connection errors keep everything and back off; 413 splits the batch
// in halves (a single refused item is dropped); 402, 404 and other 4xx drop
// and count. 307/308 are followed (at most 10 hops) and the new URL is
// remembered for the response's Cache-Control max-age (default 12 h); with a
// bearer token, only to Azure Monitor hosts of the same cloud.
//
// # Back-off, throttling and pacing
//
// Each endpoint has one back-off state (cenkalti/backoff: 1 s initial,
// factor 2, ±50% jitter, capped at Config.BackoffMax, 5 min by default)
// and a "not before" gate: no request starts before it. Retry-After (seconds
// or an HTTP date, clamped to 1 h) replaces the computed interval. A success
// resets the state. A 206 with only permanent errors does not back off.
// While an endpoint fails, one probe request is in flight; after it
// recovers, concurrency grows by one per success up to Config.MaxInFlight,
// so the backlog is drained at a measured pace, never all at once.
//
// Below that schedule, go-retryablehttp retries a request whose connection
// failed before any response (refused, reset) at most
// Config.TransportRetries times within about a second; it never retries a
// response or a timeout, so the two layers cannot multiply into a storm.
//
// # Delivery, statistics, logs
//
// Delivery is at least once: records are removed from the queue only after
// the service's answer, so a crash or a timeout can duplicate them. Stats
// counts every outcome (sent, retried, dropped by reason and status code,
// requests by status, bytes, durations, in flight, throttled-until, last
// success). Logs go to Config.Logger (log/slog) and never contain
// envelopes, full instrumentation keys or tokens.
//
// # Time
//
// [Config.Clock] supplies time to the gate, Retry-After dates, expiry and
// polling, so tests run hours of back-off in milliseconds.
package sender
