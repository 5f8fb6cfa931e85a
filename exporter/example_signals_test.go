package exporter_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter"
)

const exampleCS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-0.in.applicationinsights.azure.com/"

// A log exporter behind the SDK's batch processor, fed by log/slog through
// the OpenTelemetry slog bridge. The operation-name processor gives records
// logged inside a span the operation name of their request; the bridge
// takes the trace and span ids from the context.
func ExampleNewLogExporter() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	logs, err := exporter.NewLogExporter(ctx,
		exporter.WithConnectionString(exampleCS), // or APPLICATIONINSIGHTS_CONNECTION_STRING
		exporter.WithSpoolDir(dir+"/spool"),
		exporter.WithoutSender(), // this example only spools
	)
	if err != nil {
		log.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(exporter.NewOperationNameProcessor()),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)),
	)
	logger := slog.New(otelslog.NewHandler("shop", otelslog.WithLoggerProvider(lp)))

	logger.InfoContext(ctx, "order shipped", "order.id", 1234)
	logger.ErrorContext(ctx, "payment failed", "err", os.ErrDeadlineExceeded) // an ExceptionData

	// Shutdown flushes the batch processor; the exporter returns only once
	// the envelopes are fsynced.
	if err := lp.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("log records converted:", logs.Stats().Converted)
	// Output: log records converted: 2
}

// A metric exporter behind a periodic reader: counters and histograms are
// sent as deltas, one MetricData envelope per data point.
func ExampleNewMetricExporter() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	metrics, err := exporter.NewMetricExporter(ctx,
		exporter.WithConnectionString(exampleCS),
		exporter.WithSpoolDir(dir+"/spool"),
		exporter.WithoutSender(),
	)
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
	orders, _ := mp.Meter("shop").Int64Counter("orders")
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("country", "NL")))
	orders.Add(ctx, 2, metric.WithAttributes(attribute.String("country", "BE")))

	if err := mp.Shutdown(ctx); err != nil { // collects and exports once more
		log.Fatal(err)
	}
	fmt.Println("data points converted:", metrics.Stats().Converted)
	// Output: data points converted: 2
}

// One spool and one in-process sender for the three signals: create the
// pipeline once, hand it to each exporter, shut it down after the
// providers.
func ExampleNewPipeline() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	p, err := exporter.NewPipeline(ctx,
		exporter.WithConnectionString(exampleCS),
		exporter.WithSpoolDir(dir+"/spool"),
		exporter.WithoutSender(), // without this, one sender drains the spool for all three
	)
	if err != nil {
		log.Fatal(err)
	}
	traces, err := exporter.NewTraceExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		log.Fatal(err)
	}
	logs, err := exporter.NewLogExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		log.Fatal(err)
	}
	metrics, err := exporter.NewMetricExporter(ctx, exporter.WithPipeline(p))
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()), sdktrace.WithBatcher(traces))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(exporter.NewOperationNameProcessor()), sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
	logger := slog.New(otelslog.NewHandler("shop", otelslog.WithLoggerProvider(lp)))

	spanCtx, span := tp.Tracer("shop").Start(ctx, "checkout")
	logger.InfoContext(spanCtx, "basket priced", "items", 3) // correlated with the span
	hist, _ := mp.Meter("shop").Float64Histogram("checkout.duration", metric.WithUnit("ms"))
	hist.Record(spanCtx, 42)
	span.End()

	for _, shutdown := range []func(context.Context) error{tp.Shutdown, lp.Shutdown, mp.Shutdown, p.Shutdown} {
		if err := shutdown(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("spans:", traces.Stats().Converted, "log records:", logs.Stats().Converted, "data points:", metrics.Stats().Converted)
	// Output: spans: 1 log records: 1 data points: 1
}
