package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/connstring"
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
	log      *slog.Logger
	conn     *connstring.ConnectionString
	sink     *sink // spool and in-process sender
	ownsSink bool  // false with WithPipeline

	mu       sync.Mutex // serialises conversion (the converter reuses scratch space)
	conv     *envelope.Converter
	buf      envelope.Buffer
	recs     [][]byte
	shutdown bool

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

var _ sdktrace.SpanExporter = (*TraceExporter)(nil)

// NewTraceExporter returns an exporter writing to the spool. The connection
// string comes from WithConnectionString, else from
// APPLICATIONINSIGHTS_CONNECTION_STRING; a missing or invalid one is an
// error naming the bad part (never echoing the string).
func NewTraceExporter(ctx context.Context, opts ...Option) (*TraceExporter, error) {
	cfg, err := newConfig(opts, "")
	if err != nil {
		return nil, err
	}
	conv, conn, err := newConverter(&cfg)
	if err != nil {
		return nil, err
	}
	e := &TraceExporter{log: cfg.logger, conn: conn, conv: conv, closed: make(chan struct{})}
	if e.sink, e.ownsSink, err = sinkFor(ctx, &cfg, conn); err != nil {
		return nil, err
	}
	e.log.Debug("trace exporter ready", "spool", e.sink.sp.Dir(), "ikey", conn.RedactedKey())
	return e, nil
}

// Spool returns the spool the exporter writes to.
func (e *TraceExporter) Spool() *spool.Spool { return e.sink.sp }

// Sender returns the in-process sender draining the spool, or nil with
// WithoutSender. Its Stats feed the metrics package; its Flush waits until
// what is queued has been delivered.
func (e *TraceExporter) Sender() *sender.Sender { return e.sink.snd }

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
	n, skipped := e.conv.AppendSpans(&e.buf, spans)
	if skipped > 0 {
		e.log.Warn("spans skipped: they could not be converted", "skipped", skipped)
	}
	if n == 0 {
		return nil
	}
	e.recs = e.buf.Records(e.recs[:0])
	err := e.sink.sp.Append(ctx, e.recs...)
	clear(e.recs) // do not keep the records alive between calls
	if err != nil {
		return fmt.Errorf("exporter: %d envelopes not stored: %w", n, err)
	}
	return nil
}

// ForceFlush returns once everything handed to ExportSpans is durable.
// ExportSpans only returns after its envelopes are fsynced, so there is
// nothing to wait for beyond an export in progress.
func (e *TraceExporter) ForceFlush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.mu.Lock() // waits for an export in progress
		defer e.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops the exporter: later ExportSpans calls return ErrShutdown.
// The in-process sender finishes its requests in flight while ctx allows
// (what is not delivered stays in the spool for the next run or the
// daemon), and the spool is closed if the exporter opened it; a Pipeline
// is left open. Shutdown is idempotent and returns ctx.Err() if ctx ends
// first.
func (e *TraceExporter) Shutdown(ctx context.Context) error {
	e.closeOnce.Do(func() {
		go func() {
			e.mu.Lock()
			e.shutdown = true
			e.mu.Unlock()
			if e.ownsSink {
				e.sink.startClose(ctx)
				<-e.sink.closed
				e.closeErr = e.sink.closeErr
			}
			close(e.closed)
		}()
	})
	select {
	case <-e.closed:
		return e.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reports the conversion counters.
func (e *TraceExporter) Stats() envelope.Stats { return e.conv.Stats() }
