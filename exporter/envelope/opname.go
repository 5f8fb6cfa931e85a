package envelope

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// RequestName returns the name the converter gives a request (server or
// consumer span) with this name and these attributes, which is also its
// operation name (ai.operation.name): "{method} {route}", else
// "{method} {path}" for HTTP spans, the span name otherwise. For other span
// kinds it returns name unchanged.
//
// It serves the span processor that propagates operation names to child
// spans (see OperationNameKey); it allocates, unlike the converter.
func RequestName(kind trace.SpanKind, name string, attrs []attribute.KeyValue) string {
	if kind != trace.SpanKindServer && kind != trace.SpanKindConsumer {
		return name
	}
	var a spanAttrs
	a.scan(attrs, nil)
	if a.family() != famHTTP {
		return name
	}
	var t text
	a.requestName(&t, name)
	return t.String()
}
