package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/exporter"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// The child processes. The parent re-executes its own binary with
// "-role=<role>" as the first argument: the shipper (the process under
// measurement, whose rusage the parent reads) and the endpoint (the
// loopback ingestion endpoint). A child exits when its work is done or, for
// the endpoint, when its standard input closes, so that no child outlives
// the parent.

// Scenarios the shipper role runs.
const (
	scenSDK     = "sdk"     // baseline: the SDK with an exporter that discards
	scenProduce = "produce" // SDK → exporter (WithoutSender) → spool
	scenShip    = "ship"    // pre-filled spool → sender → endpoint
	scenE2E     = "e2e"     // SDK → exporter → spool → in-process sender → endpoint
	scenBacklog = "backlog" // e2e with the endpoint down, then up
)

// benchIKey is the instrumentation key of every run (not a real resource).
const benchIKey = "00000000-0000-0000-0000-000000000000"

// connString is the connection string pointing at a loopback endpoint.
func connString(endpoint string) string {
	return "InstrumentationKey=" + benchIKey + ";IngestionEndpoint=" + endpoint
}

// isChild reports whether args (os.Args[1:]) ask for a child role.
func isChild(args []string) bool {
	return len(args) > 0 && strings.HasPrefix(args[0], "-role=")
}

// childMain runs the role args[0] names and returns the exit code.
func childMain(args []string) int {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	var f childFlags
	fs.StringVar(&f.role, "role", "", "endpoint or shipper")
	fs.StringVar(&f.scenario, "scenario", "", "shipper: sdk, produce, ship, e2e or backlog")
	fs.StringVar(&f.workload, "workload", workloadHTTP, "shipper: http or mixed")
	fs.IntVar(&f.spans, "spans", 10000, "shipper: spans to produce")
	fs.IntVar(&f.producers, "producers", 2, "shipper: goroutines making spans")
	fs.IntVar(&f.batch, "batch", 512, "shipper: BatchSpanProcessor batch size")
	fs.IntVar(&f.pad, "pad", 0, "shipper: bytes of the detail attribute of every HTTP-workload span (0: none)")
	fs.StringVar(&f.spoolDir, "spool", "", "shipper: spool directory")
	fs.StringVar(&f.endpoint, "endpoint", "", "shipper: endpoint base URL")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "shipper: write a CPU profile here")
	fs.StringVar(&f.memProfile, "memprofile", "", "shipper: write an allocation profile here")
	fs.DurationVar(&f.backoffMax, "backoff-max", time.Second, "shipper: sender BackoffMax")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&f.down, "down", false, "endpoint: start down (503)")
	fs.BoolVar(&f.discard, "discard", false, "endpoint: read and discard bodies without gunzipping or counting their items")
	fs.BoolVar(&f.verbose, "v", false, "log aispool warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var err error
	switch f.role {
	case "endpoint":
		err = endpointMain(ctx, f)
	case "shipper":
		err = shipperMain(ctx, f)
	default:
		err = fmt.Errorf("unknown role %q", f.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchmarks %s %s: %v\n", f.role, f.scenario, err)
		return 1
	}
	return 0
}

// childFlags are the flags of both roles.
type childFlags struct {
	role, scenario, workload string
	spans, producers, batch  int
	pad                      int
	spoolDir, endpoint       string
	cpuProfile, memProfile   string
	backoffMax, timeout      time.Duration
	down, discard, verbose   bool
}

// ---------------------------------------------------------------------
// Endpoint

// endpointStats is what the endpoint counted, served on /stats.
type endpointStats struct {
	Items         int64 `json:"items"`         // lines in accepted bodies (0 if discarding)
	BodyBytes     int64 `json:"bodyBytes"`     // accepted request bodies as received (gzip)
	Requests      int64 `json:"requests"`      // accepted requests
	Rejected      int64 `json:"rejected"`      // requests answered 503 while down
	RejectedBytes int64 `json:"rejectedBytes"` // their body bytes
	BadBodies     int64 `json:"badBodies"`     // bodies that failed to decompress (answered 400)
}

// endpoint is the loopback ingestion endpoint: it gunzips each body, counts
// its lines (items) and answers 200 with itemsReceived = itemsAccepted.
// A discarding endpoint reads each body and throws it away unread (no
// gunzip, no count) and answers 200, which acknowledges every item.
type endpoint struct {
	discard                            bool
	down                               atomic.Bool
	items, bodyBytes, requests         atomic.Int64
	rejected, rejectedBytes, badBodies atomic.Int64
	readers                            sync.Pool // *gzip.Reader
	bufs                               sync.Pool // *[]byte copy buffers
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lineCounter counts newline-terminated lines written to it (a last line
// without a newline counts too, see items).
type lineCounter struct {
	lines, n int64
	last     byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.n += int64(len(p))
	if len(p) > 0 {
		c.last = p[len(p)-1]
	}
	return len(p), nil
}

func (c *lineCounter) items() int64 {
	if c.n > 0 && c.last != '\n' {
		return c.lines + 1
	}
	return c.lines
}

func (e *endpoint) track(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	cr := &countingReader{r: r.Body}
	if e.down.Load() {
		_, _ = io.Copy(io.Discard, cr)
		e.rejected.Add(1)
		e.rejectedBytes.Add(cr.n)
		http.Error(w, `{"itemsReceived":0,"itemsAccepted":0,"errors":[]}`, http.StatusServiceUnavailable)
		return
	}
	if e.discard {
		if _, err := io.Copy(io.Discard, cr); err != nil {
			e.badBodies.Add(1)
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		e.bodyBytes.Add(cr.n)
		e.requests.Add(1)
		// The item count is unknown without a gunzip; a 200 acknowledges
		// every item whatever the body says.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"errors":[]}`)
		return
	}
	bp, _ := e.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 64<<10)
		bp = &b
	}
	defer e.bufs.Put(bp)
	var lc lineCounter
	var err error
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, _ := e.readers.Get().(*gzip.Reader)
		if zr == nil {
			zr, err = gzip.NewReader(cr)
		} else {
			err = zr.Reset(cr)
		}
		if err == nil {
			_, err = io.CopyBuffer(&lc, zr, *bp)
			e.readers.Put(zr)
		}
	} else {
		_, err = io.CopyBuffer(&lc, cr, *bp)
	}
	_, _ = io.Copy(io.Discard, cr)
	if err != nil {
		e.badBodies.Add(1)
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return
	}
	n := lc.items()
	e.items.Add(n)
	e.bodyBytes.Add(cr.n)
	e.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, n, n)
}

func (e *endpoint) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(endpointStats{
		Items: e.items.Load(), BodyBytes: e.bodyBytes.Load(), Requests: e.requests.Load(),
		Rejected: e.rejected.Load(), RejectedBytes: e.rejectedBytes.Load(), BadBodies: e.badBodies.Load(),
	})
}

func (e *endpoint) control(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("down") {
	case "1":
		e.down.Store(true)
	case "0":
		e.down.Store(false)
	default:
		http.Error(w, "want down=0 or down=1", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// endpointMain serves on 127.0.0.1:0, prints "LISTEN <url>" on stdout and
// serves until its standard input closes or ctx ends.
func endpointMain(ctx context.Context, f childFlags) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e := &endpoint{discard: f.discard}
	e.down.Store(f.down)
	mux := http.NewServeMux()
	mux.HandleFunc("/v2.1/track", e.track)
	mux.HandleFunc("/stats", e.stats)
	mux.HandleFunc("/control", e.control)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// ---------------------------------------------------------------------
// Shipper

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
	r.PeakRSSKiB = max(readHWM(), r.SpoolHWMKiB)
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
		snap <- snapshot{n, kb, readStatusKiB("RssFile")[0]}
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

func runE2E(ctx context.Context, f childFlags, logger *slog.Logger) (*childResult, error) {
	exp, err := newShippingExporter(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	te := &timedExporter{SpanExporter: exp}
	tp := newProvider(te, true, f.batch)
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
	exp, err := newShippingExporter(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	te := &timedExporter{SpanExporter: exp}
	tp := newProvider(te, true, f.batch)
	defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()

	// Phase 1: the endpoint is down; everything piles up in the spool.
	cpu0 := selfCPU()
	n, spoolD, err := produce(ctx, tp, f)
	if err != nil {
		return nil, err
	}
	r := &childResult{Spans: n, SpoolSeconds: spoolD.Seconds(), Envelopes: int64(exp.Spool().Stats().Appended)}
	te.fill(r)
	cpu1 := selfCPU()
	r.SpoolCPU = (cpu1 - cpu0).Seconds()
	r.SpoolHWMKiB = readHWM()
	r.DiskSpooled = dirBytes(f.spoolDir)
	r.RSSAnonKiB, r.RSSFileKiB = mon.peaks(true)
	resetHWM()

	// Phase 2: the endpoint comes back; the sender drains the backlog.
	if err := setEndpointDown(ctx, f.endpoint, false); err != nil {
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
	r.DrainCPU = (selfCPU() - cpu1).Seconds()
	r.DrainHWMKiB = readHWM()
	r.DrainAnonKiB, r.DrainFileKiB = mon.peaks(false)
	r.DiskDrained = dirBytes(f.spoolDir)
	mergeDrops(r, exp.Spool(), snd, exp)
	if err := tp.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("shutdown: %w", err)
	}
	return r, nil
}

// setEndpointDown tells the endpoint at base to answer 503 (down) or
// accept again.
func setEndpointDown(ctx context.Context, base string, down bool) error {
	v := "0"
	if down {
		v = "1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/control?down="+v, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("endpoint control: %s", resp.Status)
	}
	return nil
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
