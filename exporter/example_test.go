package exporter_test

import (
	"context"
	"fmt"
	"log"
	"os"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

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

// NewSampler keeps a share of the traces, decided from the trace id, and
// records the rate on the spans it keeps, so that the backend counts each
// kept span for the ones dropped.
func ExampleNewSampler() {
	// With a tracer provider: sdktrace.WithSampler(exporter.NewSampler(0.25)).
	s := exporter.NewSampler(0.25)
	fmt.Println(s.Description())
	for i := range 6 {
		id := trace.TraceID{byte(i * 17), 15: byte(i)}
		res := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id})
		if res.Decision == sdktrace.RecordAndSample {
			fmt.Printf("%s kept, %s=%v\n", id, res.Attributes[0].Key, res.Attributes[0].Value.AsFloat64())
		} else {
			fmt.Printf("%s dropped\n", id)
		}
	}
	// Output:
	// ApplicationInsightsSampler{0.25}
	// 00000000000000000000000000000000 kept, microsoft.sample_rate=25
	// 11000000000000000000000000000001 dropped
	// 22000000000000000000000000000002 dropped
	// 33000000000000000000000000000003 dropped
	// 44000000000000000000000000000004 dropped
	// 55000000000000000000000000000005 kept, microsoft.sample_rate=25
}
