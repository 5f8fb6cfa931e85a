// Package envelope converts OpenTelemetry spans, log records and metric
// data points into Application Insights envelopes, encoded as ready-to-send
// JSON.
//
// # Output
//
// Each envelope is one record: a compact JSON object followed by a single
// '\n'. A request body for the ingestion service's /v2.1/track endpoint is
// the plain concatenation of records (newline-delimited JSON), so the spool
// stores records as they are and the sender only concatenates and
// compresses them.
//
//	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: ikey})
//	var buf envelope.Buffer
//	conv.AppendSpans(&buf, spans)      // bad spans are counted and skipped
//	records := buf.Records(nil)        // [][]byte, one JSON line each
//
// # Mapping
//
// The rules are the project's mapping decisions, restated in the
// repository's docs/protocol.md and docs/exporter.md, where the public
// Azure Monitor exporters disagree:
//
//   - Server and consumer spans become RequestData; client, producer,
//     internal and unspecified spans become RemoteDependencyData, with type,
//     target, data, name and result code derived from the HTTP, database,
//     RPC, messaging or Azure SDK attributes. Both generations of semantic
//     conventions are read, the newer key first (http.request.method before
//     http.method, server.address before net.peer.name, and so on).
//   - A span event named "exception" becomes ExceptionData, any other event
//     MessageData; links become the _MS.links property.
//   - The resource gives ai.cloud.role, ai.cloud.roleInstance and
//     ai.application.ver; ai.internal.sdkVersion names Go, the OpenTelemetry
//     SDK and aispool. Resource attributes are not copied into properties.
//   - Dependency, exception and message envelopes carry the operation name
//     of their local root request, read from the OperationNameKey attribute
//     that the span processor in package exporter sets on span start.
//   - Properties are the span attributes the mapping did not consume. Keys
//     over 150 characters are dropped, values cut to 8192 characters without
//     splitting a UTF-8 sequence, invalid UTF-8 replaced by U+FFFD.
//   - sampleRate is 100 × the sampling probability when a span says it
//     (microsoft.sample_rate, _MS.sampleRate, or the tracestate threshold
//     ot=th:…), 100 otherwise.
//   - time is UTC RFC 3339 with 7 fractional digits and Z; durations are
//     d.hh:mm:ss.fffffff, negative ones clamped to zero.
//
// Log records (AppendLogRecord) become EventData (attribute
// microsoft.custom_event.name), ExceptionData (exception.type or
// exception.message) or MessageData, with the severity level of
// SeverityLevel; metric data points (AppendMetrics) become one MetricData
// each. docs/exporter.md describes both mappings.
//
// # Input seam
//
// The converter reads spans, log records and metric points through
// [Span], [LogRecord] and [MetricPoint] (with [Converter.AppendMetricPoints]),
// which the OpenTelemetry Go SDK's records satisfy as they are; the
// daemon's OTLP intake adapts decoded OTLP requests to the same seam, so
// the mapping is written once for both inputs.
//
// Limits are counted in characters as the service counts them (UTF-16 code
// units). An envelope over MaxEnvelopeBytes is re-encoded without its
// largest properties (and, if need be, with shorter long text fields) and
// counted as trimmed; one that cannot be made small enough is skipped and
// counted. A span that cannot be converted never fails the rest of a batch.
//
// # Performance
//
// The converter writes JSON directly with strconv-style appenders and keeps
// its scratch space between calls, so converting a span allocates nothing
// beyond the growth of the output buffer. This is why a Converter must be
// used by one goroutine at a time.
//
// # Validation
//
// Validate checks an incoming envelope from any SDK against the schema's
// required fields and length limits, for the daemon's local ingestion
// endpoint.
package envelope
