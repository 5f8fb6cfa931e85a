package exporter

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// benchSpans returns n HTTP server spans with 8 attributes.
func benchSpans(n int) []sdktrace.ReadOnlySpan {
	now := time.Now()
	out := make([]sdktrace.ReadOnlySpan, n)
	for i := range out {
		out[i] = tracetest.SpanStub{
			Name:     "GET /api/orders/{id}",
			SpanKind: trace.SpanKindServer,
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{byte(i), byte(i >> 8), 1}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 2}, TraceFlags: trace.FlagsSampled,
			}),
			StartTime: now, EndTime: now.Add(3 * time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "GET"), attribute.String("http.route", "/api/orders/{id}"),
				attribute.String("url.path", fmt.Sprintf("/api/orders/%d", i)), attribute.String("url.scheme", "https"),
				attribute.String("server.address", "shop.example.com"), attribute.Int("server.port", 443),
				attribute.Int("http.response.status_code", 200), attribute.String("user_agent.original", "Mozilla/5.0"),
			},
		}.Snapshot()
	}
	return out
}

// BenchmarkExportSpans512 measures ExportSpans of 512 spans end to end into
// a real spool (converted, appended, fsynced), and its p99 latency.
func BenchmarkExportSpans512(b *testing.B) {
	e, err := NewTraceExporter(context.Background(), WithConnectionString(testCS), withLookupEnv(noEnv),
		WithSpoolDir(filepath.Join(b.TempDir(), "spool")), WithLogger(quiet()), WithoutSender())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	spans := benchSpans(512)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := e.ExportSpans(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
