package exporter

import (
	"context"
	"fmt"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// LogExporter converts OpenTelemetry log records into Application Insights
// envelopes (MessageData, ExceptionData for records with exception.type or
// exception.message, EventData for records with
// microsoft.custom_event.name) and appends them to a durable spool, with
// the durability contract of TraceExporter: Export returning nil means the
// envelopes are committed and fsynced.
//
// Use it with the SDK's batch processor, after the OperationNameProcessor
// so that records emitted inside a span carry the operation name of their
// request:
//
//	lp := sdklog.NewLoggerProvider(
//		sdklog.WithProcessor(exporter.NewOperationNameProcessor()),
//		sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)),
//	)
type LogExporter struct {
	*core
}

var _ sdklog.Exporter = (*LogExporter)(nil)

// NewLogExporter returns a log exporter. It takes the options of
// NewTraceExporter, with the same meaning and the same environment
// variables; alone, its default spool directory is
// "<user cache dir>/aispool/<service>-logs". With WithPipeline it shares
// the pipeline's spool and sender.
func NewLogExporter(ctx context.Context, opts ...Option) (*LogExporter, error) {
	c, err := newCore(ctx, "logs", opts)
	if err != nil {
		return nil, err
	}
	return &LogExporter{core: c}, nil
}

// Export converts records to envelopes and appends them to the spool in
// one durable step: nil means fsynced. A record that cannot be converted
// is counted (see Stats) and skipped; it never fails the rest of the
// batch. After Shutdown it returns an error wrapping ErrShutdown and
// sdklog.ErrExporterShutdown. It keeps no reference to records.
func (e *LogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return fmt.Errorf("%w: %w", ErrShutdown, sdklog.ErrExporterShutdown)
	}
	if len(records) == 0 {
		return nil
	}
	e.buf.Reset()
	if _, skipped := e.conv.AppendLogRecords(&e.buf, records); skipped > 0 {
		e.log.Warn("log records skipped: they could not be converted", "skipped", skipped)
	}
	return e.store(ctx)
}

// ForceFlush returns once everything handed to Export is durable (Export
// only returns after an fsync, so it only waits for an export in progress).
func (e *LogExporter) ForceFlush(ctx context.Context) error { return e.forceFlush(ctx) }

// Shutdown stops the exporter as TraceExporter.Shutdown does: later
// exports fail; the sender and the spool are closed if the exporter opened
// them (a Pipeline is left open). It is idempotent and returns ctx.Err()
// if ctx ends first.
func (e *LogExporter) Shutdown(ctx context.Context) error { return e.shutdownCore(ctx) }

// Stats reports the conversion counters (Converted counts log records).
func (e *LogExporter) Stats() envelope.Stats { return e.conv.Stats() }

// Spool returns the spool the exporter writes to.
func (e *LogExporter) Spool() *spool.Spool { return e.spool() }

// Sender returns the in-process sender draining the spool, or nil with
// WithoutSender.
func (e *LogExporter) Sender() *sender.Sender { return e.sender() }
