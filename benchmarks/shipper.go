package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/exporter"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// The shipper role: the process under measurement. It runs one scenario
// (the SDK baseline, produce, ship, e2e or backlog) and reports its figures
// to the parent as one line "RESULT <json>".

// childResult is what a shipper run reports to the parent, as one line
// "RESULT <json>" on its standard output.
type childResult struct {
	Scenario  string  `json:"scenario"`
	Workload  string  `json:"workload"`
	Spans     int     `json:"spans"`     // spans generated
	Envelopes int64   `json:"envelopes"` // envelopes appended (producing) or sent (ship)
	Seconds   float64 `json:"seconds"`   // wall time of the measured phase
	// PeakRSSKiB is the process's own peak RSS (VmHWM) at the end of the
	// run; for backlog, the larger of the two phases'.
	PeakRSSKiB int64 `json:"peakRSSKiB"`
	// RSSAnonKiB and RSSFileKiB are the peaks of resident anonymous
	// memory (heap, stacks) and resident file-backed memory (bbolt's mmap),
	// sampled every 20 ms.
	RSSAnonKiB int64 `json:"rssAnonKiB"`
	RSSFileKiB int64 `json:"rssFileKiB"`

	Exports     int     `json:"exports"` // ExportSpans calls
	ExportP50Ms float64 `json:"exportP50Ms"`
	ExportP99Ms float64 `json:"exportP99Ms"`
	ExportMaxMs float64 `json:"exportMaxMs"`

	Sent              uint64            `json:"sent"`
	Retried           uint64            `json:"retried"`
	Requests          map[int]uint64    `json:"requests,omitempty"`
	BytesSent         uint64            `json:"bytesSent"`
	BytesUncompressed uint64            `json:"bytesUncompressed"`
	Dropped           map[string]uint64 `json:"dropped,omitempty"`

	// Backlog only: the two phases.
	SpoolSeconds float64 `json:"spoolSeconds"` // producing the backlog (endpoint down)
	WaitSeconds  float64 `json:"waitSeconds"`  // endpoint up → first accepted batch (back-off)
	DrainSeconds float64 `json:"drainSeconds"` // first accepted batch → all delivered
	SpoolCPU     float64 `json:"spoolCPU"`     // process CPU seconds of each phase
	DrainCPU     float64 `json:"drainCPU"`
	SpoolHWMKiB  int64   `json:"spoolHWMKiB"` // peak RSS of each phase (VmHWM, reset between)
	DrainHWMKiB  int64   `json:"drainHWMKiB"`
	DrainAnonKiB int64   `json:"drainAnonKiB"` // sampled peaks of the drain phase
	DrainFileKiB int64   `json:"drainFileKiB"`
	DiskSpooled  int64   `json:"diskSpooled"` // spool bytes on disk when the backlog is complete
	DiskDrained  int64   `json:"diskDrained"` // and once drained, before Shutdown

	// Ship only: the segment files mapped, and their resident size,
	// once the first batch is acknowledged (every sealed segment claimed).
	SegMappings int   `json:"segMappings"`
	SegRSSKiB   int64 `json:"segRSSKiB"`
	FileRSSKiB  int64 `json:"fileRSSKiB"` // all file-backed RSS at that moment
}

// timedExporter records the wall time of each ExportSpans call.
type timedExporter struct {
	sdktrace.SpanExporter
	mu  sync.Mutex
	lat []time.Duration
}

func (t *timedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	t0 := time.Now()
	err := t.SpanExporter.ExportSpans(ctx, spans)
	d := time.Since(t0)
	t.mu.Lock()
	t.lat = append(t.lat, d)
	t.mu.Unlock()
	return err
}

// fill writes the latency figures into r.
func (t *timedExporter) fill(r *childResult) {
	t.mu.Lock()
	lat := slices.Clone(t.lat)
	t.mu.Unlock()
	slices.Sort(lat)
	r.Exports = len(lat)
	r.ExportP50Ms = ms(percentile(lat, 0.50))
	r.ExportP99Ms = ms(percentile(lat, 0.99))
	if len(lat) > 0 {
		r.ExportMaxMs = ms(lat[len(lat)-1])
	}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// discardExporter is the SDK baseline's exporter: it drops everything.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// newProvider is the SDK setup of every producing run: a
// BatchSpanProcessor with WithBlocking (no span is dropped), preceded by
// aispool's OperationNameProcessor unless this is the SDK baseline.
func newProvider(exp sdktrace.SpanExporter, opName bool, batch int) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(benchResource()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	}
	if opName {
		opts = append(opts, sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()))
	}
	opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBlocking(), sdktrace.WithMaxExportBatchSize(batch), sdktrace.WithMaxQueueSize(max(2048, 2*batch))))
	return sdktrace.NewTracerProvider(opts...)
}

// shipperMain runs one scenario and prints its result.
func shipperMain(ctx context.Context, f childFlags) (err error) {
	if err := checkWorkload(f.workload); err != nil {
		return err
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := pf.Close(); err == nil {
				err = cerr
			}
		}()
	}
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	mon := startMemMonitor(20 * time.Millisecond)
	defer mon.close()
	var r *childResult
	switch f.scenario {
	case scenSDK:
		r, err = runSDK(ctx, f)
	case scenProduce:
		r, err = runProduce(ctx, f, logger)
	case scenShip:
		r, err = runShip(ctx, f, logger)
	case scenE2E:
		r, err = runE2E(ctx, f, logger)
	case scenBacklog:
		r, err = runBacklog(ctx, f, logger, mon)
	default:
		err = fmt.Errorf("unknown scenario %q", f.scenario)
	}
	if err != nil {
		return err
	}
	r.PeakRSSKiB = max(benchkit.ReadHWM(), r.SpoolHWMKiB)
	anon, file := mon.peaks(false)
	r.RSSAnonKiB, r.RSSFileKiB = max(r.RSSAnonKiB, anon), max(r.RSSFileKiB, file)
	if f.memProfile != "" {
		if err := writeAllocs(f.memProfile); err != nil {
			return err
		}
	}
	r.Scenario, r.Workload = f.scenario, f.workload
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Printf("RESULT %s\n", out)
	return nil
}

// writeAllocs writes the allocation profile (everything allocated since
// the start, sampled) after a GC so that it is up to date.
func writeAllocs(path string) error {
	runtime.GC()
	mf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(mf, 0); err != nil {
		mf.Close()
		return err
	}
	return mf.Close()
}

// produce makes the spans and waits until the exporter has them all: with
// aispool, until they are fsynced in the spool.
func produce(ctx context.Context, tp *sdktrace.TracerProvider, f childFlags) (spans int, d time.Duration, err error) {
	units, nspans, _ := plan(f.workload, f.spans)
	t0 := time.Now()
	if err := generate(ctx, tp, f.workload, units, f.producers, f.pad); err != nil {
		return 0, 0, err
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return 0, 0, fmt.Errorf("force flush: %w", err)
	}
	return nspans, time.Since(t0), nil
}

func runSDK(ctx context.Context, f childFlags) (*childResult, error) {
	te := &timedExporter{SpanExporter: discardExporter{}}
	tp := newProvider(te, false, f.batch)
	defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()
	n, d, err := produce(ctx, tp, f)
	if err != nil {
		return nil, err
	}
	r := &childResult{Spans: n, Seconds: d.Seconds()}
	te.fill(r)
	return r, nil
}

// mergeDrops adds the spool's, the sender's and the converter's drop
// counters to r, prefixed by their source.
func mergeDrops(r *childResult, sp *spool.Spool, snd *sender.Sender, exp *exporter.TraceExporter) {
	add := func(prefix, k string, v uint64) {
		if v == 0 {
			return
		}
		if r.Dropped == nil {
			r.Dropped = map[string]uint64{}
		}
		r.Dropped[prefix+k] += v
	}
	if sp != nil {
		for k, v := range sp.Stats().Dropped {
			add("spool:", k, v)
		}
	}
	if snd != nil {
		st := snd.Stats()
		for k, v := range st.Dropped {
			add("sender:", k, v)
		}
		r.Sent, r.Retried, r.Requests = st.Sent, st.Retried, st.Requests
		r.BytesSent, r.BytesUncompressed = st.BytesSent, st.BytesUncompressed
	}
	if exp != nil {
		for k, v := range exp.Stats().Skipped {
			add("convert:", k.String(), v)
		}
	}
}

func runProduce(ctx context.Context, f childFlags, logger *slog.Logger) (*childResult, error) {
	exp, err := exporter.NewTraceExporter(ctx, exporter.WithConnectionString(connString("http://127.0.0.1:9")),
		exporter.WithSpoolDir(f.spoolDir), exporter.WithoutSender(), exporter.WithLogger(logger),
		exporter.WithSpoolOptions(spool.Options{MaxBytes: 64 << 30}))
	if err != nil {
		return nil, err
	}
	te := &timedExporter{SpanExporter: exp}
	tp := newProvider(te, true, f.batch)
	n, d, err := produce(ctx, tp, f)
	if err != nil {
		_ = tp.Shutdown(context.WithoutCancel(ctx))
		return nil, err
	}
	r := &childResult{Spans: n, Seconds: d.Seconds(), Envelopes: int64(exp.Spool().Stats().Appended)}
	te.fill(r)
	mergeDrops(r, exp.Spool(), nil, exp)
	if err := tp.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("shutdown: %w", err)
	}
	return r, nil
}

func senderConfig(f childFlags, logger *slog.Logger) sender.Config {
	return sender.Config{
		BackoffInitial: 100 * time.Millisecond,
		BackoffMax:     f.backoffMax,
		Logger:         logger,
	}
}

func runShip(ctx context.Context, f childFlags, logger *slog.Logger) (*childResult, error) {
	t0 := time.Now()
	sp, err := spool.Open(ctx, f.spoolDir, &spool.Options{Logger: logger, MaxBytes: 64 << 30})
	if err != nil {
		return nil, err
	}
	defer sp.Close()
	cfg := senderConfig(f, logger)
	cfg.Queue = sender.SpoolQueue(sp)
	cfg.ConnectionString = connString(f.endpoint)
	snd, err := sender.New(cfg)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- snd.Run(ctx) }()
	// Once the first batch is acknowledged, the sender's first Lease has
	// claimed the sealed segments: see what their mappings hold.
	type snapshot struct {
		maps       int
		seg, files int64
	}
	snap := make(chan snapshot, 1)
	stop := make(chan struct{})
	dir, _ := filepath.Abs(f.spoolDir) // smaps shows resolved absolute paths
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	onFirstSent(snd, stop, func(time.Time) {
		n, kb := mappedUnder(dir)
		snap <- snapshot{n, kb, benchkit.ReadStatusKiB("RssFile")[0]}
	})
	err = snd.Flush(ctx)
	close(stop)
	if err != nil {
		return nil, err
	}
	d := time.Since(t0)
	r := &childResult{Seconds: d.Seconds()}
	select {
	case s := <-snap:
		r.SegMappings, r.SegRSSKiB, r.FileRSSKiB = s.maps, s.seg, s.files
	default:
	}
	mergeDrops(r, sp, snd, nil)
	r.Envelopes = int64(r.Sent)
	if err := snd.Close(ctx); err != nil {
		return nil, err
	}
	if err := <-done; err != nil && !errors.Is(err, sender.ErrClosed) {
		return nil, err
	}
	return r, nil
}

// newShippingExporter is the exporter of the e2e and backlog scenarios:
// spool plus in-process sender.
func newShippingExporter(ctx context.Context, f childFlags, logger *slog.Logger) (*exporter.TraceExporter, error) {
	return exporter.NewTraceExporter(ctx, exporter.WithConnectionString(connString(f.endpoint)),
		exporter.WithSpoolDir(f.spoolDir), exporter.WithLogger(logger),
		exporter.WithSpoolOptions(spool.Options{MaxBytes: 64 << 30}),
		exporter.WithSenderConfig(senderConfig(f, logger)))
}

// newShippingProvider is the SDK setup of the e2e and backlog scenarios:
// the shipping exporter, timed, behind a provider the caller shuts down.
func newShippingProvider(ctx context.Context, f childFlags, logger *slog.Logger) (*exporter.TraceExporter, *timedExporter, *sdktrace.TracerProvider, error) {
	exp, err := newShippingExporter(ctx, f, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	te := &timedExporter{SpanExporter: exp}
	return exp, te, newProvider(te, true, f.batch), nil
}

func runE2E(ctx context.Context, f childFlags, logger *slog.Logger) (*childResult, error) {
	exp, te, tp, err := newShippingProvider(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()
	t0 := time.Now()
	n, _, err := produce(ctx, tp, f)
	if err != nil {
		return nil, err
	}
	if err := exp.Sender().Flush(ctx); err != nil {
		return nil, err
	}
	d := time.Since(t0)
	r := &childResult{Spans: n, Seconds: d.Seconds(), Envelopes: int64(exp.Spool().Stats().Appended)}
	te.fill(r)
	mergeDrops(r, exp.Spool(), exp.Sender(), exp)
	if err := tp.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("shutdown: %w", err)
	}
	return r, nil
}

func runBacklog(ctx context.Context, f childFlags, logger *slog.Logger, mon *memMonitor) (*childResult, error) {
	exp, te, tp, err := newShippingProvider(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()

	// Phase 1: the endpoint is down; everything piles up in the spool.
	cpu0 := benchkit.SelfCPU()
	n, spoolD, err := produce(ctx, tp, f)
	if err != nil {
		return nil, err
	}
	r := &childResult{Spans: n, SpoolSeconds: spoolD.Seconds(), Envelopes: int64(exp.Spool().Stats().Appended)}
	te.fill(r)
	cpu1 := benchkit.SelfCPU()
	r.SpoolCPU = (cpu1 - cpu0).Seconds()
	r.SpoolHWMKiB = benchkit.ReadHWM()
	r.DiskSpooled = benchkit.DirBytes(f.spoolDir)
	r.RSSAnonKiB, r.RSSFileKiB = mon.peaks(true)
	benchkit.ResetHWM()

	// Phase 2: the endpoint comes back; the sender drains the backlog.
	if err := benchkit.NewEndpointClient(f.endpoint).SetDown(ctx, false); err != nil {
		return nil, err
	}
	tUp := time.Now()
	snd := exp.Sender()
	firstSent := make(chan time.Time, 1)
	stop := make(chan struct{})
	onFirstSent(snd, stop, func(now time.Time) { firstSent <- now })
	err = snd.Flush(ctx)
	close(stop)
	if err != nil {
		return nil, err
	}
	tDone := time.Now()
	tFirst := tUp
	select {
	case tFirst = <-firstSent:
	default:
	}
	r.WaitSeconds = tFirst.Sub(tUp).Seconds()
	r.DrainSeconds = tDone.Sub(tFirst).Seconds()
	r.Seconds = tDone.Sub(tUp).Seconds()
	r.DrainCPU = (benchkit.SelfCPU() - cpu1).Seconds()
	r.DrainHWMKiB = benchkit.ReadHWM()
	r.DrainAnonKiB, r.DrainFileKiB = mon.peaks(false)
	r.DiskDrained = benchkit.DirBytes(f.spoolDir)
	mergeDrops(r, exp.Spool(), snd, exp)
	if err := tp.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("shutdown: %w", err)
	}
	return r, nil
}

// onFirstSent calls f once, from a goroutine of its own, at the first poll
// (every 2 ms) that finds snd has had envelopes accepted, with that poll's
// time; it stops without calling f when stop is closed first. The callers
// close stop in every case.
func onFirstSent(snd *sender.Sender, stop <-chan struct{}, f func(time.Time)) {
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				if snd.Stats().Sent > 0 {
					f(now)
					return
				}
			}
		}
	}()
}
