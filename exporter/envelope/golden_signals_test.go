package envelope

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// logRec returns a record factory with the vectors' defaults: trace and
// span ids, resource, INFO, timestamp testStart.
func logRec(body attribute.Value, sev log.Severity, attrs ...attribute.KeyValue) logtest.RecordFactory {
	return logtest.RecordFactory{
		Timestamp:         testStart,
		ObservedTimestamp: testStart.Add(time.Second),
		Severity:          sev,
		Body:              body,
		Attributes:        attrs,
		TraceID:           testTraceID,
		SpanID:            testSpanID,
		Resource:          testResource(),
	}
}

func sv(s string) attribute.Value { return attribute.StringValue(s) }

func noTrace(f logtest.RecordFactory) logtest.RecordFactory {
	f.TraceID, f.SpanID = [16]byte{}, [8]byte{}
	return f
}

type logGoldenCase struct {
	name    string
	records []logtest.RecordFactory
}

// logGoldenCases covers the log test vector (T17) of the envelope mapping,
// each classification branch, each severity range and each body kind.
func logGoldenCases() []logGoldenCase {
	const (
		warn  = log.SeverityWarn
		info  = log.SeverityInfo
		fatal = log.SeverityFatal
	)
	stack := "Traceback (most recent call last):\n  File \"x.py\", line 1\nZeroDivisionError: division by zero"
	typeOnly := logRec(sv("no stack here"), log.SeverityError, str("exception.type", "TimeoutError"))
	observed := logRec(sv("no timestamp"), info)
	observed.Timestamp = time.Time{}
	spanOnly := logRec(sv("trace without span"), info)
	spanOnly.SpanID = [8]byte{}
	withEvent := logRec(sv("an OpenTelemetry event record"), info, str("k", "v"))
	withEvent.EventName = "payment.settled"
	eventAttr := logRec(sv("the attribute wins"), info, str(EventNameKey, "from.attribute"))
	eventAttr.EventName = "from.record"
	bodyAttr := logRec(sv("body that yields"), info, str(CustomEventNameKey, "ev"), str(LogBodyKey, "from the attribute"))
	return []logGoldenCase{
		// T17 base case: message, WARN, operation name from the attribute.
		{"t17_log_message", []logtest.RecordFactory{logRec(sv("Test message"), warn,
			str("test", "attribute"), str(OperationNameKey, "TestOperationName"))}},
		// T17: empty, absent and blank bodies give "n/a".
		{"t17_log_blank_bodies", []logtest.RecordFactory{
			logRec(sv(""), info), logRec(attribute.Value{}, info), logRec(sv("  \t"), info)}},
		// T17: a map body becomes JSON.
		{"t17_log_map_body", []logtest.RecordFactory{logRec(attribute.MapValue(
			str("foo", "bar"), num("n", 1), attribute.Bool("ok", true)), info)}},
		// T17: FATAL exception with type, message and stack. aispool takes
		// the message from exception.message (docs/exporter.md, "How logs
		// and metrics are mapped") and keeps the body in the log.body
		// property; the Python exporter puts the body in the message
		// instead.
		{"t17_log_exception_fatal", []logtest.RecordFactory{logRec(sv("Test message"), fatal,
			str("exception.type", "ZeroDivisionError"), str("exception.message", "division by zero"),
			str("exception.stacktrace", stack), str("other", "kept"))}},
		// T17: blank exception fields: type "Exception", message from the body.
		{"t17_log_exception_blank_fields", []logtest.RecordFactory{logRec(sv("test exception"), log.SeverityError,
			str("exception.type", ""), str("exception.message", ""), str("exception.stacktrace", ""))}},
		// Edge case: exception.type without a stack (the JS exporter drops it).
		{"edge_log_exception_type_only", []logtest.RecordFactory{typeOnly}},
		// Exception message only, no body: the message; no type: "Exception".
		{"edge_log_exception_message_only", []logtest.RecordFactory{logRec(attribute.Value{}, log.SeverityError,
			str("exception.message", "disk full"))}},
		// T17: custom event with client.address as location ip.
		{"t17_log_custom_event", []logtest.RecordFactory{logRec(sv("body of the event"), info,
			str(CustomEventNameKey, "event_name"), str("client.address", "192.168.1.1"), str("cart", "42"))}},
		// A custom event wins over exception attributes.
		{"edge_log_custom_event_over_exception", []logtest.RecordFactory{logRec(attribute.Value{}, log.SeverityError,
			str(CustomEventNameKey, "checkout_failed"), str("exception.type", "ValueError"))}},
		// T17: user ids become tags and leave the properties.
		{"t17_log_user_tags", []logtest.RecordFactory{logRec(sv("user"), info,
			str("enduser.id", "test-auth"), str("enduser.pseudo.id", "test-user"), str("session.id", "sess-1"),
			str("microsoft.client.ip", "10.0.0.9"))}},
		// T17: synthetic traffic.
		{"t17_log_synthetic", []logtest.RecordFactory{
			logRec(sv("bot"), info, str("user_agent.synthetic.type", "bot")),
			logRec(sv("availability test"), info, str("http.user_agent", "Mozilla/5.0 (AlwaysOn)"))}},
		// T17: no timestamp: the observed timestamp.
		{"t17_log_observed_timestamp", []logtest.RecordFactory{observed}},
		// Severity mapping of 5.3, every range and its bounds; 0 is Information.
		{"log_severities", severities()},
		// Body kinds.
		{"log_body_kinds", []logtest.RecordFactory{
			logRec(attribute.Int64Value(-42), info),
			logRec(attribute.Float64Value(0.25), info),
			logRec(attribute.BoolValue(true), info),
			logRec(attribute.StringSliceValue([]string{"a", "b\"c"}), info),
			logRec(attribute.Int64SliceValue([]int64{1, 2}), info),
			logRec(attribute.SliceValue(attribute.StringValue("x"), attribute.IntValue(1),
				attribute.MapValue(str("k", "v"))), info),
			logRec(attribute.MapValue(str("outer", "o"), attribute.KeyValue{Key: "inner",
				Value: attribute.MapValue(attribute.Float64("pi", 3.5), attribute.StringSlice("list", []string{"p", "q"}))}), info),
			logRec(attribute.ByteSliceValue([]byte("raw\x00bytes")), info),
			logRec(sv("line one\nline \"two\"\t\u2028 \xff"), info),
		}},
		// Trace context only when valid.
		{"log_trace_context", []logtest.RecordFactory{noTrace(logRec(sv("outside any span"), info)), spanOnly}},
		// Properties: limits, control keys, slices and maps.
		{"log_properties", []logtest.RecordFactory{logRec(sv("props"), info,
			str(strings.Repeat("k", 151), "dropped: key over 150"),
			str(strings.Repeat("k", 150), "kept: key of 150"),
			str("long", strings.Repeat("é", 8200)),
			str("bad.utf8", "a\xffb"),
			str("microsoft.sample_rate", "50"), str("_MS.control", "x"),
			str("_MS.ProcessedByMetricExtractors", "True"),
			attribute.Int64Slice("ints", []int64{1, 2}),
			attribute.KeyValue{Key: "map", Value: attribute.MapValue(str("a", "b"))},
			attribute.Float64("nan", mathNaN()),
			attribute.KeyValue{Key: "empty"},
			str("exception.stacktrace", "a stack on a message stays a property"))}},
		// The record's event name.
		{"log_event_name", []logtest.RecordFactory{withEvent, eventAttr, bodyAttr}},
	}
}

func severities() []logtest.RecordFactory {
	var out []logtest.RecordFactory
	for _, n := range []log.Severity{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25} {
		out = append(out, logRec(sv("severity "+n.String()), n, num("severity_number", int(n))))
	}
	return out
}

// TestGoldenLogs converts each log case and compares the envelopes with
// testdata/golden/<case>.json (-update rewrites them).
func TestGoldenLogs(t *testing.T) {
	for _, gc := range logGoldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			c := newTestConverter(t, Config{})
			var buf Buffer
			for _, f := range gc.records {
				r := f.NewRecord()
				if _, err := c.AppendLogRecord(&buf, &r); err != nil {
					t.Fatal(err)
				}
			}
			checkGolden(t, gc.name, checkRecords(t, &buf))
		})
	}
}

type metricGoldenCase struct {
	name string
	rm   metricdata.ResourceMetrics
}

// t18Attrs are the attributes of every point of T18.
func t18Attrs() attribute.Set {
	return attribute.NewSet(num("int_attribute", 10), str("str_attribute", "str_value"),
		attribute.Bool("bool_attribute", true), attribute.Float64("double_attribute", 1.2))
}

func resourceMetrics(ms ...metricdata.Metrics) metricdata.ResourceMetrics {
	return metricdata.ResourceMetrics{Resource: testResource(), ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: ms}}}
}

// metricGoldenCases covers T18 (one envelope per point of each kind), both
// temporalities, both number types and the histogram edge cases.
func metricGoldenCases() []metricGoldenCase {
	at := testStart
	a := t18Attrs()
	return []metricGoldenCase{
		{"t18_metrics", resourceMetrics(
			metricdata.Metrics{Name: "gauge_int", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: a, Time: at, Value: 1}}}},
			metricdata.Metrics{Name: "gauge_double", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Attributes: a, Time: at, Value: 1}}}},
			metricdata.Metrics{Name: "sum", Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{Attributes: a, Time: at, Value: 2}}}},
			metricdata.Metrics{Name: "histogram", Data: metricdata.Histogram[float64]{Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Attributes: a, Time: at, Sum: 3, Count: 3,
					Min: metricdata.NewExtrema(0.0), Max: metricdata.NewExtrema(2.0), Bounds: []float64{1}, BucketCounts: []uint64{1, 2}}}}},
			metricdata.Metrics{Name: "exponential_histogram", Data: metricdata.ExponentialHistogram[float64]{Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.ExponentialHistogramDataPoint[float64]{{Attributes: a, Time: at, Sum: 4, Count: 4,
					Min: metricdata.NewExtrema(1.0), Max: metricdata.NewExtrema(3.0)}}}},
			metricdata.Metrics{Name: "summary", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{{Attributes: a, Time: at, Sum: 5, Count: 5}}}},
		)},
		// Sums of both temporalities and number types: sent as they are
		// (the exporter's TemporalitySelector decides what the SDK makes).
		{"metrics_sum_temporality", resourceMetrics(
			metricdata.Metrics{Name: "requests", Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(str("route", "/a")), Time: at, Value: 7},
					{Attributes: attribute.NewSet(str("route", "/b")), Time: at, Value: 9}}}},
			metricdata.Metrics{Name: "queue_depth", Data: metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.DataPoint[float64]{{Time: at, Value: -2.5}}}},
		)},
		// Histograms: int64 with both temporalities, one without min and max,
		// and one that counted nothing (left out).
		{"metrics_histogram_kinds", resourceMetrics(
			metricdata.Metrics{Name: "latency_ms", Data: metricdata.Histogram[int64]{Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[int64]{{Time: at, Sum: 120, Count: 4, Min: metricdata.NewExtrema[int64](10), Max: metricdata.NewExtrema[int64](60)}}}},
			metricdata.Metrics{Name: "latency_cumulative_ms", Data: metricdata.Histogram[int64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[int64]{{Time: at, Sum: 300, Count: 10, Min: metricdata.NewExtrema[int64](1), Max: metricdata.NewExtrema[int64](90)}}}},
			metricdata.Metrics{Name: "no_min_max", Data: metricdata.Histogram[float64]{Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Time: at, Sum: 1.5, Count: 2}}}},
			metricdata.Metrics{Name: "empty", Data: metricdata.Histogram[float64]{Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Time: at}}}},
			metricdata.Metrics{Name: "exp_int", Data: metricdata.ExponentialHistogram[int64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.ExponentialHistogramDataPoint[int64]{{Time: at, Sum: 6, Count: 3, Min: metricdata.NewExtrema[int64](1), Max: metricdata.NewExtrema[int64](3)}}}},
		)},
		// Property limits on point attributes; the _MS keys of standard
		// metrics are kept.
		{"metrics_properties", resourceMetrics(
			metricdata.Metrics{Name: "requests/duration", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Time: at, Value: 1,
				Attributes: attribute.NewSet(str("_MS.MetricId", "requests/duration"), str("_MS.IsAutocollected", "True"),
					str(strings.Repeat("k", 151), "dropped"), str("long", strings.Repeat("x", 9000)),
					attribute.StringSlice("list", []string{"a", "b"}))}}}},
		)},
	}
}

// TestGoldenMetrics converts each metric case and compares the envelopes
// with testdata/golden/<case>.json (-update rewrites them).
func TestGoldenMetrics(t *testing.T) {
	for _, gc := range metricGoldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			c := newTestConverter(t, Config{})
			var buf Buffer
			if _, skipped := c.AppendMetrics(&buf, &gc.rm); skipped != 0 {
				t.Fatalf("%d points skipped", skipped)
			}
			checkGolden(t, gc.name, checkRecords(t, &buf))
		})
	}
}
