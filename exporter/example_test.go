package exporter_test

import (
	"context"
	"fmt"
	"log"
	"os"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter"
)

// The Go version of the Azure Monitor documentation's first example: a
// tracer provider with a batch span processor and this exporter, and one
// span. When the program ends, the span is in the spool on disk.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	exp, err := exporter.NewTraceExporter(ctx,
		exporter.WithConnectionString("InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-0.in.applicationinsights.azure.com/"),
		exporter.WithSpoolDir(dir+"/spool"),
		// This example only spools; the aispool daemon (or the in-process
		// sender, on by default) delivers.
		exporter.WithoutSender(),
	)
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
		sdktrace.WithBatcher(exp),
	)
	tracer := tp.Tracer("my-tracer")

	_, span := tracer.Start(ctx, "hello")
	span.End()

	// Shutdown flushes the batch processor into the exporter, which
	// returns only once the envelope is fsynced.
	if err := tp.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("envelopes converted:", exp.Stats().Envelopes)
	// Output: envelopes converted: 1
}
