package sender

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strconv"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	aienvelope "github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/spool"
)

// The user agents of the span shapes of benchmarks/compare: ua101 is the
// performance issue's, ua41 the one of `go run ./benchmarks`.
var benchUserAgents = []struct{ shape, ua string }{
	{"ua101", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"},
	{"ua41", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"},
}

// spanRecords returns n envelopes made the way the exporter makes them: HTTP
// server spans with 8 attributes through the real SDK (random ids, real
// clocks), converted by the envelope converter. One record per span.
func spanRecords(tb testing.TB, n int, ua string) []spool.Record {
	tb.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.instance.id", "bench-1"),
		attribute.String("service.version", "1.4.2"))))
	tr := tp.Tracer("bench")
	ctx := context.Background()
	for i := range n {
		_, s := tr.Start(ctx, "GET /api/orders/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/api/orders/{id}"),
			attribute.String("url.path", "/api/orders/"+strconv.Itoa(i)),
			attribute.String("url.scheme", "https"),
			attribute.String("server.address", "shop.example.com"),
			attribute.Int("server.port", 443),
			attribute.Int("http.response.status_code", 200),
			attribute.String("user_agent.original", ua)))
		s.End()
	}
	conv, err := aienvelope.NewConverter(aienvelope.Config{InstrumentationKey: "00000000-0000-0000-0000-000000000000"})
	if err != nil {
		tb.Fatal(err)
	}
	var buf aienvelope.Buffer
	if recs, skipped := conv.AppendSpans(&buf, rec.Ended()); recs != n || skipped != 0 {
		tb.Fatalf("converted %d records, %d skipped, want %d", recs, skipped, n)
	}
	out := make([]spool.Record, n)
	for i := range out {
		out[i] = spool.Record{Data: bytes.Clone(buf.Record(i))}
	}
	return out
}

// BenchmarkBodySpans measures the request body of real span envelopes per
// gzip level (klauspost/compress), next to the standard library's default
// level (what the OpenTelemetry Collector's exporter sends): wire bytes per
// span and CPU per span, for requests of the default MaxBatchBytes.
func BenchmarkBodySpans(b *testing.B) {
	for _, shape := range benchUserAgents {
		all := spanRecords(b, 4000, shape.ua)
		// One request: as many records as fit in DefaultMaxBatchBytes.
		var recs []spool.Record
		raw := 0
		for _, r := range all {
			if raw+len(r.Data) > DefaultMaxBatchBytes {
				break
			}
			raw += len(r.Data)
			recs = append(recs, r)
		}
		for _, level := range []int{kgzip.HuffmanOnly, 1, 2, 3, 4, 5, 6, 7, 9} {
			b.Run(fmt.Sprintf("%s/klauspost=%d", shape.shape, level), func(b *testing.B) {
				pool, err := newBodyPool(level, 1)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(raw))
				var out int
				for b.Loop() {
					body := pool.get()
					if err := body.encode(recs, nil); err != nil {
						b.Fatal(err)
					}
					out = len(body.bytes())
					body.release()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/span")
				b.ReportMetric(float64(out)/float64(len(recs)), "B/span")
			})
		}
		b.Run(shape.shape+"/stdlib=default", func(b *testing.B) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			b.SetBytes(int64(raw))
			for b.Loop() {
				buf.Reset()
				zw.Reset(&buf)
				for _, r := range recs {
					if _, err := zw.Write(r.Data); err != nil {
						b.Fatal(err)
					}
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/span")
			b.ReportMetric(float64(buf.Len())/float64(len(recs)), "B/span")
		})
	}
}
