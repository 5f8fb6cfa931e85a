// Command traces is the smallest real use of the aispool exporter: an
// OpenTelemetry tracer provider whose spans go, through the exporter, into a
// durable spool on disk. Run a sender or `aispool drain` on the spool to
// deliver them.
//
//	APPLICATIONINSIGHTS_CONNECTION_STRING='InstrumentationKey=…' go run ./examples/traces --spool-dir /tmp/aispool-traces
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter"
)

// demoConnectionString is used when the environment has none.
const demoConnectionString = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:1/"

func main() {
	dir := flag.String("spool-dir", "", "spool directory (default: under the user cache directory)")
	n := flag.Int("spans", 1000, "requests to trace, each with one database call")
	flag.Parse()
	if err := run(*dir, *n); err != nil {
		fmt.Fprintln(os.Stderr, "traces:", err)
		os.Exit(1)
	}
}

func run(dir string, n int) error {
	ctx := context.Background()
	// Only spool: deliver later with the daemon (`aispool drain`).
	opts := []exporter.Option{exporter.WithoutSender()}
	if _, ok := os.LookupEnv(exporter.EnvConnectionString); !ok {
		opts = append(opts, exporter.WithConnectionString(demoConnectionString))
	}
	if dir != "" {
		opts = append(opts, exporter.WithSpoolDir(dir))
	}
	exp, err := exporter.NewTraceExporter(ctx, opts...)
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
		sdktrace.WithBatcher(exp, sdktrace.WithBlocking()),
	)
	tr := tp.Tracer("examples/traces")
	start := time.Now()
	for i := range n {
		rctx, req := tr.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/orders/{id}"),
				attribute.String("url.path", fmt.Sprintf("/orders/%d", i)), attribute.Int("http.response.status_code", 200)))
		_, db := tr.Start(rctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("server.address", "db.local")))
		db.End()
		req.End()
	}
	dirUsed := exp.Spool().Dir()
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	st := exp.Stats()
	fmt.Printf("%d spans converted into %d envelopes, durable in %s, in %v\n",
		st.Converted, st.Envelopes, dirUsed, time.Since(start).Round(time.Millisecond))
	return nil
}
