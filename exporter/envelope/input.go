package envelope

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The input seam: what the converter reads of a span, a log record and a
// metric data point. The OpenTelemetry Go SDK's own records satisfy it as
// they are (sdktrace.ReadOnlySpan, *sdklog.Record, metricdata points through
// AppendMetrics); the daemon's OTLP intake adapts decoded OTLP requests to
// it. Every mapping rule is therefore written once, whichever input the
// telemetry came from. The currency is the OpenTelemetry Go API's value
// types (attribute.KeyValue, trace.SpanContext) and the SDK's plain data
// structs (sdktrace.Event, sdktrace.Link, sdktrace.Status): an adapter fills
// them in scratch space it reuses, so that neither input allocates per item.

// Span is what the converter reads of a span: the subset of
// sdktrace.ReadOnlySpan that the mapping uses, so that any
// sdktrace.ReadOnlySpan is a Span.
//
// An adapter may return slices and a resource that it reuses for the next
// span: the converter keeps no reference to them after AppendSpan returns.
// Of a link, only its SpanContext is read.
type Span interface {
	Name() string
	SpanContext() trace.SpanContext
	Parent() trace.SpanContext
	SpanKind() trace.SpanKind
	StartTime() time.Time
	EndTime() time.Time
	Attributes() []attribute.KeyValue
	Links() []sdktrace.Link
	Events() []sdktrace.Event
	Status() sdktrace.Status
	Resource() *resource.Resource
}

// LogRecord is what the converter reads of a log record; *sdklog.Record is
// one. The converter keeps no reference to it after AppendLogRecord
// returns.
type LogRecord interface {
	Timestamp() time.Time
	ObservedTimestamp() time.Time
	Severity() log.Severity
	Body() attribute.Value
	EventName() string
	TraceID() trace.TraceID
	SpanID() trace.SpanID
	// WalkAttributes calls f for each attribute in order until f returns
	// false.
	WalkAttributes(f func(attribute.KeyValue) bool)
	Resource() *resource.Resource
}

// PointKind is the kind of metric a data point belongs to, which decides
// its shape in MetricData.
type PointKind uint8

// Point kinds. Gauges and sums are measurements; the others aggregations.
const (
	PointGauge PointKind = iota + 1
	PointSum
	PointHistogram
	PointExponentialHistogram
	PointSummary
)

// MetricPoint is one metric data point as the converter reads it, the
// point-level input of AppendMetricPoints (AppendMetrics reads the SDK's
// metricdata into the same shape).
type MetricPoint struct {
	// Name is the metric's name.
	Name string
	// Kind is the metric's kind.
	Kind PointKind
	// Time is the point's time, the envelope's time.
	Time time.Time
	// Value is the value of a gauge or sum point.
	Value float64
	// Sum and Count are those of a histogram, exponential histogram or
	// summary point; Min and Max, when HasMin and HasMax say they were
	// recorded.
	Sum            float64
	Count          uint64
	Min, Max       float64
	HasMin, HasMax bool
	// Attributes are the point's attributes, in order; they become the
	// envelope's properties.
	Attributes []attribute.KeyValue

	set *attribute.Set // the SDK's attributes, when Attributes is nil
}
