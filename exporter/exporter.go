package exporter

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// ErrShutdown is returned by ExportSpans after Shutdown.
var ErrShutdown = errors.New("exporter: shut down")

// TraceExporter converts OpenTelemetry spans into Application Insights
// envelopes and appends them to a durable spool. ExportSpans returning nil
// means the envelopes are on disk (committed and fsynced): they will be
// delivered by a sender draining the spool, in this process or another.
type TraceExporter struct {
	*core // spool, sender, converter, shutdown state
}

var _ sdktrace.SpanExporter = (*TraceExporter)(nil)

// NewTraceExporter returns an exporter writing to the spool. The connection
// string comes from WithConnectionString, else from
// APPLICATIONINSIGHTS_CONNECTION_STRING; a missing or invalid one is an
// error naming the bad part (never echoing the string).
func NewTraceExporter(ctx context.Context, opts ...Option) (*TraceExporter, error) {
	c, err := newCore(ctx, "", opts)
	if err != nil {
		return nil, err
	}
	return &TraceExporter{core: c}, nil
}

// Spool returns the spool the exporter writes to.
func (e *TraceExporter) Spool() *spool.Spool { return e.spool() }

// Sender returns the in-process sender draining the spool, or nil with
// WithoutSender. Its Stats feed the metrics package; its Flush waits until
// what is queued has been delivered.
func (e *TraceExporter) Sender() *sender.Sender { return e.sender() }

// ExportSpans converts spans to envelopes and appends them to the spool in
// one durable step. A span that cannot be converted is counted (see Stats)
// and skipped; it never fails the rest of the batch. The exporter keeps no
// reference to spans after it returns.
func (e *TraceExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return ErrShutdown
	}
	if len(spans) == 0 {
		return nil
	}
	e.buf.Reset()
	if _, skipped := e.conv.AppendSpans(&e.buf, spans); skipped > 0 {
		e.log.Warn("spans skipped: they could not be converted", "skipped", skipped)
	}
	return e.store(ctx)
}

// ForceFlush returns once everything handed to ExportSpans is durable.
// ExportSpans only returns after its envelopes are fsynced, so there is
// nothing to wait for beyond an export in progress.
func (e *TraceExporter) ForceFlush(ctx context.Context) error { return e.forceFlush(ctx) }

// Shutdown stops the exporter: later ExportSpans calls return ErrShutdown.
// The in-process sender finishes its requests in flight while ctx allows
// (what is not delivered stays in the spool for the next run or the
// daemon), and the spool is closed if the exporter opened it; a Pipeline
// is left open. Shutdown is idempotent and returns ctx.Err() if ctx ends
// first.
func (e *TraceExporter) Shutdown(ctx context.Context) error { return e.shutdownCore(ctx) }

// Stats reports the conversion counters.
func (e *TraceExporter) Stats() envelope.Stats { return e.conv.Stats() }
