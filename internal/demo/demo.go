package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/exporter"
	"github.com/aispool/aispool/sender"
)

// ErrLost is returned when some span was neither delivered nor dropped for
// a counted reason.
var ErrLost = errors.New("demo: spans lost")

// Config configures a demo run.
type Config struct {
	Spans   int    // how many request spans to generate (default 10,000)
	Profile string // chaos profile of the embedded endpoint (default "healthy")
	Seed    uint64 // the endpoint's fault seed (0: random, reported)
	// SpoolDir is where the spool lives; empty means a temporary directory
	// removed at the end.
	SpoolDir string
	Timeout  time.Duration // bound on the whole run (default 2 min)
	Logger   *slog.Logger  // default: discards
}

// Result is what the demo measured.
type Result struct {
	Profile   string
	Seed      uint64
	Generated int               // spans created
	Spooled   uint64            // envelopes appended durably
	Delivered int               // distinct spans the endpoint accepted
	Retried   uint64            // envelopes kept for another attempt (per attempt)
	Dropped   map[string]uint64 // by reason (permanent refusals the endpoint gave)
	Lost      []string          // span ids neither delivered nor dropped
	Dups      int               // spans delivered more than once (after lost answers)
	Requests  map[string]int    // endpoint's requests by outcome
	Elapsed   time.Duration
	// Paced is how long the spans were spread over so that the profile's
	// fault windows happen during the run (0: as fast as possible).
	Paced time.Duration
}

// faultHorizon is when the first occurrence of a profile's last fault
// window ends, plus a margin: spans offered until then meet every kind of
// window the profile has. 0 for a profile without windows.
func faultHorizon(p *fakeingest.Profile) time.Duration {
	var end time.Duration
	for _, w := range p.Windows {
		end = max(end, w.Start.D()+w.Duration.D())
	}
	if end == 0 {
		return 0
	}
	return end + 500*time.Millisecond
}

// Run generates the spans and waits until the sender has delivered (or
// dropped, counted) all of them.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Spans <= 0 {
		cfg.Spans = 10_000
	}
	if cfg.Profile == "" {
		cfg.Profile = "healthy"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	prof, err := fakeingest.ProfileByName(cfg.Profile)
	if err != nil {
		return nil, err
	}
	if cfg.SpoolDir == "" {
		tmp, err := os.MkdirTemp("", "aispool-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cfg.SpoolDir = filepath.Join(tmp, "spool")
	}
	ep, err := fakeingest.New(fakeingest.Config{Profile: prof, Seed: cfg.Seed, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	if err := ep.Start(); err != nil {
		return nil, err
	}
	defer ep.Close()

	start := time.Now()
	exp, err := exporter.NewTraceExporter(ctx,
		exporter.WithConnectionString(ep.ConnectionString("")),
		exporter.WithSpoolDir(cfg.SpoolDir),
		exporter.WithLogger(cfg.Logger),
		exporter.WithSenderConfig(sender.Config{
			// Short schedules so that a fault profile shows its effect in
			// seconds, not minutes.
			BackoffInitial: 50 * time.Millisecond,
			BackoffMax:     2 * time.Second,
			RequestTimeout: 2 * time.Second,
			PollInterval:   50 * time.Millisecond,
			// Many small requests, so that a fault profile has many
			// chances to show.
			MaxBatchItems: 200,
		}),
	)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
		sdktrace.WithBatcher(exp, sdktrace.WithBlocking()),
	)
	tr := tp.Tracer("aispool/demo")
	ids := make([]string, 0, cfg.Spans)
	// Outages and throttling windows come at set times after the
	// endpoint starts: spread the spans over them, or the run would end
	// before the first one and show no fault at all.
	paced := faultHorizon(prof)
	for i := range cfg.Spans {
		if paced > 0 && i%50 == 0 {
			due := start.Add(time.Duration(float64(paced) * float64(i) / float64(cfg.Spans)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		_, span := tr.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", "GET"),
				attribute.String("http.route", "/orders/{id}"),
				attribute.String("url.path", fmt.Sprintf("/orders/%d", i)),
				attribute.String("url.scheme", "http"),
				attribute.String("server.address", "shop.local"),
				attribute.Int("http.response.status_code", 200),
			))
		ids = append(ids, span.SpanContext().SpanID().String())
		span.End()
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return nil, fmt.Errorf("demo: flush spans into the spool: %w", err)
	}
	flushErr := exp.Sender().Flush(ctx)
	sst, spst := exp.Sender().Stats(), exp.Spool().Stats()
	if err := tp.Shutdown(context.WithoutCancel(ctx)); err != nil {
		cfg.Logger.Warn("shutdown", "err", err)
	}
	rep := ep.Report()
	res := &Result{
		Profile: prof.Name, Seed: rep.Seed, Generated: cfg.Spans, Spooled: spst.Appended,
		Retried: sst.Retried, Dropped: maps.Clone(spst.Dropped), Dups: rep.Duplicates,
		Requests: rep.ByOutcome, Elapsed: time.Since(start), Paced: paced,
	}
	for _, id := range ids {
		if rep.IDs[id].Accepted > 0 {
			res.Delivered++
		}
	}
	res.Lost = rep.Unaccounted(ids)
	if flushErr != nil {
		return res, fmt.Errorf("demo: delivery did not finish: %w", flushErr)
	}
	if len(res.Lost) > 0 {
		return res, fmt.Errorf("%w: %d (first %s)", ErrLost, len(res.Lost), res.Lost[0])
	}
	return res, nil
}

// DroppedTotal sums Dropped.
func (r *Result) DroppedTotal() uint64 {
	var n uint64
	for _, v := range r.Dropped {
		n += v
	}
	return n
}
