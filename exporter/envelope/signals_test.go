package envelope

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// typicalLogRecord is what slog through the bridge makes: a string body,
// INFO, five attributes, trace context and an operation name.
func typicalLogRecord() sdklog.Record {
	return logRec(sv("order 1234 shipped to warehouse 7"), log.SeverityInfo,
		str("order.id", "1234"), num("items", 3), attribute.Float64("total", 99.5), attribute.Bool("express", true),
		str(OperationNameKey, "POST /orders")).NewRecord()
}

// TestLogConvertAllocations checks that converting a typical log record,
// an exception record and an event allocates nothing once the buffer and
// the scratch space have grown. (Slice and map values are the exception:
// the SDK copies them to hand them out, since OpenTelemetry Go v1.47.)
func TestLogConvertAllocations(t *testing.T) {
	c := newTestConverter(t, Config{})
	recs := []sdklog.Record{
		typicalLogRecord(),
		logRec(sv("boom"), log.SeverityError, str("exception.type", "E"), str("exception.message", "m"),
			str("exception.stacktrace", "s"), num("attempt", 2)).NewRecord(),
		logRec(attribute.Int64Value(7), log.SeverityWarn, str(CustomEventNameKey, "ev")).NewRecord(),
	}
	var buf Buffer
	allocs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		if n, skipped := c.AppendLogRecords(&buf, recs); n != len(recs) || skipped != 0 {
			t.Fatalf("AppendLogRecords = %d, %d", n, skipped)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendLogRecords allocates %.1f times per batch of %d, want 0", allocs, len(recs))
	}
}

// TestMetricConvertAllocations: converting data points allocates nothing
// either.
func TestMetricConvertAllocations(t *testing.T) {
	c := newTestConverter(t, Config{})
	rm := metricGoldenCases()[0].rm
	var buf Buffer
	allocs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		if _, skipped := c.AppendMetrics(&buf, &rm); skipped != 0 {
			t.Fatal(skipped)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendMetrics allocates %.1f times, want 0", allocs)
	}
}

func TestMetricInvalidPointsSkipped(t *testing.T) {
	c := newTestConverter(t, Config{})
	at := testStart
	rm := resourceMetrics(
		metricdata.Metrics{Name: "g", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{
			{Time: at, Value: math.NaN()}, {Time: at, Value: math.Inf(1)}, {Time: at, Value: 1}}}},
		metricdata.Metrics{Name: "h", Data: metricdata.Histogram[float64]{DataPoints: []metricdata.HistogramDataPoint[float64]{
			{Time: at, Count: math.MaxInt32 + 1, Sum: 1}, {Time: at, Count: 1, Sum: 1, Max: metricdata.NewExtrema(math.Inf(-1))}}}},
	)
	var buf Buffer
	n, skipped := c.AppendMetrics(&buf, &rm)
	if n != 1 || skipped != 4 || buf.Len() != 1 {
		t.Fatalf("AppendMetrics = %d records, %d skipped; want 1, 4", n, skipped)
	}
	checkRecords(t, &buf)
	if st := c.Stats(); st.Skipped[SkipInvalidPoint] != 4 || st.Converted != 1 || st.Envelopes != 1 {
		t.Errorf("Stats = %+v", st)
	}
	if n, skipped := c.AppendMetrics(&buf, nil); n != 0 || skipped != 0 {
		t.Errorf("nil ResourceMetrics: %d, %d", n, skipped)
	}
}

// TestLogLimits: a huge body is cut to 32768 characters, a huge stack too
// (hasFullStack false), and an envelope over the size limit is trimmed.
func TestLogLimits(t *testing.T) {
	c := newTestConverter(t, Config{})
	big := strings.Repeat("ü", 40000)
	ascii := strings.Repeat("x", 40000)
	recs := []sdklog.Record{
		logRec(sv(ascii), log.SeverityInfo).NewRecord(),
		logRec(sv("x"), log.SeverityError, str("exception.type", "E"), str("exception.message", big), str("exception.stacktrace", big)).NewRecord(),
		logRec(sv("many"), log.SeverityInfo, str("a", strings.Repeat("a", 8192)), str("b", strings.Repeat("b", 8192)),
			str("c", strings.Repeat("c", 8192)), str("d", strings.Repeat("d", 8192)), str("e", strings.Repeat("e", 8192)),
			str("f", strings.Repeat("f", 8192)), str("g", strings.Repeat("g", 8192)), str("h", strings.Repeat("h", 8192))).NewRecord(),
	}
	var buf Buffer
	if n, skipped := c.AppendLogRecords(&buf, recs); n != 3 || skipped != 0 {
		t.Fatalf("AppendLogRecords = %d, %d", n, skipped)
	}
	checkRecords(t, &buf)
	var msg struct {
		Data struct {
			BaseData MessageData `json:"baseData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Record(0), &msg); err != nil {
		t.Fatal(err)
	}
	if got := len([]rune(msg.Data.BaseData.Message)); got != maxMessage {
		t.Errorf("message has %d characters, want %d", got, maxMessage)
	}
	var env Envelope
	if err := json.Unmarshal(buf.Record(1), &env); err != nil {
		t.Fatal(err)
	}
	ex := env.Data.BaseData.(*ExceptionData).Exceptions[0]
	if ex.HasFullStack || len([]rune(ex.Stack)) > maxStack {
		t.Errorf("stack cut to %d runes, hasFullStack %v", len([]rune(ex.Stack)), ex.HasFullStack)
	}
	if st := c.Stats(); st.Trimmed != 2 {
		t.Errorf("Trimmed = %d, want 2 (the exception and the many properties)", st.Trimmed)
	}
}

// FuzzConvertLogRecord converts log records with arbitrary bodies of every
// kind and arbitrary attributes, including the mapped keys, and checks that
// every record is compact, valid JSON that passes Validate.
func FuzzConvertLogRecord(f *testing.F) {
	f.Add("body", "key", "value", int64(9), 0.5, true, uint8(0), []byte("raw"))
	f.Add("", "exception.type", "", int64(-1), math.Inf(1), false, uint8(5), []byte{0xff})
	f.Add(" \n", CustomEventNameKey, "ev", int64(21), math.NaN(), true, uint8(7), []byte(nil))
	f.Fuzz(func(t *testing.T, body, key, value string, n int64, x float64, b bool, kind uint8, raw []byte) {
		var bv attribute.Value
		switch kind % 10 {
		case 0:
			bv = attribute.StringValue(body)
		case 1:
			bv = attribute.Int64Value(n)
		case 2:
			bv = attribute.Float64Value(x)
		case 3:
			bv = attribute.BoolValue(b)
		case 4:
			bv = attribute.ByteSliceValue(raw)
		case 5:
			bv = attribute.StringSliceValue([]string{body, value})
		case 6:
			bv = attribute.SliceValue(attribute.StringValue(body), attribute.Float64Value(x), attribute.ByteSliceValue(raw))
		case 7:
			bv = attribute.MapValue(attribute.String(key, body), attribute.KeyValue{Key: attribute.Key(value),
				Value: attribute.MapValue(attribute.Float64(body, x))})
		case 8:
			bv = attribute.Float64SliceValue([]float64{x, -x})
		}
		attrs := []attribute.KeyValue{
			attribute.String(key, value),
			attribute.Int64(key+".n", n),
			attribute.Float64(key+".x", x),
			{Key: attribute.Key(key + ".map"), Value: attribute.MapValue(attribute.String(value, body))},
			{Key: attribute.Key(key + ".bytes"), Value: attribute.ByteSliceValue(raw)},
		}
		for i, k := range []string{"exception.type", "exception.message", "exception.stacktrace", CustomEventNameKey,
			OperationNameKey, "enduser.id", "client.address", "microsoft.client.ip", "session.id", "http.user_agent"} {
			if n>>i&1 == 1 {
				attrs = append(attrs, attribute.String(k, value))
			}
		}
		fac := logRec(bv, log.Severity(n%30), attrs...)
		if b {
			fac = noTrace(fac)
			fac.Timestamp = time.Time{}
		}
		fac.EventName = body
		r := fac.NewRecord()
		c := newTestConverter(t, Config{})
		var buf Buffer
		if _, err := c.AppendLogRecord(&buf, &r); err != nil {
			t.Fatalf("AppendLogRecord: %v", err)
		}
		if buf.Len() != 1 {
			t.Fatalf("%d records, want 1", buf.Len())
		}
		checkRecords(t, &buf)
	})
}

// BenchmarkConvertLogRecord converts a typical log record into a reused
// buffer.
func BenchmarkConvertLogRecord(b *testing.B) {
	c := newTestConverter(b, Config{})
	r := typicalLogRecord()
	var buf Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := c.AppendLogRecord(&buf, &r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Size()))
}

// BenchmarkConvertMetrics converts 100 sum points with two attributes.
func BenchmarkConvertMetrics(b *testing.B) {
	c := newTestConverter(b, Config{})
	pts := make([]metricdata.DataPoint[int64], 100)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{Time: testStart, Value: int64(i),
			Attributes: attribute.NewSet(str("route", "/api/"+strings.Repeat("x", i%7)), num("code", 200+i))}
	}
	rm := resourceMetrics(metricdata.Metrics{Name: "http.server.requests", Data: metricdata.Sum[int64]{
		Temporality: metricdata.DeltaTemporality, IsMonotonic: true, DataPoints: pts}})
	var buf Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		c.AppendMetrics(&buf, &rm)
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "points/s")
}
