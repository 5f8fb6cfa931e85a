package exporter

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

var _ sdklog.Processor = OperationNameProcessor{}

// OnEmit gives a log record emitted inside a local span the operation name
// of that span's request, in the envelope.OperationNameKey attribute, so
// that its MessageData or ExceptionData is grouped under the request: the
// request's name when the span is a request (server or consumer), else the
// name the span got when it started. A record that already has the
// attribute keeps it. Register the processor before the batch processor:
//
//	sdklog.NewLoggerProvider(
//		sdklog.WithProcessor(exporter.NewOperationNameProcessor()),
//		sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)),
//	)
//
// The trace and span ids come from the context as usual (the SDK's Logger
// sets them). Reading the span's attributes copies them: one allocation
// per record emitted inside a span.
func (OperationNameProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if r == nil {
		return nil
	}
	p, ok := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan)
	if !ok || !p.SpanContext().IsValid() {
		return nil
	}
	has := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		has = kv.Key == envelope.OperationNameKey
		return !has
	})
	if has {
		return nil
	}
	if name := operationName(p); name != "" {
		r.AddAttributes(attribute.String(envelope.OperationNameKey, name))
	}
	return nil
}

// Enabled reports false: the processor only decorates records, it never
// asks for them (the SDK's Logger is enabled when another processor is).
func (OperationNameProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return false }
