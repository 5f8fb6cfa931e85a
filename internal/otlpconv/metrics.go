package otlpconv

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/aispool/aispool/exporter/envelope"
)

// AppendMetrics converts every data point of md into buf (see
// envelope.Converter.AppendMetricPoints). Points flagged as having no
// recorded value are left out silently, as are aggregations that counted
// nothing; points that cannot be converted (a number point without a
// value, a metric of no known type, a value that is not finite) are
// counted in the Result and never stop the others. Only a Charge error
// stops the conversion early.
func (c *Converter) AppendMetrics(buf *envelope.Buffer, md pmetric.Metrics, charge Charge) (Result, error) {
	var r Result
	t := c.track(buf, charge)
	var noValue, untyped int
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := c.resource(rm.Resource())
		c.points, c.ends, c.kvs = c.points[:0], c.ends[:0], c.kvs[:0]
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				nv, ut := c.readMetric(ms.At(k), &r)
				noValue += nv
				untyped += ut
			}
		}
		start := 0
		for p, end := range c.ends { // once kvs no longer moves
			c.points[p].Attributes = c.kvs[start:end:end]
			start = end
		}
		// One call per resource; charged by the chunk.
		const chunk = 256
		for p := 0; p < len(c.points); p += chunk {
			n, skipped := c.conv.AppendMetricPoints(buf, res, c.points[p:min(p+chunk, len(c.points))])
			r.Records += n
			r.Rejected += skipped
			if err := t.grew(); err != nil {
				return r, err
			}
		}
	}
	r.Rejected += noValue + untyped
	var extra []string
	if noValue > 0 {
		extra = append(extra, fmt.Sprintf("%d number point(s) without a value", noValue))
	}
	if untyped > 0 {
		extra = append(extra, fmt.Sprintf("%d point(s) of a metric without a known type", untyped))
	}
	t.finish(&r, "data points", extra...)
	return r, nil
}

// readMetric adds the points of m to c.points, counting them in r.Items.
// It returns the number of number points without a value and of points
// (at least one) of a metric without a known type.
func (c *Converter) readMetric(m pmetric.Metric, r *Result) (noValue, untyped int) {
	name := m.Name()
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return c.readNumbers(name, envelope.PointGauge, m.Gauge().DataPoints(), r), 0
	case pmetric.MetricTypeSum:
		return c.readNumbers(name, envelope.PointSum, m.Sum().DataPoints(), r), 0
	case pmetric.MetricTypeHistogram:
		pts := m.Histogram().DataPoints()
		r.Items += pts.Len()
		for i := 0; i < pts.Len(); i++ {
			p := pts.At(i)
			if p.Flags().NoRecordedValue() {
				continue
			}
			c.add(envelope.MetricPoint{Name: name, Kind: envelope.PointHistogram, Time: timeOf(p.Timestamp()),
				Sum: p.Sum(), Count: p.Count(), Min: p.Min(), HasMin: p.HasMin(), Max: p.Max(), HasMax: p.HasMax()},
				p.Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		pts := m.ExponentialHistogram().DataPoints()
		r.Items += pts.Len()
		for i := 0; i < pts.Len(); i++ {
			p := pts.At(i)
			if p.Flags().NoRecordedValue() {
				continue
			}
			c.add(envelope.MetricPoint{Name: name, Kind: envelope.PointExponentialHistogram, Time: timeOf(p.Timestamp()),
				Sum: p.Sum(), Count: p.Count(), Min: p.Min(), HasMin: p.HasMin(), Max: p.Max(), HasMax: p.HasMax()},
				p.Attributes())
		}
	case pmetric.MetricTypeSummary:
		pts := m.Summary().DataPoints()
		r.Items += pts.Len()
		for i := 0; i < pts.Len(); i++ {
			p := pts.At(i)
			if p.Flags().NoRecordedValue() {
				continue
			}
			c.add(envelope.MetricPoint{Name: name, Kind: envelope.PointSummary, Time: timeOf(p.Timestamp()),
				Sum: p.Sum(), Count: p.Count()}, p.Attributes())
		}
	default:
		// An empty metric (no data field): nothing can be read of it.
		r.Items++
		return 0, 1
	}
	return 0, 0
}

// readNumbers adds gauge or sum points.
func (c *Converter) readNumbers(name string, kind envelope.PointKind, pts pmetric.NumberDataPointSlice, r *Result) (noValue int) {
	r.Items += pts.Len()
	for i := 0; i < pts.Len(); i++ {
		p := pts.At(i)
		if p.Flags().NoRecordedValue() {
			continue
		}
		mp := envelope.MetricPoint{Name: name, Kind: kind, Time: timeOf(p.Timestamp())}
		switch p.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			mp.Value = float64(p.IntValue())
		case pmetric.NumberDataPointValueTypeDouble:
			mp.Value = p.DoubleValue()
		default:
			noValue++
			continue
		}
		c.add(mp, p.Attributes())
	}
	return noValue
}

// add queues a point and its attributes (set in AppendMetrics, once kvs no
// longer moves).
func (c *Converter) add(p envelope.MetricPoint, attrs pcommon.Map) {
	c.kvs = appendAttrs(c.kvs, attrs, c.index)
	c.ends = append(c.ends, len(c.kvs))
	c.points = append(c.points, p)
}
