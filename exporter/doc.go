// Package exporter provides OpenTelemetry Go SDK exporters for traces
// (TraceExporter), logs (LogExporter) and metrics (MetricExporter) that
// make Application Insights telemetry durable: an export converts the
// telemetry into Application Insights envelopes (package exporter/envelope)
// and appends them to a spool on disk (package spool) before it returns. A
// nil error means the telemetry is fsynced and will be delivered by a
// sender draining the spool, even if the process crashes right after.
//
// Each exporter works alone, with its own spool and in-process sender; a
// Pipeline (NewPipeline, WithPipeline) gives the three exporters of a
// program one spool and one sender.
//
// # Usage
//
//	exp, err := exporter.NewTraceExporter(ctx,
//		exporter.WithConnectionString(cs), // or APPLICATIONINSIGHTS_CONNECTION_STRING
//		exporter.WithSpoolDir("/var/lib/myapp/aispool"),
//	)
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
//		sdktrace.WithBatcher(exp),
//	)
//	defer tp.Shutdown(ctx)
//
// # Configuration and environment
//
//	| setting            | option               | environment                              | default                                   |
//	|--------------------|----------------------|------------------------------------------|-------------------------------------------|
//	| connection string  | WithConnectionString | APPLICATIONINSIGHTS_CONNECTION_STRING    | none: an error                            |
//	| spool directory    | WithSpoolDir         | OTEL_SERVICE_NAME names the subdirectory | <user cache dir>/aispool/<service>        |
//	| shared spool       | WithSpool            |                                          | the exporter opens (and closes) its own   |
//	| spool limits       | WithSpoolOptions     |                                          | 1 GiB, 48 h, drop oldest                  |
//	| storage base dir   | WithSpoolDir         | APPLICATIONINSIGHTS_STORAGE_DIRECTORY    | <user cache dir>/aispool                  |
//	| offline storage    | WithoutOfflineStorage| APPLICATIONINSIGHTS_DISABLE_OFFLINE_STORAGE | on: the spool survives restarts        |
//	| shared pipeline    | WithPipeline         |                                          | none: each exporter has its own           |
//
// A LogExporter alone spools to "<service>-logs" and a MetricExporter alone
// to "<service>-metrics" beside the trace exporter's directory.
//
// An explicit option always beats the environment.
//
// # Sampling
//
// NewSampler is the Application Insights sampler: it decides from the trace
// id (DJB2, as the classic SDKs do) and records the percentage in the span
// attribute microsoft.sample_rate, which becomes the envelope's sampleRate.
// The SDK's TraceIDRatioBased records nothing, so its envelopes say 100.
//
// # Contract
//
// The exporter follows the OpenTelemetry SDK exporter contract: it keeps no
// reference to the spans after ExportSpans returns; Shutdown is idempotent
// and honours its context; ExportSpans after Shutdown returns ErrShutdown;
// ForceFlush returns once everything handed over is durable.
package exporter
