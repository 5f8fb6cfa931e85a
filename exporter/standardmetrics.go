package exporter

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

// Names of the Application Insights standard metrics and the property the
// backend reads to know that a span was already counted in them.
const (
	RequestDurationMetric    = "requests/duration"
	DependencyDurationMetric = "dependencies/duration"
	ProcessedByExtractorsKey = "_MS.ProcessedByMetricExtractors"
)

// placeholderIKey satisfies envelope.NewConverter; the standard-metrics
// converters never encode an envelope.
const placeholderIKey = "00000000-0000-0000-0000-000000000000"

// StandardMetricsProcessor is a span processor that records the
// Application Insights standard metrics from every span it sees, as the
// .NET exporter does: a server or consumer span's duration in
// requests/duration, any other span's in dependencies/duration, in
// milliseconds, with the dimensions the Performance and Failures views
// group by (docs/exporter.md, "Standard metrics from spans"):
//
//   - requests: request/resultCode, Request.Success, cloud/roleName,
//     cloud/roleInstance, _MS.MetricId, _MS.IsAutocollected;
//   - dependencies: dependency/target, dependency/resultCode,
//     Dependency.Success, Dependency.Type, and the same cloud and _MS ones.
//
// Result code, success, type and target follow the converter's rules, so
// they match the span's envelope. On every span it sees it sets the
// attribute _MS.ProcessedByMetricExtractors=True, which the converter
// keeps as a property: the backend then takes its request and dependency
// charts from these metrics and no longer counts the (possibly sampled)
// items itself.
//
// The metrics go through the meter provider given to
// NewStandardMetricsProcessor: give it one whose reader exports to a
// MetricExporter (histograms are delta there, as the backend needs).
//
// The processor sees only the spans the sampler records. With sampling,
// use NewRecordingSampler: it records the spans it does not sample, so that
// the metrics count every request while only the sampled spans are
// exported (the batch processor skips unsampled spans).
type StandardMetricsProcessor struct {
	requests     metric.Float64Histogram
	dependencies metric.Float64Histogram
	convs        sync.Pool // *envelope.Converter: one per goroutine at a time
}

var _ sdktrace.SpanProcessor = (*StandardMetricsProcessor)(nil)

// NewStandardMetricsProcessor returns a processor recording into mp. Of
// the options, only WithEnvelopeConfig matters (give it the trace
// exporter's, so that success and result codes agree with the envelopes).
// Register it with the tracer provider:
//
//	sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
//		sdktrace.WithSpanProcessor(std),
//		sdktrace.WithBatcher(traces),
//	)
func NewStandardMetricsProcessor(mp metric.MeterProvider, opts ...Option) (*StandardMetricsProcessor, error) {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	ec := cfg.envelope
	ec.InstrumentationKey = placeholderIKey
	if _, err := envelope.NewConverter(ec); err != nil {
		return nil, fmt.Errorf("exporter: standard metrics: %w", err)
	}
	meter := mp.Meter("github.com/aispool/aispool/exporter/standardmetrics")
	p := &StandardMetricsProcessor{}
	var err error
	if p.requests, err = meter.Float64Histogram(RequestDurationMetric, metric.WithUnit("ms"),
		metric.WithDescription("Duration of requests (Application Insights standard metric)")); err != nil {
		return nil, fmt.Errorf("exporter: standard metrics: %w", err)
	}
	if p.dependencies, err = meter.Float64Histogram(DependencyDurationMetric, metric.WithUnit("ms"),
		metric.WithDescription("Duration of dependency calls (Application Insights standard metric)")); err != nil {
		return nil, fmt.Errorf("exporter: standard metrics: %w", err)
	}
	p.convs.New = func() any {
		c, err := envelope.NewConverter(ec) // checked above
		if err != nil {
			panic(err)
		}
		return c
	}
	return p, nil
}

// OnStart stamps the span: it will be counted in the standard metrics.
func (p *StandardMetricsProcessor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	s.SetAttributes(attribute.String(ProcessedByExtractorsKey, "True"))
}

// OnEnd records the span's duration with its dimensions.
func (p *StandardMetricsProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	c := p.convs.Get().(*envelope.Converter)
	var sum envelope.SpanSummary
	ok := c.Summarize(s, &sum)
	p.convs.Put(c)
	if !ok {
		return
	}
	ms := float64(sum.Duration.Nanoseconds()) / 1e6
	if sum.Request {
		p.requests.Record(context.Background(), ms, metric.WithAttributes(
			attribute.String("_MS.MetricId", RequestDurationMetric),
			attribute.String("_MS.IsAutocollected", "True"),
			attribute.String("request/resultCode", sum.ResultCode),
			attribute.String("Request.Success", pyBool(sum.Success)),
			attribute.String("cloud/roleName", sum.Role),
			attribute.String("cloud/roleInstance", sum.RoleInstance),
		))
		return
	}
	p.dependencies.Record(context.Background(), ms, metric.WithAttributes(
		attribute.String("_MS.MetricId", DependencyDurationMetric),
		attribute.String("_MS.IsAutocollected", "True"),
		attribute.String("dependency/target", sum.Target),
		attribute.String("dependency/resultCode", sum.ResultCode),
		attribute.String("Dependency.Success", pyBool(sum.Success)),
		attribute.String("Dependency.Type", sum.Type),
		attribute.String("cloud/roleName", sum.Role),
		attribute.String("cloud/roleInstance", sum.RoleInstance),
	))
}

// pyBool spells a boolean as the Azure exporters do in dimensions.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// Shutdown does nothing: the meter provider flushes the metrics.
func (p *StandardMetricsProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing: the meter provider flushes the metrics.
func (p *StandardMetricsProcessor) ForceFlush(context.Context) error { return nil }
