package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// The child processes. The parent re-executes its own binary with
// "-role=<role>" as the first argument: the endpoint, a shipper's
// throughput run (the process whose rusage the parent reads), or one phase
// of the durability probe. The endpoint exits when its standard input
// closes, so that no child outlives the parent; every child dies with the
// parent (Pdeathsig) where the system offers it.

// Roles.
const (
	roleEndpoint = "endpoint"
	roleShipper  = "shipper"
	roleProbe    = "probe"
	roleLoad     = "load"
)

// Phases of the durability probe.
const (
	phaseFill    = "fill"    // endpoint down: hand spans over, then wait for the signal
	phaseRecover = "recover" // endpoint up: a new process on the same directory
)

// pollInterval is how often a child asks the endpoint for its count.
const pollInterval = 5 * time.Millisecond

// childFlags are the flags of every role.
type childFlags struct {
	role, shipper, shape, phase string
	spans, producers            int
	goroutines                  int
	batch, queue                int
	dir, endpoint               string
	down, verbose               bool
	wait, shutdown, timeout     time.Duration
}

// childMain runs the role args[0] names and returns the exit code.
func childMain(args []string) int {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	var f childFlags
	fs.StringVar(&f.role, "role", "", "endpoint, shipper, probe or load")
	fs.StringVar(&f.shipper, "shipper", "", "shipper and probe: which shipper")
	fs.StringVar(&f.shape, "shape", shapeUA101, "shipper and probe: span shape")
	fs.StringVar(&f.phase, "phase", "", "probe: fill or recover")
	fs.IntVar(&f.spans, "spans", 10000, "spans to make (recover: spans to wait for)")
	fs.IntVar(&f.producers, "producers", 2, "goroutines making spans")
	fs.IntVar(&f.goroutines, "goroutines", 1, "load: busy goroutines")
	fs.IntVar(&f.batch, "batch", 2048, "BatchSpanProcessor max export batch size")
	fs.IntVar(&f.queue, "queue", 4096, "BatchSpanProcessor max queue size")
	fs.StringVar(&f.dir, "dir", "", "the shipper's storage directory")
	fs.StringVar(&f.endpoint, "endpoint", "", "endpoint base URL")
	fs.BoolVar(&f.down, "down", false, "endpoint: start down (503)")
	fs.BoolVar(&f.verbose, "v", false, "log the shippers' warnings")
	fs.DurationVar(&f.wait, "wait", 10*time.Second, "recover: wait at most this long for the spans")
	fs.DurationVar(&f.shutdown, "shutdown", 5*time.Second, "bound of a clean shutdown")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var err error
	switch f.role {
	case roleEndpoint:
		err = endpointMain(ctx, f)
	case roleShipper:
		err = shipperMain(ctx, f)
	case roleProbe:
		err = probeMain(ctx, f)
	case roleLoad:
		err = loadMain(ctx, f, os.Stdin)
	default:
		err = fmt.Errorf("unknown role %q", f.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare %s %s %s: %v\n", f.role, f.shipper, f.phase, err)
		return 1
	}
	return 0
}

// childResult is what a shipper or probe child reports to the parent, as
// one line "RESULT <json>" on its standard output.
type childResult struct {
	Spans int `json:"spans"` // spans made (recover: 0)
	// Seconds: from the first span started until the endpoint had
	// counted every span (the baseline: until the SDK had exported them);
	// recover: until the endpoint had counted what was handed over, or
	// the wait ran out.
	Seconds float64 `json:"seconds"`
	// HandSeconds: from the first span started until the SDK had
	// handed every span to the shipper (ForceFlush returned).
	HandSeconds float64 `json:"handSeconds"`
	// ShutdownSeconds: the clean shutdown at the end.
	ShutdownSeconds float64 `json:"shutdownSeconds"`
	ShutdownErr     string  `json:"shutdownErr,omitempty"`
	// PeakRSSKiB is the process's own peak RSS (VmHWM) before it exits.
	PeakRSSKiB int64 `json:"peakRSSKiB"`
	// Items is what the endpoint had counted when the child stopped
	// waiting.
	Items int64 `json:"items"`
	// Spool is aispool's spool and sender at the end of a throughput run,
	// before the shutdown; nil for the other shippers.
	Spool *spoolFigures `json:"spool,omitempty"`
}

// spoolFigures are the counters of aispool's spool and sender that explain
// its CPU per span: how many group commits (one fsync each) stored the
// spans, their sizes, and how many batches the sender settled.
type spoolFigures struct {
	Appended uint64 `json:"appended"` // records stored
	Commits  uint64 `json:"commits"`  // group commits that stored them
	// CommitSizes counts the commits by records, in the buckets of
	// spool.Stats.CommitSizes (bucket i: at most 1<<i records).
	CommitSizes []uint64 `json:"commitSizes"`
	Batches     uint64   `json:"batches"` // batches the sender leased
}

// emit prints the result line.
func emit(r childResult) error {
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("RESULT %s\n", out)
	return err
}

// newChildPipeline builds the shipper named by f and the SDK in front of
// it.
func newChildPipeline(ctx context.Context, f childFlags) (*pipeline, *sdktrace.TracerProvider, error) {
	info, err := shipperByName(f.shipper)
	if err != nil {
		return nil, nil, err
	}
	if err := checkShape(f.shape); err != nil {
		return nil, nil, err
	}
	if info.endpoint && f.endpoint == "" {
		return nil, nil, errors.New("-endpoint is required")
	}
	level := slog.LevelError
	if f.role == roleProbe {
		level = slog.LevelError + 4 // errors while the endpoint is down are the probe's point
	}
	if f.verbose {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	p, err := buildPipeline(ctx, f.shipper, pipelineEnv{endpoint: f.endpoint, dir: f.dir, logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.shipper, err)
	}
	return p, newProvider(p.exp, sdkSettings{batch: f.batch, queue: f.queue}, p.before), nil
}

// handOver makes n spans and returns once the SDK has exported them all
// to the shipper (and the shipper was asked to send what it buffers).
func handOver(ctx context.Context, p *pipeline, tp *sdktrace.TracerProvider, f childFlags, n int) error {
	if err := generate(ctx, tp, f.shape, n, f.producers); err != nil {
		return err
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("force flush: %w", err)
	}
	if p.flush != nil {
		p.flush()
	}
	return nil
}

// shutdown shuts the SDK (and with it the shipper) down within f.shutdown
// and records how long it took.
func shutdown(ctx context.Context, tp *sdktrace.TracerProvider, f childFlags, r *childResult) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdown)
	defer cancel()
	t0 := time.Now()
	if err := tp.Shutdown(sctx); err != nil {
		r.ShutdownErr = err.Error()
	}
	r.ShutdownSeconds = time.Since(t0).Seconds()
}

// shipperMain is one throughput run: make f.spans spans, wait until the
// endpoint has counted them all, shut down cleanly, report.
func shipperMain(ctx context.Context, f childFlags) error {
	p, tp, err := newChildPipeline(ctx, f)
	if err != nil {
		return err
	}
	var r childResult
	t0 := time.Now()
	if err := handOver(ctx, p, tp, f, f.spans); err != nil {
		shutdown(ctx, tp, f, &r)
		return err
	}
	r.Spans = f.spans
	r.HandSeconds = time.Since(t0).Seconds()
	if f.endpoint != "" {
		dl, _ := ctx.Deadline()
		st, err := benchkit.NewEndpointClient(f.endpoint).WaitItems(ctx, int64(f.spans), pollInterval, dl)
		if err != nil {
			shutdown(ctx, tp, f, &r)
			return fmt.Errorf("waiting for the endpoint (it had counted %d of %d): %w", st.Items, f.spans, err)
		}
		r.Items = st.Items
	}
	r.Seconds = time.Since(t0).Seconds()
	if p.figures != nil {
		r.Spool = p.figures()
	}
	shutdown(ctx, tp, f, &r)
	r.PeakRSSKiB = benchkit.ReadHWM()
	return emit(r)
}

// probeMain is one phase of the durability probe.
//
// fill (the endpoint answers 503): make f.spans spans, print "HANDED <n>"
// once the SDK has handed them all to the shipper, then wait: the parent
// sends SIGKILL (the process dies) or SIGTERM (it shuts down cleanly within
// f.shutdown and reports).
//
// recover (the endpoint is healthy): build the same shipper on the same
// directory, make no span, wait until the endpoint has counted f.spans
// items or f.wait has passed, shut down cleanly and report the count.
func probeMain(ctx context.Context, f childFlags) error {
	// Catch SIGTERM before anything else, so that the parent's signal
	// always finds the handler.
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	p, tp, err := newChildPipeline(ctx, f)
	if err != nil {
		return err
	}
	var r childResult
	switch f.phase {
	case phaseFill:
		t0 := time.Now()
		if err := handOver(ctx, p, tp, f, f.spans); err != nil {
			shutdown(ctx, tp, f, &r)
			return err
		}
		r.Spans, r.HandSeconds = f.spans, time.Since(t0).Seconds()
		fmt.Printf("HANDED %d\n", f.spans)
		<-sigCtx.Done()
		if ctx.Err() != nil {
			shutdown(ctx, tp, f, &r)
			return fmt.Errorf("no signal came: %w", ctx.Err())
		}
		shutdown(ctx, tp, f, &r)
	case phaseRecover:
		t0 := time.Now()
		st, err := benchkit.NewEndpointClient(f.endpoint).WaitItems(ctx, int64(f.spans), pollInterval, t0.Add(f.wait))
		if err != nil {
			shutdown(ctx, tp, f, &r)
			return err
		}
		r.Items, r.Seconds = st.Items, time.Since(t0).Seconds()
		shutdown(ctx, tp, f, &r)
	default:
		shutdown(ctx, tp, f, &r)
		return fmt.Errorf("unknown probe phase %q", f.phase)
	}
	r.PeakRSSKiB = benchkit.ReadHWM()
	return emit(r)
}
