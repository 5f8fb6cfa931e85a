package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter"
)

// The shippers compared. Each runs behind the same SDK setup (newProvider)
// in a process of its own.
const (
	shipSDK        = "sdk"               // the SDK alone, discarding exporter (baseline)
	shipAispool    = "aispool"           // aispool's exporter, durable, in-process sender
	shipAIGo       = "aigo"              // ApplicationInsights-Go v0.4.4, in memory
	shipCollFile   = "collector-file"    // Collector azuremonitorexporter, file_storage queue, fsync on
	shipCollMemory = "collector-memory"  // Collector azuremonitorexporter, its default in-memory queue
	shipCollNone   = "collector-noqueue" // Collector azuremonitorexporter, sending_queue disabled
)

// shipperInfo describes a shipper for the flags and the report.
type shipperInfo struct {
	name  string
	label string // the report's row
	// storage: the shipper keeps what it was handed in a directory that a
	// new process reopens (the durability probe's question).
	storage bool
	// endpoint: the shipper sends to the endpoint (all but the baseline).
	endpoint bool
}

// shippers in the report's order.
var shippers = []shipperInfo{
	{shipCollFile, "OpenTelemetry Collector azuremonitorexporter v0.161.0, file_storage queue, fsync on", true, true},
	{shipCollMemory, "Collector exporter, default in-memory sending_queue", false, true},
	{shipCollNone, "Collector exporter, sending_queue disabled", false, true},
	{shipAIGo, "ApplicationInsights-Go v0.4.4 (memory only)", false, true},
	{shipAispool, "**aispool** exporter (durable, README's settings)", true, true},
	{shipSDK, "the OpenTelemetry SDK alone, discarding exporter", false, false},
}

// shipperByName returns the shipper named name.
func shipperByName(name string) (shipperInfo, error) {
	for _, s := range shippers {
		if s.name == name {
			return s, nil
		}
	}
	names := make([]string, len(shippers))
	for i, s := range shippers {
		names[i] = s.name
	}
	return shipperInfo{}, fmt.Errorf("unknown shipper %q (want one of %s)", name, strings.Join(names, ", "))
}

// benchIKey is the instrumentation key of every run (not a real resource).
const benchIKey = "00000000-0000-0000-0000-000000000000"

// connString is the connection string pointing at a loopback endpoint.
func connString(endpoint string) string {
	return "InstrumentationKey=" + benchIKey + ";IngestionEndpoint=" + endpoint
}

// pipelineEnv is what a shipper is built with.
type pipelineEnv struct {
	endpoint string // base URL of the loopback endpoint
	dir      string // the shipper's storage directory (spool, file_storage)
	logger   *slog.Logger
}

// pipeline is a shipper built behind the SDK.
type pipeline struct {
	exp sdktrace.SpanExporter
	// before is a span processor placed before the batcher (aispool's
	// OperationNameProcessor), or nil.
	before sdktrace.SpanProcessor
	// flush, if not nil, pushes what the shipper buffers in memory
	// towards the wire once the SDK has exported everything
	// (ApplicationInsights-Go batches for up to 10 s otherwise).
	flush func()
	// figures, if not nil, reads the shipper's own counters (aispool's
	// spool and sender) for the report.
	figures func() *spoolFigures
}

// buildPipeline builds the named shipper.
func buildPipeline(ctx context.Context, name string, env pipelineEnv) (*pipeline, error) {
	switch name {
	case shipSDK:
		return &pipeline{exp: discardExporter{}}, nil
	case shipAispool:
		return buildAispool(ctx, env)
	case shipAIGo:
		return buildAIGo(env), nil
	case shipCollFile:
		return buildCollector(ctx, env, queueFile)
	case shipCollMemory:
		return buildCollector(ctx, env, queueMemory)
	case shipCollNone:
		return buildCollector(ctx, env, queueNone)
	}
	_, err := shipperByName(name)
	return nil, err
}

// discardExporter is the SDK baseline's exporter: it drops everything.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// buildAispool is aispool's exporter as the README sets it up: a spool
// directory, the in-process sender with its defaults, the
// OperationNameProcessor before the batcher.
func buildAispool(ctx context.Context, env pipelineEnv) (*pipeline, error) {
	exp, err := exporter.NewTraceExporter(ctx,
		exporter.WithConnectionString(connString(env.endpoint)),
		exporter.WithSpoolDir(env.dir),
		exporter.WithLogger(env.logger))
	if err != nil {
		return nil, err
	}
	figures := func() *spoolFigures {
		st := exp.Spool().Stats()
		return &spoolFigures{Appended: st.Appended, Commits: st.Commits, CommitSizes: st.CommitSizes[:], Batches: exp.Sender().Stats().Batches}
	}
	return &pipeline{exp: exp, before: exporter.NewOperationNameProcessor(), figures: figures}, nil
}
