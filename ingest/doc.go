// Package ingest is the daemon's local ingestion endpoint: an http.Handler
// that speaks the Application Insights ingestion API, so that any
// Application Insights SDK (.NET, Node.js, Python, Java, the OpenTelemetry
// Collector) gains offline storage and retries by pointing the
// IngestionEndpoint of its connection string at the daemon. What it accepts
// goes into the spool, from which the sender forwards it.
//
// # Requests
//
// POST /v2/track and POST /v2.1/track; leading slashes are collapsed, so
// "//v2.1/track" (what .NET and Python produce from an endpoint with a
// trailing slash) works too, and the query string is ignored. Any other
// path is 404, any other method on these paths 405 with "Allow: POST".
// The body is decoded by internal/breeze: a JSON array or
// newline-delimited JSON, gzip-compressed or plain. Content-Type is not
// checked (SDKs send application/json or application/x-json-stream for
// either form).
//
// # Answers
//
// Every answer is application/json; track answers have the service's
// TrackResponse shape {"itemsReceived":N,"itemsAccepted":M,"errors":[...]}.
// Every refusal (a status from 400 up) also has a "message" saying why the
// request was refused, for a person reading the answer: SDKs ignore it.
//
//   - 200: every item is valid, and all of them are durable in the spool
//     (one Append call for the whole request, which returns once fsynced).
//   - 206: some items are not valid envelopes (not JSON, not an object,
//     over the item size limit, or refused by envelope.Validate); each is
//     listed as {"index":i,"statusCode":400,"message":...}, with i its
//     0-based position in the request (array element, or non-blank NDJSON
//     line); the others are durable.
//   - 400 with errors[]: no item is valid; every item is listed, nothing
//     is stored (as the service does for a batch whose only item is
//     refused).
//   - 400 with empty errors[]: the body cannot be parsed at all (broken
//     gzip, broken array, empty body, not JSON), or could not be read.
//     errors[] is empty on purpose: a sender that applies errors[] would
//     otherwise take the unlisted items as accepted.
//   - 413: the body exceeds Limits.MaxBodyBytes as received (refused from
//     Content-Length before reading, or while reading a chunked body),
//     Limits.MaxDecodedBytes after decompression (gzip bombs), holds
//     more than Limits.MaxItems items, or alone needs more memory than the
//     whole Config.MemoryBudget. The sender splits and retries.
//   - 408 with "Connection: close": the body arrived slower than
//     Config.MinBodyRate (see Slow clients); nothing is stored.
//   - 415 with "Accept-Encoding: gzip": a Content-Encoding other than
//     gzip or identity.
//   - 503 with Retry-After (seconds): the spool could not take the items
//     (full under the reject-new policy, closed, disk error, or slower than
//     Config.AppendTimeout), or the memory the request needs is held by
//     other requests for longer than it may wait (see Memory). Nothing of that request was acknowledged: the
//     client keeps and resends all of it. If the failure was a timeout the
//     items may still have been stored, so the resend may duplicate them;
//     delivery is at least once.
//
// Once a request's body has been read to its end, the request is carried
// out and answered even if the connection's read side ends meanwhile (a
// client that half-closes its side after sending, which cancels the
// request's context), bounded by Config.AppendTimeout.
//
// A record refused by the spool on its own (over the spool's
// MaxRecordBytes) becomes a per-item error and the rest is stored.
//
// # Slow clients
//
// A request's body is read, decoded and validated as it arrives, before the
// request takes one of the Config.MaxConcurrent slots in which requests are
// stored: a client that sends slowly holds no slot, only its
// goroutine and the memory of what it has sent. A body must arrive at
// Config.MinBodyRate on average after Config.BodyRateGrace (and within
// ReadTimeout in any case), which is enforced with the connection's read
// deadline; a slower one is cut and answered 408. NewServer bounds the
// time to send the headers (ReadHeaderTimeout), and LimitListener (which
// Serve uses) the connections open at once.
//
// # Memory
//
// The memory of all the requests in flight together is bounded by
// Config.MemoryBudget, not by the number of requests times the limits of
// one: a request takes its share as it goes (the decompressed bytes as
// they are decoded, an overhead per item, then its records, once more
// while the spool copies them) and gives it back when done. A request
// that cannot get its share within Config.MemoryWait (250 ms once it
// holds some) is answered 503 with Retry-After and gives back what it
// held; requests that already hold memory get it before new ones.
// Config.AfterBurst lets the daemon return memory to the operating system
// after a burst.
//
// # Records
//
// Each accepted item is stored as one spool record: its compact JSON (as
// received, only insignificant whitespace removed, invalid UTF-8 replaced
// by U+FFFD) followed by a single '\n', so that the sender only
// concatenates records into a newline-delimited body.
//
// # Logging and serving
//
// The handler logs through log/slog, never envelope contents: one debug
// line per request (status, counts, bytes, duration) and a rate-limited
// warning while the spool refuses appends; the server's connection-level
// errors (TLS handshake errors, say) are logged once per kind and then
// counted, one line per SummaryInterval. Serve and ListenAndServe run the
// handler in an http.Server with timeouts suited to ingestion (NewServer),
// over HTTP or HTTPS, and shut it down gracefully when their context ends.
//
// # OTLP
//
// [Handler.OTLP] returns the OTLP intake, which shares the Handler's spool,
// limits, memory budget, request slots, append timeout and slow-client
// rule: OTLP/HTTP (POST /v1/traces, /v1/logs, /v1/metrics; protobuf or
// OTLP JSON; gzip) through its ServeHTTP, and OTLP/gRPC through the Export
// services of [OTLP.RegisterGRPC] with [OTLP.GRPCServerOptions]. It decodes
// with the OpenTelemetry Collector's pdata, converts with the Go exporter's
// mapping (package internal/otlpconv over exporter/envelope), and answers
// success only once the envelopes are durable; the repository's
// docs/otlp.md lists every answer.
//
// # Exposure
//
// [NewGuard] puts the checks of a [GuardConfig] in front of the handler for
// an endpoint reachable beyond its machine: a client network allow-list
// (403), and authentication by a secret path prefix (which every SDK can
// use through its connection string; 404 without it), a bearer token or a
// verified client certificate (401), each refusal's body saying why.
package ingest
