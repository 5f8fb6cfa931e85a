// Command allsignals sends traces, logs and metrics of one Go program
// through aispool: one pipeline (one spool, one in-process sender) shared
// by the trace, log and metric exporters, and log/slog wired to the log
// exporter through the OpenTelemetry slog bridge, so that every record
// logged inside a request carries the request's operation id and name.
//
//	APPLICATIONINSIGHTS_CONNECTION_STRING='InstrumentationKey=…' go run ./examples/allsignals
//
// With a connection string in the environment, the in-process sender
// delivers before the program exits (bounded by --flush). Without one, a
// demo key is used and the program only spools; deliver later with
// `aispool drain --spool-dir <dir>`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter"
)

// demoConnectionString is used when the environment has none.
const demoConnectionString = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:1/"

func main() {
	dir := flag.String("spool-dir", "", "spool directory (default: under the user cache directory)")
	n := flag.Int("requests", 100, "requests to serve")
	flush := flag.Duration("flush", 30*time.Second, "how long to wait for delivery at exit (with a connection string)")
	flag.Parse()
	if err := run(*dir, *n, *flush); err != nil {
		fmt.Fprintln(os.Stderr, "allsignals:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, flush time.Duration) error {
	ctx := context.Background()
	_, deliver := os.LookupEnv(exporter.EnvConnectionString)
	var opts []exporter.Option
	if !deliver {
		opts = append(opts, exporter.WithConnectionString(demoConnectionString), exporter.WithoutSender())
	}
	if dir != "" {
		opts = append(opts, exporter.WithSpoolDir(dir))
	}

	// One spool and one sender for the three signals.
	p, err := exporter.NewPipeline(ctx, opts...)
	if err != nil {
		return err
	}
	traces, err := exporter.NewTraceExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		return err
	}
	logs, err := exporter.NewLogExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		return err
	}
	metrics, err := exporter.NewMetricExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		return err
	}

	res := resource.NewSchemaless(attribute.String("service.name", "allsignals"), attribute.String("service.namespace", "examples"))
	names := exporter.NewOperationNameProcessor()
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(names), sdktrace.WithBatcher(traces))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(names), sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))

	// The two-line slog setup: a bridge handler on the logger provider.
	logger := slog.New(otelslog.NewHandler("examples/allsignals", otelslog.WithLoggerProvider(lp)))
	slog.SetDefault(logger)

	tracer := tp.Tracer("examples/allsignals")
	meter := mp.Meter("examples/allsignals")
	served, _ := meter.Int64Counter("orders.served")
	duration, _ := meter.Float64Histogram("orders.duration", metric.WithUnit("ms"))
	start := time.Now()
	for i := range n {
		serve(ctx, tracer, served, duration, i)
	}

	dirUsed := p.Spool().Dir()
	// Providers first (they flush into the exporters), then the pipeline.
	for _, shutdown := range []func(context.Context) error{tp.Shutdown, lp.Shutdown, mp.Shutdown} {
		if err := shutdown(ctx); err != nil {
			return err
		}
	}
	if deliver {
		fctx, cancel := context.WithTimeout(ctx, flush)
		err := p.Sender().Flush(fctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "allsignals: not everything delivered yet (it stays in the spool):", err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		return err
	}
	fmt.Printf("%d spans, %d log records and %d metric points durable in %s, in %v\n",
		traces.Stats().Converted, logs.Stats().Converted, metrics.Stats().Converted, dirUsed,
		time.Since(start).Round(time.Millisecond))
	return nil
}

var errOutOfStock = errors.New("out of stock")

// serve handles one fake request: a server span, log lines inside it (the
// bridge takes the trace context from ctx), and two metric recordings.
func serve(ctx context.Context, tracer trace.Tracer, served metric.Int64Counter, duration metric.Float64Histogram, i int) {
	t0 := time.Now()
	ctx, span := tracer.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/orders/{id}"),
			attribute.String("url.path", fmt.Sprintf("/orders/%d", i))))
	defer span.End()
	slog.InfoContext(ctx, "order looked up", "order.id", i)
	status := 200
	if rand.IntN(10) == 0 {
		status = 409
		// An error attribute becomes exception.type/exception.message: an
		// ExceptionData in Application Insights, message "out of stock".
		slog.ErrorContext(ctx, "order cannot ship", "order.id", i, "err", errOutOfStock)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	code := metric.WithAttributes(attribute.Int("http.response.status_code", status))
	served.Add(ctx, 1, code)
	duration.Record(ctx, float64(time.Since(t0).Microseconds())/1000, code)
}
