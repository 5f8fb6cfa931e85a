package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The span shapes. Both are one HTTP server span per unit of work with the
// same 8 attributes, made through the real OpenTelemetry SDK (tracer.Start
// / span.End), so the SDK's own cost is part of every shipper's figures and
// of the SDK baseline alike. They differ in the user agent only.
const (
	// shapeUA101 is the shape: a 101-character browser user agent.
	shapeUA101 = "ua101"
	// shapeUA41 is the shape of `go run ./benchmarks` (the README's
	// figures): a 41-character user agent.
	shapeUA41 = "ua41"
)

// userAgents are the user_agent.original values of the shapes.
var userAgents = map[string]string{
	shapeUA101: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	shapeUA41:  "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
}

// checkShape rejects an unknown shape name.
func checkShape(s string) error {
	if _, ok := userAgents[s]; !ok {
		return fmt.Errorf("unknown span shape %q (want %q or %q)", s, shapeUA101, shapeUA41)
	}
	return nil
}

// benchResource is the resource of every tracer provider of the runs.
func benchResource() *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.instance.id", "bench-1"),
		attribute.String("service.version", "1.4.2"),
	)
}

// sdkSettings are the BatchSpanProcessor's settings, the same for every
// shipper.
type sdkSettings struct {
	batch, queue int
}

// newProvider is the SDK setup of every shipper: a BatchSpanProcessor with
// WithBlocking (no span is dropped: the producers wait instead), batches of
// s.batch spans (the README recommends 2048 with aispool's exporter), and
// for aispool its OperationNameProcessor before it (extra may be nil).
func newProvider(exp sdktrace.SpanExporter, s sdkSettings, extra sdktrace.SpanProcessor) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(benchResource()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	}
	if extra != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(extra))
	}
	opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBlocking(),
		sdktrace.WithMaxExportBatchSize(s.batch), sdktrace.WithMaxQueueSize(s.queue)))
	return sdktrace.NewTracerProvider(opts...)
}

// generate makes n spans of the shape with producers goroutines, each
// taking the next span number from a shared counter. It returns when every
// span has ended (handed to the span processors), or ctx ends.
func generate(ctx context.Context, tp trace.TracerProvider, shape string, n, producers int) error {
	if err := checkShape(shape); err != nil {
		return err
	}
	ua := userAgents[shape]
	tr := tp.Tracer("github.com/aispool/aispool/benchmarks/compare")
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(producers, 1) {
		wg.Go(func() {
			var attrs [8]attribute.KeyValue
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				serverSpan(ctx, tr, i, ua, &attrs)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// serverSpan is one HTTP server span with 8 attributes, the same as the
// HTTP workload of `go run ./benchmarks` but for the user agent.
func serverSpan(ctx context.Context, tr trace.Tracer, i int, ua string, attrs *[8]attribute.KeyValue) {
	*attrs = [8]attribute.KeyValue{
		attribute.String("http.request.method", "GET"),
		attribute.String("http.route", "/api/orders/{id}"),
		attribute.String("url.path", "/api/orders/"+strconv.Itoa(i)),
		attribute.String("url.scheme", "https"),
		attribute.String("server.address", "shop.example.com"),
		attribute.Int("server.port", 443),
		attribute.Int("http.response.status_code", 200),
		attribute.String("user_agent.original", ua),
	}
	_, s := tr.Start(ctx, "GET /api/orders/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs[:]...))
	s.End()
}
