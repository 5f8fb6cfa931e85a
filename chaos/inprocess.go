package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/exporter"
	"github.com/aispool/aispool/internal/clock"
	"github.com/aispool/aispool/metrics"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// inProcessShipper runs the OpenTelemetry SDK, the exporter, the spool and
// the sender in this process, and serves their metrics on loopback so that
// the verifier reads them the way Prometheus would.
type inProcessShipper struct {
	*run
	sp      atomic.Pointer[spool.Spool]
	snd     atomic.Pointer[sender.Sender]
	refused atomic.Int64
	residue atomic.Int64 // records left once the spool is closed; -1 before
}

func (s *inProcessShipper) state() shipperState {
	now := time.Now()
	sp, snd := s.sp.Load(), s.snd.Load()
	if sp == nil {
		return shipperState{At: now, Queued: s.residue.Load()}
	}
	st := sp.Stats()
	out := shipperState{At: now, Queued: st.Records, Oldest: s.realTime(st.Oldest), Delayed: st.Delayed, NextDue: s.realTime(st.NextDue)}
	if snd != nil {
		out.ThrottledUntil = s.realTime(snd.Stats().ThrottledUntil)
	}
	return out
}

// senderConfig is the shipper's sender configuration: the scenario's
// bounds and short schedules, so that a profile shows its effects in
// seconds.
func (r *run) senderConfig() sender.Config {
	return sender.Config{
		Clock:              r.cfg.Clock,
		MaxInFlight:        r.cfg.MaxInFlight,
		MaxBatchItems:      r.cfg.BatchItems,
		RequestTimeout:     r.cfg.RequestTimeout,
		TransportRetryWait: 20 * time.Millisecond,
		BackoffInitial:     r.cfg.BackoffInitial,
		BackoffMax:         r.cfg.BackoffMax,
		PollInterval:       20 * time.Millisecond,
	}
}

func (s *inProcessShipper) ship(ctx context.Context) (*shipOutcome, error) {
	exp, err := exporter.NewTraceExporter(ctx,
		exporter.WithConnectionString(s.ep.ConnectionString("")),
		exporter.WithSpoolDir(s.spoolDir),
		exporter.WithSenderConfig(s.senderConfig()),
		exporter.WithSpoolOptions(spoolOptions(s.cfg.Clock)),
		exporter.WithLogger(s.cfg.Logger),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: start the exporter: %w", ErrScenario, err)
	}
	sp, snd := exp.Spool(), exp.Sender()
	s.residue.Store(-1)
	s.sp.Store(sp)
	s.snd.Store(snd)

	// Real Prometheus exposition on loopback.
	reg := metrics.NewRegistry()
	if err := metrics.Register(reg, metrics.Sources{Spool: sp.Stats, Sender: snd.Stats}); err != nil {
		_ = exp.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%w: metrics: %w", ErrScenario, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = exp.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%w: metrics listener: %w", ErrScenario, err)
	}
	srv := &http.Server{Handler: metrics.Handler(reg), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	metricsURL := "http://" + ln.Addr().String() + "/metrics"

	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
		sdktrace.WithBatcher(ackingExporter{SpanExporter: exp, ack: s.led.ack, refused: &s.refused}, sdktrace.WithBlocking()),
	)
	var runErr error
	tr := tp.Tracer("aispool/chaos")
	for i := range s.cfg.Envelopes {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("chaos: producing spans: %w", ctx.Err())
			break
		}
		s.pace(ctx, i)
		_, span := tr.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", "GET"),
				attribute.String("http.route", "/orders/{id}"),
				attribute.String("url.path", "/orders/"+strconv.Itoa(i)),
				attribute.String("url.scheme", "http"),
				attribute.String("server.address", "shop.local"),
				attribute.Int("http.response.status_code", 200),
			))
		if s.cfg.Profile.Poison.Marked(i, s.cfg.Envelopes) {
			span.SetAttributes(attribute.Bool(fakeingest.PoisonProperty, true))
		}
		s.led.offer(span.SpanContext().SpanID().String())
		span.End()
	}
	if err := tp.ForceFlush(ctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("chaos: flush spans into the spool: %w", err)
	}
	out := &shipOutcome{lives: 1, countersLive: 1}
	if runErr == nil {
		if err := snd.Flush(ctx); err != nil {
			runErr = fmt.Errorf("chaos: the sender did not drain the spool: %w", err)
		} else {
			out.drained = true
			s.sampleOnce(s) // the moment it drained, before the shutdown
		}
	}
	c, err := scrape(context.WithoutCancel(ctx), metricsURL)
	if err != nil {
		runErr = errors.Join(runErr, err)
	}
	out.counters = c.Counters
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.sp.Store(nil)
	s.snd.Store(nil)
	if err := tp.Shutdown(shutdownCtx); err != nil {
		out.exitErrors = append(out.exitErrors, "shutdown: "+err.Error())
	}
	s.inspect(ctx, out)
	s.residue.Store(out.residue)
	s.res.Refused = int(s.refused.Load())
	return out, runErr
}

// inspect reads the spool directory at the end: records left, lifetime drop
// counters, quarantined files.
func (r *run) inspect(ctx context.Context, out *shipOutcome) {
	rep, err := spool.Inspect(context.WithoutCancel(ctx), r.spoolDir, 0)
	if err != nil {
		out.exitErrors = append(out.exitErrors, "inspect: "+err.Error())
		out.residue = -1
		return
	}
	out.residue, out.residueExact = rep.Records, rep.RecordsExact
	out.spoolDrops = rep.Dropped
	out.quarantined = len(rep.Quarantine)
}

// ackingExporter records the ids of the spans whose ExportSpans returned
// nil: those the exporter acknowledged as durable.
type ackingExporter struct {
	sdktrace.SpanExporter
	ack     func(ids ...string)
	refused *atomic.Int64
}

func (a ackingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := a.SpanExporter.ExportSpans(ctx, spans); err != nil {
		a.refused.Add(1)
		return err
	}
	ids := make([]string, len(spans))
	for i, sp := range spans {
		ids[i] = sp.SpanContext().SpanID().String()
	}
	a.ack(ids...)
	return nil
}

// spoolOptions returns the in-process spool's options: its clock.
func spoolOptions(clk clock.Clock) spool.Options {
	var o spool.Options
	if clk != nil {
		o.Clock = clk
	}
	return o
}
