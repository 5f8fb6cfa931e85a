package envelope

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// AppendMetrics converts every data point of rm into one MetricData
// envelope (docs/exporter.md): gauges and sums as a measurement
// (value, count 1); histograms, exponential histograms and summaries as an
// aggregation (value = sum, count, and min and max when recorded). The
// envelope's time is the point's time, its tags those of the resource, and
// its properties the point's attributes (keys over 150 characters dropped,
// values cut to 8192). Temporality is the reader's choice: the points are
// sent as they are.
//
// A point that cannot be sent is counted in Stats and skipped: a NaN or
// infinite value, min or max (SkipInvalidPoint), a count over 2^31−1 (the
// schema's int32; SkipInvalidPoint), or an envelope too large even after
// trimming (SkipTooLarge). Histogram points that counted nothing are left
// out silently. AppendMetrics never stops early; it returns the number of
// records appended and of points skipped.
func (c *Converter) AppendMetrics(buf *Buffer, rm *metricdata.ResourceMetrics) (n, skipped int) {
	if rm == nil {
		return 0, 0
	}
	c.beginMetrics(rm.Resource)
	for i := range rm.ScopeMetrics {
		ms := rm.ScopeMetrics[i].Metrics
		for j := range ms {
			k, s := c.appendMetric(buf, &ms[j])
			n += k
			skipped += s
		}
	}
	return n, skipped
}

// AppendMetricPoints converts data points that share the resource res
// (nil for none), one MetricData envelope each, by the rules of
// AppendMetrics; it is the point-level input that data decoded from other
// sources (the daemon's OTLP intake) goes through. A point of an unknown
// Kind is skipped and counted as SkipInvalidPoint. It returns the number
// of records appended and of points skipped.
func (c *Converter) AppendMetricPoints(buf *Buffer, res *resource.Resource, points []MetricPoint) (n, skipped int) {
	c.beginMetrics(res)
	for i := range points {
		k, s := c.appendMetricPoint(buf, &points[i])
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

// beginMetrics sets the context that the metric points of res share.
func (c *Converter) beginMetrics(res *resource.Resource) {
	sp := &c.sig.metricCtx
	sp.item.reset(typeMetric, sp)
	sp.traceID = [16]byte{}
	sp.sampleRate = 100
	sp.res = c.resourceTags(res)
	sp.opIsName = false
	sp.opName.reset()
	sp.authUserID, sp.userID, sp.sessionID, sp.locationIP, sp.userAgent, sp.synthetic = "", "", "", "", "", false
}

func (c *Converter) appendMetric(buf *Buffer, m *metricdata.Metrics) (n, skipped int) {
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		return appendPoints(c, buf, m.Name, PointGauge, d.DataPoints)
	case metricdata.Gauge[float64]:
		return appendPoints(c, buf, m.Name, PointGauge, d.DataPoints)
	case metricdata.Sum[int64]:
		return appendPoints(c, buf, m.Name, PointSum, d.DataPoints)
	case metricdata.Sum[float64]:
		return appendPoints(c, buf, m.Name, PointSum, d.DataPoints)
	case metricdata.Histogram[int64]:
		return appendHistogram(c, buf, m.Name, d.DataPoints)
	case metricdata.Histogram[float64]:
		return appendHistogram(c, buf, m.Name, d.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		return appendExpHistogram(c, buf, m.Name, d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		return appendExpHistogram(c, buf, m.Name, d.DataPoints)
	case metricdata.Summary:
		for i := range d.DataPoints {
			p := &d.DataPoints[i]
			mp := MetricPoint{Name: m.Name, Kind: PointSummary, Time: p.Time, Sum: p.Sum, Count: p.Count, set: &p.Attributes}
			k, s := c.appendMetricPoint(buf, &mp)
			n, skipped = n+k, skipped+s
		}
	}
	return n, skipped
}

func appendPoints[N int64 | float64](c *Converter, buf *Buffer, name string, kind PointKind, pts []metricdata.DataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		mp := MetricPoint{Name: name, Kind: kind, Time: p.Time, Value: float64(p.Value), set: &p.Attributes}
		k, s := c.appendMetricPoint(buf, &mp)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

func appendHistogram[N int64 | float64](c *Converter, buf *Buffer, name string, pts []metricdata.HistogramDataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		mp := aggregatePoint(name, PointHistogram, p.Sum, p.Count, p.Min, p.Max, p.Time, &p.Attributes)
		k, s := c.appendMetricPoint(buf, &mp)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

func appendExpHistogram[N int64 | float64](c *Converter, buf *Buffer, name string, pts []metricdata.ExponentialHistogramDataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		mp := aggregatePoint(name, PointExponentialHistogram, p.Sum, p.Count, p.Min, p.Max, p.Time, &p.Attributes)
		k, s := c.appendMetricPoint(buf, &mp)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

// aggregatePoint reads a histogram point of the SDK.
func aggregatePoint[N int64 | float64](name string, kind PointKind, sum N, count uint64,
	lo, hi metricdata.Extrema[N], t time.Time, attrs *attribute.Set) MetricPoint {
	mp := MetricPoint{Name: name, Kind: kind, Time: t, Sum: float64(sum), Count: count, set: attrs}
	if v, ok := lo.Value(); ok {
		mp.Min, mp.HasMin = float64(v), true
	}
	if v, ok := hi.Value(); ok {
		mp.Max, mp.HasMax = float64(v), true
	}
	return mp
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendMetricPoint applies the point rules and encodes one data point:
// gauges and sums are measurements (value, count 1), the other kinds
// aggregations (value = sum, count, min and max when recorded); an
// aggregation that counted nothing is left out silently. It returns (1, 0)
// when the record was appended and (0, 1) when the point was skipped and
// counted.
func (c *Converter) appendMetricPoint(buf *Buffer, p *MetricPoint) (n, skipped int) {
	var mp metricPoint
	switch p.Kind {
	case PointGauge, PointSum:
		mp = metricPoint{name: p.Name, value: p.Value, count: 1}
	case PointHistogram, PointExponentialHistogram, PointSummary:
		if p.Count == 0 {
			return 0, 0
		}
		mp = metricPoint{name: p.Name, value: p.Sum, count: p.Count, aggregation: true,
			min: p.Min, hasMin: p.HasMin, max: p.Max, hasMax: p.HasMax}
	default:
		c.skipped[SkipInvalidPoint].Add(1)
		return 0, 1
	}
	if !finite(mp.value) || mp.hasMin && !finite(mp.min) || mp.hasMax && !finite(mp.max) || mp.count > math.MaxInt32 {
		c.skipped[SkipInvalidPoint].Add(1)
		return 0, 1
	}
	mark, records := len(buf.data), len(buf.ends)
	ok, err := c.emitPoint(buf, &mp, p)
	if err != nil {
		buf.truncate(mark, records)
		c.skipped[SkipInternal].Add(1)
		return 0, 1
	}
	if !ok {
		c.skipped[SkipTooLarge].Add(1)
		return 0, 1
	}
	c.converted.Add(1)
	c.envelopes.Add(1)
	return 1, 0
}

func (c *Converter) emitPoint(buf *Buffer, mp *metricPoint, p *MetricPoint) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrConversion, r)
		}
	}()
	sp := &c.sig.metricCtx
	it := &sp.item
	it.reset(typeMetric, sp)
	it.time = p.Time
	it.signal.props = propsMetric
	it.signal.set = p.set
	it.attrs = p.Attributes
	it.signal.metric = *mp
	return c.emit(buf, it), nil
}
