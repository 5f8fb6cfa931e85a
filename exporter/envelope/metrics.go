package envelope

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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
	sp := &c.sig.metricCtx
	sp.item.reset(typeMetric, sp)
	sp.traceID = [16]byte{}
	sp.sampleRate = 100
	sp.res = c.resourceTags(rm.Resource)
	sp.opName.reset()
	sp.authUserID, sp.userID, sp.sessionID, sp.locationIP, sp.userAgent, sp.synthetic = "", "", "", "", "", false
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

func (c *Converter) appendMetric(buf *Buffer, m *metricdata.Metrics) (n, skipped int) {
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		return appendPoints(c, buf, m.Name, d.DataPoints)
	case metricdata.Gauge[float64]:
		return appendPoints(c, buf, m.Name, d.DataPoints)
	case metricdata.Sum[int64]:
		return appendPoints(c, buf, m.Name, d.DataPoints)
	case metricdata.Sum[float64]:
		return appendPoints(c, buf, m.Name, d.DataPoints)
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
			if p.Count == 0 {
				continue
			}
			mp := metricPoint{name: m.Name, value: p.Sum, count: p.Count, aggregation: true}
			k, s := c.appendPoint(buf, &mp, p.Time, &p.Attributes)
			n, skipped = n+k, skipped+s
		}
	}
	return n, skipped
}

func appendPoints[N int64 | float64](c *Converter, buf *Buffer, name string, pts []metricdata.DataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		mp := metricPoint{name: name, value: float64(p.Value), count: 1}
		k, s := c.appendPoint(buf, &mp, p.Time, &p.Attributes)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

func appendHistogram[N int64 | float64](c *Converter, buf *Buffer, name string, pts []metricdata.HistogramDataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		k, s := appendAggregate(c, buf, name, p.Sum, p.Count, p.Min, p.Max, p.Time, &p.Attributes)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

func appendExpHistogram[N int64 | float64](c *Converter, buf *Buffer, name string, pts []metricdata.ExponentialHistogramDataPoint[N]) (n, skipped int) {
	for i := range pts {
		p := &pts[i]
		k, s := appendAggregate(c, buf, name, p.Sum, p.Count, p.Min, p.Max, p.Time, &p.Attributes)
		n, skipped = n+k, skipped+s
	}
	return n, skipped
}

// appendAggregate encodes a histogram point as an aggregation; a point
// that counted nothing is left out.
func appendAggregate[N int64 | float64](c *Converter, buf *Buffer, name string, sum N, count uint64,
	lo, hi metricdata.Extrema[N], t time.Time, attrs *attribute.Set) (n, skipped int) {
	if count == 0 {
		return 0, 0
	}
	mp := metricPoint{name: name, value: float64(sum), count: count, aggregation: true}
	if v, ok := lo.Value(); ok {
		mp.min, mp.hasMin = float64(v), true
	}
	if v, ok := hi.Value(); ok {
		mp.max, mp.hasMax = float64(v), true
	}
	return c.appendPoint(buf, &mp, t, attrs)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendPoint encodes one data point. It returns (1, 0) when the record
// was appended and (0, 1) when the point was skipped and counted.
func (c *Converter) appendPoint(buf *Buffer, mp *metricPoint, t time.Time, attrs *attribute.Set) (n, skipped int) {
	if !finite(mp.value) || mp.hasMin && !finite(mp.min) || mp.hasMax && !finite(mp.max) || mp.count > math.MaxInt32 {
		c.skipped[SkipInvalidPoint].Add(1)
		return 0, 1
	}
	mark, records := len(buf.data), len(buf.ends)
	ok, err := c.emitPoint(buf, mp, t, attrs)
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

func (c *Converter) emitPoint(buf *Buffer, mp *metricPoint, t time.Time, attrs *attribute.Set) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrConversion, p)
		}
	}()
	sp := &c.sig.metricCtx
	it := &sp.item
	it.reset(typeMetric, sp)
	it.time = t
	it.signal.props = propsMetric
	it.signal.set = attrs
	it.signal.metric = *mp
	return c.emit(buf, it), nil
}
