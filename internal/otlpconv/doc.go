// Package otlpconv converts decoded OTLP requests (the OpenTelemetry
// Collector's pdata: ptrace.Traces, plog.Logs, pmetric.Metrics) into
// Application Insights envelopes, through the input seam of package
// exporter/envelope ([envelope.Span], [envelope.LogRecord],
// [envelope.MetricPoint]). The mapping rules are those of the Go exporter,
// written once in package envelope: this package only adapts OTLP's data
// model to the seam.
//
// A [Converter] keeps scratch space (attribute slices, the span and record
// adapters) between calls, so that converting a span or a log record with
// scalar attributes allocates nothing beyond the envelope buffer's growth
// (decoding the request is pdata's work and allocates). It is used by one
// goroutine at a time.
//
// Items that cannot be converted (a span without valid ids, an envelope too
// large even after trimming, a data point without a finite value) are
// counted in the [Result] with a message saying why, for OTLP's
// partial_success; they never fail the rest of the request.
//
// What OTLP has and the converter does not read: the instrumentation scope
// (as for the Go exporter), dropped-attribute counts, exemplars, histogram
// buckets, link attributes.
package otlpconv
