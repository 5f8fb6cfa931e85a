package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

func main() { benchkit.Main("benchmarks", childMain, run) }

// options are the parent's flags.
type options struct {
	spans      int
	backlog    int
	producers  int
	batch      int
	out        string
	report     string
	timeout    time.Duration
	backoffMax time.Duration
	keep       bool
	profiles   bool
	analyze    bool
	verbose    bool

	// The ship runs' shape (the sender issue's: 1000000, 1024, true).
	shipEnvelopes     int  // 0: ship drains the spool produce left
	shipEnvelopeBytes int  // 0: pre-filled envelopes as converted (about 700 B)
	shipDiscard       bool // ship's endpoint discards bodies
}

// parseOptions parses the parent's flags. Paths default to the module's
// benchmarks/ directory, wherever the command is run from inside the module.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.spans, "spans", 300_000, "spans per produce / e2e / SDK run (the mixed workload rounds up to whole requests of 3 spans)")
	fs.IntVar(&o.backlog, "backlog", 250_000, "envelopes spooled while the endpoint is down (the full size is -backlog 1000000)")
	fs.IntVar(&o.shipEnvelopes, "ship-envelopes", 0, "envelopes pre-filled (SDK → exporter → spool, in a process of their own) into the spool each ship run drains; 0: ship drains the spool the produce run left (-spans spans). The sender issue's shape is "+shipFlags)
	fs.IntVar(&o.shipEnvelopeBytes, "ship-envelope-bytes", 0, "with -ship-envelopes: pad the pre-filled HTTP-workload envelopes to about this many bytes (newline included) with an attribute of words; 0: as converted (about 700). Other scenarios are not padded")
	fs.BoolVar(&o.shipDiscard, "ship-discard", false, "the ship runs' endpoint reads and discards bodies without gunzipping them (delivery is then checked with the sender's counts); default: it gunzips and counts every item")
	fs.IntVar(&o.producers, "producers", 2, "goroutines making spans")
	fs.IntVar(&o.batch, "batch", 2048, "BatchSpanProcessor max export batch size (the queue holds 2 batches); a durable exporter waits for an fsync per export, so larger batches amortise it")
	fs.StringVar(&o.out, "out", "", "directory for profiles and scratch spools (default <module>/benchmarks/out)")
	fs.StringVar(&o.report, "report", "", "markdown report path (default <module>/benchmarks/REPORT.md)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "abort the whole run after this long")
	fs.DurationVar(&o.backoffMax, "backoff-max", time.Second, "sender BackoffMax (and 100 ms initial): bounds the wait between the endpoint's return and the drain")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch spool directories")
	fs.BoolVar(&o.profiles, "profiles", true, "write CPU and allocation profiles of every shipper run")
	fs.BoolVar(&o.analyze, "analyze", true, "run 'go tool pprof -top' on the profiles behind missed targets")
	fs.BoolVar(&o.verbose, "v", false, "let the children log aispool warnings")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./benchmarks [flags]\n\nRuns aispool's whole-system benchmarks and writes a markdown report.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.spans < 1 || o.backlog < 1:
		return o, errors.New("-spans and -backlog must be positive")
	case o.shipEnvelopes < 0 || o.shipEnvelopeBytes < 0:
		return o, errors.New("-ship-envelopes and -ship-envelope-bytes must not be negative")
	case o.shipEnvelopeBytes > 0 && o.shipEnvelopes == 0:
		return o, errors.New("-ship-envelope-bytes pads the pre-filled spool: it needs -ship-envelopes")
	case o.producers < 1 || o.batch < 1:
		return o, errors.New("-producers and -batch must be positive")
	case o.analyze && !o.profiles:
		o.analyze = false
	}
	root := benchkit.ModuleRoot()
	if o.out == "" {
		o.out = filepath.Join(root, "benchmarks", "out")
	}
	if o.report == "" {
		o.report = filepath.Join(root, "benchmarks", "REPORT.md")
	}
	return o, nil
}

// runData is everything one run measured.
type runData struct {
	o                     options
	pad                   int // bytes of the pre-fill's detail attribute (-ship-envelope-bytes)
	start, end            time.Time
	loadBefore, loadAfter string
	base                  *baselineFigures
	sdk                   map[string]*scenarioResult
	produce, ship, e2e    map[string]*scenarioResult
	fill                  map[string]*scenarioResult // ship's own spools (-ship-envelopes)
	backlog               *scenarioResult
	analyses              map[string]*analysis // by profile file
}

// run is the parent: baselines, then the scenarios, then the report.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err // flag.ErrHelp for -h: benchkit.Main exits 0
	}
	ctx, parent, err := benchkit.StartParent(o.out, o.keep, o.timeout, stderr)
	if err != nil {
		return err
	}
	defer parent.Close()
	h := &harness{o: o, exe: parent.Exe, work: parent.Work, stderr: parent.Stderr, progress: parent.Stderr}
	if h.pad, err = padFor(o.shipEnvelopeBytes); err != nil {
		return fmt.Errorf("-ship-envelope-bytes: %w", err)
	}
	d := &runData{
		o: o, pad: h.pad, start: time.Now(), loadBefore: benchkit.LoadAvg(),
		sdk: map[string]*scenarioResult{}, produce: map[string]*scenarioResult{},
		ship: map[string]*scenarioResult{}, e2e: map[string]*scenarioResult{},
		fill: map[string]*scenarioResult{},
	}
	h.logf("machine: %d CPUs, load %s; spans %d, backlog %d", runtime.NumCPU(), d.loadBefore, o.spans, o.backlog)
	if o.shipEnvelopes > 0 || o.shipDiscard {
		h.logf("ship: %d envelopes pre-filled (0: the produce spool), envelope bytes %d (detail attribute of %d bytes), discarding endpoint %v",
			o.shipEnvelopes, o.shipEnvelopeBytes, h.pad, o.shipDiscard)
	}

	if d.base, err = h.runBaselines(ctx, o.spans); err != nil {
		return fmt.Errorf("baselines: %w", err)
	}
	workloads := []string{workloadHTTP, workloadMixed}
	for _, w := range workloads {
		if d.sdk[w], err = h.runSDKBaseline(ctx, w); err != nil {
			return err
		}
	}
	for _, w := range workloads {
		if d.produce[w], err = h.runProduce(ctx, w); err != nil {
			return err
		}
		src := d.produce[w]
		if o.shipEnvelopes > 0 {
			h.removeSpool(src.Name)
			if d.fill[w], err = h.runFill(ctx, w); err != nil {
				return err
			}
			src = d.fill[w]
		}
		if d.ship[w], err = h.runShip(ctx, w, src); err != nil {
			return err
		}
	}
	for _, w := range workloads {
		if d.e2e[w], err = h.runE2E(ctx, w); err != nil {
			return err
		}
	}
	if d.backlog, err = h.runBacklog(ctx); err != nil {
		return err
	}
	d.end, d.loadAfter = time.Now(), benchkit.LoadAvg()

	targets := d.targets()
	d.analyses = map[string]*analysis{}
	if o.analyze {
		for _, t := range targets {
			if t.Pass || t.Profile == "" {
				continue
			}
			if _, done := d.analyses[t.Profile]; done {
				continue
			}
			h.logf("analysing %s", filepath.Base(t.Profile))
			d.analyses[t.Profile] = analyzeProfile(ctx, filepath.Join(o.out, t.Profile), t.SampleIndex)
		}
	}
	md := d.markdown(targets)
	if err := os.WriteFile(o.report, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport written to %s\n", summary(targets), o.report)
	var problems []string
	for _, s := range d.all() {
		for _, p := range s.Problems {
			problems = append(problems, s.Name+": "+p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("incomplete delivery: %s", strings.Join(problems, "; "))
	}
	return nil
}

// all returns every scenario result in report order.
func (d *runData) all() []*scenarioResult {
	var out []*scenarioResult
	for _, m := range []map[string]*scenarioResult{d.sdk, d.produce, d.fill, d.ship, d.e2e} {
		for _, w := range []string{workloadHTTP, workloadMixed} {
			if s := m[w]; s != nil {
				out = append(out, s)
			}
		}
	}
	if d.backlog != nil {
		out = append(out, d.backlog)
	}
	return out
}
