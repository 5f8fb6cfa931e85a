package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

func main() { benchkit.Main("compare", childMain, run) }

// options are the parent's flags.
type options struct {
	spans, rounds        int
	shapes, shippers     []string
	producers            int
	batch, queue         int
	probe                bool
	probeSpans           int
	probeDelay           time.Duration
	probeWait            time.Duration
	probeShutdown        time.Duration
	out, report, command string
	timeout              time.Duration
	keep, verbose        bool
	load                 int      // busy goroutines of the load process; 0: no loaded runs
	loadShapes           []string // the shapes run under load too
}

// parseOptions parses the parent's flags. Paths default to this module's
// directory (the nearest go.mod above the working directory).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var shapes, ships, loadShapes string
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.spans, "spans", 300_000, "spans per run")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds: each runs every shipper on every shape once, round-robin")
	fs.StringVar(&shapes, "shapes", shapeUA101+","+shapeUA41, "span shapes, comma-separated: "+shapeUA101+" (the issue's, a 101-character user agent) and "+shapeUA41+" (the README's, 41)")
	fs.StringVar(&ships, "shippers", allShipperNames(), "shippers, comma-separated")
	fs.IntVar(&o.producers, "producers", 2, "goroutines making spans")
	fs.IntVar(&o.batch, "batch", 2048, "the SDK's BatchSpanProcessor max export batch size (every shipper)")
	fs.IntVar(&o.queue, "queue", 4096, "the SDK's BatchSpanProcessor max queue size (every shipper)")
	fs.IntVar(&o.load, "load", runtime.NumCPU(), "under load: busy goroutines in another process during a second run of every shipper on the -load-shapes (0: quiet runs only)")
	fs.StringVar(&loadShapes, "load-shapes", shapeUA101, "span shapes also run under load, comma-separated (a subset of -shapes)")
	fs.BoolVar(&o.probe, "probe", true, "run the durability probe")
	fs.IntVar(&o.probeSpans, "probe-spans", 10_000, "probe: spans handed over while the endpoint answers 503")
	fs.DurationVar(&o.probeDelay, "probe-delay", 3*time.Second, "probe: from the hand-over to the SIGKILL or SIGTERM")
	fs.DurationVar(&o.probeWait, "probe-wait", 10*time.Second, "probe: how long the new process waits for the spans")
	fs.DurationVar(&o.probeShutdown, "probe-shutdown", 5*time.Second, "probe: bound of the first process's clean shutdown")
	fs.StringVar(&o.out, "out", "", "directory for the storage directories (default <module>/out)")
	fs.StringVar(&o.report, "report", "", "markdown report path (default <module>/REPORT.md)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Hour, "abort the whole comparison after this long")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory")
	fs.BoolVar(&o.verbose, "v", false, "let the children log the shippers' warnings")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run . [flags]   (in benchmarks/compare)\n\nCompares aispool's exporter with the OpenTelemetry Collector's azuremonitorexporter\nand ApplicationInsights-Go, and writes a markdown report.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var problems []error
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	o.shapes = splitList(shapes)
	o.shippers = splitList(ships)
	o.loadShapes = splitList(loadShapes)
	for _, s := range o.loadShapes {
		if !slices.Contains(o.shapes, s) {
			problems = append(problems, fmt.Errorf("-load-shapes: %q is not one of -shapes", s))
		}
	}
	if o.load < 0 {
		problems = append(problems, errors.New("-load must not be negative"))
	}
	if o.load == 0 {
		o.loadShapes = nil // quiet runs only
	}
	for _, s := range o.shapes {
		if err := checkShape(s); err != nil {
			problems = append(problems, fmt.Errorf("-shapes: %w", err))
		}
	}
	for _, s := range o.shippers {
		if _, err := shipperByName(s); err != nil {
			problems = append(problems, fmt.Errorf("-shippers: %w", err))
		}
	}
	if len(o.shapes) == 0 || len(o.shippers) == 0 {
		problems = append(problems, errors.New("-shapes and -shippers must name at least one"))
	}
	if o.spans < 1 || o.rounds < 1 || o.producers < 1 || o.batch < 1 || o.queue < 1 || o.probeSpans < 1 {
		problems = append(problems, errors.New("-spans, -rounds, -producers, -batch, -queue and -probe-spans must be positive"))
	}
	if o.probeDelay < 0 || o.probeWait <= 0 || o.probeShutdown <= 0 {
		problems = append(problems, errors.New("-probe-delay must not be negative, -probe-wait and -probe-shutdown must be positive"))
	}
	if err := errors.Join(problems...); err != nil {
		return o, err
	}
	root := benchkit.ModuleRoot()
	if o.out == "" {
		o.out = filepath.Join(root, "out")
	}
	if o.report == "" {
		o.report = filepath.Join(root, "REPORT.md")
	}
	o.command = "go run ." + argString(args)
	return o, nil
}

// allShipperNames is the default of -shippers: every shipper.
func allShipperNames() string {
	names := make([]string, len(shippers))
	for i, s := range shippers {
		names[i] = s.name
	}
	return strings.Join(names, ",")
}

// splitList splits a comma-separated list, dropping blanks and duplicates.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// argString is args as the report's command line shows them.
func argString(args []string) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	return b.String()
}

// comparison is everything one invocation measured.
type comparison struct {
	o                     options
	start, end            time.Time
	loadBefore, loadAfter string
	runs                  []*runResult
	probes                []*probeResult
}

// run is the parent: the rounds, the probe, the report.
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
	c := &comparison{o: o, start: time.Now(), loadBefore: benchkit.LoadAvg()}
	h.logf("%d CPUs, load %s; %d spans per run, %d rounds, shapes %s, shippers %s, under load (%d busy goroutines): %s",
		runtime.NumCPU(), c.loadBefore, o.spans, o.rounds, strings.Join(o.shapes, ","), strings.Join(o.shippers, ","),
		o.load, strings.Join(o.loadShapes, ","))

	for round := 1; round <= o.rounds; round++ {
		for _, shape := range o.shapes {
			for _, name := range rotate(o.shippers, round-1) {
				info, _ := shipperByName(name)
				for _, loaded := range modes(o, shape, round) {
					r, err := h.runOnce(ctx, info, shape, round, loaded)
					if err != nil {
						return err
					}
					mode := "quiet "
					if loaded {
						mode = fmt.Sprintf("loaded (the load used %.1f CPUs)", r.LoadCPUs)
					}
					h.logf("round %d %s %-17s %8.1fk spans/s  %.3f CPU s/100k  %5.1f MiB  %5.1f B/span  %s",
						round, shape, name, r.Rate()/1e3, r.CPUPer100k(), float64(r.PeakRSSKiB())/1024, r.WirePerSpan(), mode)
					for _, p := range r.Problems {
						h.logf("  ⚠ %s", p)
					}
					c.runs = append(c.runs, r)
				}
			}
		}
	}
	if o.probe {
		for _, name := range o.shippers {
			info, _ := shipperByName(name)
			if !info.endpoint {
				continue
			}
			for _, variant := range []string{probeKill, probeClean} {
				pr, err := h.probe(ctx, info, variant)
				if err != nil {
					return err
				}
				h.logf("probe %-17s %-14s handed %d, delivered after restart %d (refused while down: %d requests, on disk: %d bytes)",
					name, variant, pr.Handed, pr.Delivered, pr.Refused, pr.DiskBytes)
				for _, p := range pr.Problems {
					h.logf("  ⚠ %s", p)
				}
				c.probes = append(c.probes, pr)
			}
		}
	}
	c.end, c.loadAfter = time.Now(), benchkit.LoadAvg()
	if err := os.WriteFile(o.report, []byte(c.markdown()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report written to %s\n", o.report)
	return nil
}

// modes are the runs of one shipper on shape in a round: quiet, and, on
// the -load-shapes, under load too, right after or right before (they
// alternate by round, so that neither always runs first).
func modes(o options, shape string, round int) []bool {
	if o.load == 0 || !slices.Contains(o.loadShapes, shape) {
		return []bool{false}
	}
	if round%2 == 0 {
		return []bool{true, false}
	}
	return []bool{false, true}
}

// rotate returns s rotated left by k: round r starts with a different
// shipper, so that no shipper always runs first (or right after the same
// one) on a machine whose load drifts.
func rotate(s []string, k int) []string {
	if len(s) == 0 {
		return nil
	}
	k %= len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}
