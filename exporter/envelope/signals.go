package envelope

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// propRule says where an item's properties come from.
type propRule uint8

const (
	// propsSpan: span attributes filtered by keep, or a span event's
	// attributes (keep == nil).
	propsSpan propRule = iota
	// propsLog: a log record's attributes filtered by keepLogAttr, then the
	// event name and the body when they have no other place.
	propsLog
	// propsMetric: every attribute of a metric data point.
	propsMetric
)

// signalFields are the parts of an item that only log records and metric
// points have.
type signalFields struct {
	props propRule

	// Log records.
	severity      int8
	hasSeverity   bool
	message       []byte // the message when the body was formatted (else item.message)
	bodyProp      string // the body kept as the LogBodyKey property
	bodyPropBytes []byte // ditto, when formatted
	eventName     string // Record.EventName, as the EventNameKey property
	clientIPTag   bool   // client.address became ai.location.ip

	// Metric points: attributes from set (the SDK's) or item.attrs.
	set    *attribute.Set
	metric metricPoint
}

// metricPoint is one MetricData data point.
type metricPoint struct {
	name        string
	value       float64
	count       uint64
	min, max    float64
	hasMin      bool
	hasMax      bool
	aggregation bool // kind Aggregation (histograms, summaries), else Measurement
}

// signalScratch is the Converter's scratch space for log records and
// metric points.
type signalScratch struct {
	logAttrs  logAttrs
	logCtx    spanItem // context of the log record being converted
	metricCtx spanItem // context of the metric points being converted
	bodyBuf   []byte   // a formatted body
}

// appendMessageText appends the item's message as a JSON string.
func (c *Converter) appendMessageText(dst []byte, it *item) []byte {
	if it.signal.message != nil {
		return appendQuoted(dst, it.signal.message, c.limit(maxMessage))
	}
	return appendQuoted(dst, it.message, c.limit(maxMessage))
}

// appendSeverity appends the severityLevel member when the item has one.
func appendSeverity(dst []byte, it *item) []byte {
	if !it.signal.hasSeverity {
		return dst
	}
	dst = append(dst, `,"severityLevel":`...)
	return strconv.AppendInt(dst, int64(it.signal.severity), 10)
}

// appendMetricData appends the metrics member of a MetricData: exactly
// one data point, as every exporter sends it.
func (c *Converter) appendMetricData(dst []byte, it *item) []byte {
	m := &it.signal.metric
	dst = append(dst, `,"metrics":[{"name":`...)
	dst = appendQuoted(dst, m.name, c.limit(maxName))
	if m.aggregation {
		dst = append(dst, `,"kind":"Aggregation"`...)
	}
	dst = append(dst, `,"value":`...)
	dst = appendFloat(dst, m.value)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendUint(dst, m.count, 10)
	if m.hasMin {
		dst = append(dst, `,"min":`...)
		dst = appendFloat(dst, m.min)
	}
	if m.hasMax {
		dst = append(dst, `,"max":`...)
		dst = appendFloat(dst, m.max)
	}
	return append(dst, `}]`...)
}

// appendSignalProperties encodes the properties of a log record or a
// metric point.
func (c *Converter) appendSignalProperties(dst []byte, it *item) []byte {
	w := propWriter{c: c, dst: dst}
	sf := &it.signal
	switch sf.props {
	case propsLog:
		for i := range it.attrs {
			kv := &it.attrs[i]
			if kv.Value.Type() == attribute.EMPTY || !keepLogAttr(string(kv.Key), it) {
				continue
			}
			if start, ok := w.begin(string(kv.Key)); ok {
				w.dst = c.appendValue(w.dst, kv.Value)
				w.end(start)
			}
		}
		if sf.eventName != "" {
			if start, ok := w.begin(EventNameKey); ok {
				w.dst = appendQuoted(w.dst, sf.eventName, c.limit(maxPropertyValue))
				w.end(start)
			}
		}
		if sf.bodyProp != "" || sf.bodyPropBytes != nil {
			if start, ok := w.begin(LogBodyKey); ok {
				if sf.bodyPropBytes != nil {
					w.dst = appendQuoted(w.dst, sf.bodyPropBytes, c.limit(maxPropertyValue))
				} else {
					w.dst = appendQuoted(w.dst, sf.bodyProp, c.limit(maxPropertyValue))
				}
				w.end(start)
			}
		}
	case propsMetric:
		if sf.set != nil {
			for iter := sf.set.Iter(); iter.Next(); {
				kv := iter.Attribute()
				w.metricProperty(&kv)
			}
		}
		for i := range it.attrs {
			w.metricProperty(&it.attrs[i])
		}
	}
	if w.count > 0 {
		w.dst = append(w.dst, '}')
	}
	return w.dst
}

// metricProperty writes a metric point's attribute as a property.
func (w *propWriter) metricProperty(kv *attribute.KeyValue) {
	if kv.Value.Type() == attribute.EMPTY {
		return
	}
	if start, ok := w.begin(string(kv.Key)); ok {
		w.dst = w.c.appendValue(w.dst, kv.Value)
		w.end(start)
	}
}
