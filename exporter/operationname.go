package exporter

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

// OperationNameProcessor is a span processor that gives every span the
// Application Insights operation name of its local root, so that
// dependencies, exceptions and messages are grouped under their request in
// the Performance and Failures views (a known gap of the preview Azure
// Monitor exporters; the Python and JavaScript distros fix it the same
// way).
//
// When a span starts, the processor stores the operation name in the
// envelope.OperationNameKey ("ai.operation.name") attribute:
//
//   - under a local server or consumer span (a request), it computes the
//     request's name as the converter does ("GET /users/{id}"), from the
//     request's attributes at that moment, so a route set after routing is
//     seen;
//   - under any other local span, it copies the parent's attribute;
//   - on a root span that is not a request, it uses the span's own name
//     (a background job names its operation).
//
// Requests themselves are not stamped: the converter names them at export.
// Spans under a remote parent that are not requests get no attribute.
// The converter turns the attribute into the ai.operation.name tag and never
// into a property.
//
// Register it before the batch processor:
//
//	sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
//		sdktrace.WithBatcher(exp),
//	)
//
// It is also a log processor: OnEmit gives log records emitted inside a
// span the same operation name.
//
// It is stateless and safe for concurrent use. Reading a request parent's
// attributes copies them, one small allocation per child span start.
type OperationNameProcessor struct{}

var _ sdktrace.SpanProcessor = OperationNameProcessor{}

// NewOperationNameProcessor returns an OperationNameProcessor.
func NewOperationNameProcessor() OperationNameProcessor { return OperationNameProcessor{} }

// OnStart stamps s with its operation name.
func (OperationNameProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if isRequest(s.SpanKind()) {
		return
	}
	var name string
	switch p, local := trace.SpanFromContext(parent).(sdktrace.ReadOnlySpan); {
	case local && s.Parent().IsValid() && p.SpanContext().SpanID() == s.Parent().SpanID():
		name = operationName(p)
	case !s.Parent().IsValid():
		name = s.Name()
	}
	if name != "" {
		s.SetAttributes(attribute.String(envelope.OperationNameKey, name))
	}
}

// operationName returns the operation name a child of p inherits.
func operationName(p sdktrace.ReadOnlySpan) string {
	attrs := p.Attributes()
	if isRequest(p.SpanKind()) {
		return envelope.RequestName(p.SpanKind(), p.Name(), attrs)
	}
	for _, kv := range attrs {
		if kv.Key == envelope.OperationNameKey && kv.Value.Type() == attribute.STRING {
			return kv.Value.AsString()
		}
	}
	return ""
}

func isRequest(k trace.SpanKind) bool {
	return k == trace.SpanKindServer || k == trace.SpanKindConsumer
}

// OnEnd does nothing.
func (OperationNameProcessor) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown does nothing.
func (OperationNameProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (OperationNameProcessor) ForceFlush(context.Context) error { return nil }
