package otlpconv

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/aispool/aispool/exporter/envelope"
)

// BenchmarkAppendTracesHTTPServerSpan converts the span of envelope's
// BenchmarkConvertHTTPServerSpan, decoded from OTLP, 100 per request.
func BenchmarkAppendTracesHTTPServerSpan(b *testing.B) {
	c := newTestConverter(b)
	td := httpServerSpans(100)
	var buf envelope.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := c.AppendTraces(&buf, td, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(100*b.N), "ns/span")
}

// BenchmarkDecodeAndAppendTraces adds pdata's protobuf decoding.
func BenchmarkDecodeAndAppendTraces(b *testing.B) {
	c := newTestConverter(b)
	body, err := ptraceotlp.NewExportRequestFromTraces(httpServerSpans(100)).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	var buf envelope.Buffer
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			b.Fatal(err)
		}
		if _, err := c.AppendTraces(&buf, req.Traces(), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(100*b.N), "ns/span")
}

// BenchmarkAppendLogs converts envelope's typical log record from OTLP.
func BenchmarkAppendLogs(b *testing.B) {
	c := newTestConverter(b)
	ld := typicalLogs(100)
	var buf envelope.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := c.AppendLogs(&buf, ld, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(100*b.N), "ns/record")
}

// BenchmarkAppendMetrics converts 100 sum points with two attributes, as
// envelope's BenchmarkConvertMetrics.
func BenchmarkAppendMetrics(b *testing.B) {
	c := newTestConverter(b)
	md := sumPoints(100)
	var buf envelope.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := c.AppendMetrics(&buf, md, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "points/s")
}
