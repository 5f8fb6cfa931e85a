package exporter

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// MaxUnstoredMetricBytes bounds the envelopes a MetricExporter keeps in
// memory after exports that could not reach the disk, to retry them with
// the next export. Past it the oldest are dropped and counted.
const MaxUnstoredMetricBytes = 4 << 20

// TemporalitySelector is the MetricExporter's default: delta for counters,
// observable counters and histograms (the ingestion service adds up what
// it receives, so cumulative values would be counted again and again);
// cumulative for up-down counters, observable up-down counters and gauges,
// whose current value is what matters (as the Python and JavaScript Azure
// Monitor exporters do).
func TemporalitySelector(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch k {
	case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter, sdkmetric.InstrumentKindHistogram:
		return metricdata.DeltaTemporality
	}
	return metricdata.CumulativeTemporality
}

// MetricOption configures only a MetricExporter.
type MetricOption interface {
	Option
	applyMetric(*metricConfig)
}

type metricConfig struct {
	temporality sdkmetric.TemporalitySelector
	aggregation sdkmetric.AggregationSelector
}

type metricOptionFunc func(*metricConfig)

func (metricOptionFunc) apply(*config)                 {}
func (f metricOptionFunc) applyMetric(c *metricConfig) { f(c) }

// WithTemporalitySelector replaces TemporalitySelector. Cumulative counters
// are re-sent whole at every export, and the service adds them up.
func WithTemporalitySelector(s sdkmetric.TemporalitySelector) MetricOption {
	return metricOptionFunc(func(c *metricConfig) { c.temporality = s })
}

// WithAggregationSelector replaces the SDK's default aggregation per
// instrument kind (for example to use exponential histograms).
func WithAggregationSelector(s sdkmetric.AggregationSelector) MetricOption {
	return metricOptionFunc(func(c *metricConfig) { c.aggregation = s })
}

// MetricExporter converts OpenTelemetry metrics into Application Insights
// MetricData envelopes, one per data point, and appends them to a durable
// spool: Export returning nil means the envelopes are fsynced. Use it with
// a PeriodicReader:
//
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
//
// Its Temporality is TemporalitySelector unless WithTemporalitySelector
// says otherwise. An export that cannot reach the disk (a full spool under
// the RejectNew policy, a failing disk, a cancelled context) returns the
// error and keeps its envelopes in memory, up to MaxUnstoredMetricBytes,
// to store them first at the next export: delta points are not lost
// because one export failed.
type MetricExporter struct {
	*core
	mcfg metricConfig

	// Envelopes of failed exports, retried first (under mu).
	unstored     []byte
	unstoredEnds []int
	dropped      uint64 // envelopes dropped from unstored (under mu)
}

var _ sdkmetric.Exporter = (*MetricExporter)(nil)

// NewMetricExporter returns a metric exporter. It takes the options of
// NewTraceExporter, with the same meaning and environment variables, plus
// the MetricOptions; alone, its default spool directory is
// "<user cache dir>/aispool/<service>-metrics".
func NewMetricExporter(ctx context.Context, opts ...Option) (*MetricExporter, error) {
	var mc metricConfig
	for _, o := range opts {
		if m, ok := o.(MetricOption); ok {
			m.applyMetric(&mc)
		}
	}
	if mc.temporality == nil {
		mc.temporality = TemporalitySelector
	}
	if mc.aggregation == nil {
		mc.aggregation = sdkmetric.DefaultAggregationSelector
	}
	c, err := newCore(ctx, "metrics", opts)
	if err != nil {
		return nil, err
	}
	return &MetricExporter{core: c, mcfg: mc}, nil
}

// Temporality implements sdkmetric.Exporter.
func (e *MetricExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return e.mcfg.temporality(k)
}

// Aggregation implements sdkmetric.Exporter.
func (e *MetricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return e.mcfg.aggregation(k)
}

// Export converts every data point into one envelope and appends them, with
// those of earlier failed exports, to the spool in one durable step. On
// failure it returns the error and keeps the envelopes for the next export
// (see MetricExporter). Points that cannot be converted are counted (see
// Stats) and skipped. After Shutdown it returns an error wrapping
// ErrShutdown and sdkmetric.ErrExporterShutdown.
func (e *MetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return fmt.Errorf("%w: %w", ErrShutdown, sdkmetric.ErrExporterShutdown)
	}
	e.buf.Reset()
	if _, skipped := e.conv.AppendMetrics(&e.buf, rm); skipped > 0 {
		e.log.Warn("metric points skipped: they could not be converted", "skipped", skipped)
	}
	err := e.store(ctx, e.splitUnstored()...)
	if err == nil {
		e.unstored, e.unstoredEnds = e.unstored[:0], e.unstoredEnds[:0]
		return nil
	}
	e.keepUnstored()
	return err
}

// keepUnstored adds the records of e.buf to the unstored ones, dropping
// the oldest past MaxUnstoredMetricBytes.
func (e *MetricExporter) keepUnstored() {
	for i := 0; i < e.buf.Len(); i++ {
		e.unstored = append(e.unstored, e.buf.Record(i)...)
		e.unstoredEnds = append(e.unstoredEnds, len(e.unstored))
	}
	drop := 0
	for drop < len(e.unstoredEnds) && len(e.unstored)-e.offset(drop) > MaxUnstoredMetricBytes {
		drop++
	}
	if drop == 0 {
		return
	}
	cut := e.offset(drop)
	n := copy(e.unstored, e.unstored[cut:])
	e.unstored = e.unstored[:n]
	ends := e.unstoredEnds[:0]
	for _, end := range e.unstoredEnds[drop:] {
		ends = append(ends, end-cut)
	}
	e.unstoredEnds = ends
	e.dropped += uint64(drop)
	e.log.Warn("metric envelopes dropped: the spool refused them repeatedly", "dropped", drop)
}

// offset is the start of unstored record i.
func (e *MetricExporter) offset(i int) int {
	if i == 0 {
		return 0
	}
	return e.unstoredEnds[i-1]
}

// ForceFlush returns once everything handed to Export is durable, or
// waiting in memory after a failed export.
func (e *MetricExporter) ForceFlush(ctx context.Context) error { return e.forceFlush(ctx) }

// Shutdown stops the exporter as TraceExporter.Shutdown does. Envelopes
// still unstored after failed exports are lost, and counted in Stats.
func (e *MetricExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.shutdown && len(e.unstoredEnds) > 0 {
		// One last try.
		e.buf.Reset()
		if err := e.store(ctx, e.splitUnstored()...); err != nil {
			e.dropped += uint64(len(e.unstoredEnds))
			e.log.Warn("metric envelopes lost at shutdown: the spool refused them", "dropped", len(e.unstoredEnds), "err", err)
		}
		e.unstored, e.unstoredEnds = nil, nil
	}
	e.mu.Unlock()
	return e.shutdownCore(ctx)
}

// splitUnstored returns the unstored records (aliasing e.unstored).
func (e *MetricExporter) splitUnstored() [][]byte {
	if len(e.unstoredEnds) == 0 {
		return nil
	}
	out := make([][]byte, 0, len(e.unstoredEnds))
	start := 0
	for _, end := range e.unstoredEnds {
		out = append(out, e.unstored[start:end:end])
		start = end
	}
	return out
}

// MetricStats are the counters of a MetricExporter.
type MetricStats struct {
	envelope.Stats
	// Unstored counts envelopes kept in memory after failed exports, to be
	// stored with the next export.
	Unstored int
	// DroppedUnstored counts envelopes given up: over MaxUnstoredMetricBytes
	// after repeated failures, or still unstored at Shutdown.
	DroppedUnstored uint64
}

// Stats reports the conversion counters (Converted counts data points) and
// the envelopes of failed exports.
func (e *MetricExporter) Stats() MetricStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return MetricStats{Stats: e.conv.Stats(), Unstored: len(e.unstoredEnds), DroppedUnstored: e.dropped}
}

// Spool returns the spool the exporter writes to.
func (e *MetricExporter) Spool() *spool.Spool { return e.spool() }

// Sender returns the in-process sender draining the spool, or nil with
// WithoutSender.
func (e *MetricExporter) Sender() *sender.Sender { return e.sender() }
