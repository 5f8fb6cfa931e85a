package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// harness starts the child processes of one run and collects their
// figures.
type harness struct {
	o        options
	exe      string    // this binary, re-executed with -role
	work     string    // spool directories live here
	stderr   io.Writer // children's standard error
	progress io.Writer
	pad      int // bytes of the pre-fill's detail attribute (see padFor)
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.progress, "benchmarks: "+format+"\n", args...)
}

// endpointProc is a running endpoint child.
type endpointProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	start time.Time
}

// startEndpoint starts the loopback endpoint in another process and waits
// for its address. A discarding endpoint reads bodies without gunzipping or
// counting them.
func (h *harness) startEndpoint(ctx context.Context, down, discard bool) (*endpointProc, error) {
	cmd := exec.CommandContext(ctx, h.exe, "-role=endpoint", "-down="+strconv.FormatBool(down),
		"-discard="+strconv.FormatBool(discard), "-timeout="+h.o.timeout.String())
	out := benchkit.NewLines()
	cmd.Stdout, cmd.Stderr = out, h.stderr
	cmd.SysProcAttr = benchkit.ChildSysProcAttr()
	cmd.Env = benchkit.ChildEnv()
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	ep := &endpointProc{cmd: cmd, stdin: stdin, start: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	url, err := out.Await("LISTEN ", nil, 30*time.Second)
	if err == nil && !strings.HasPrefix(url, "http://127.0.0.1:") {
		err = fmt.Errorf("listens on %q, not on loopback", url)
	}
	if err != nil {
		_, _ = ep.stop()
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	ep.url = url
	return ep, nil
}

// stats asks the endpoint for its counts.
func (ep *endpointProc) stats(ctx context.Context) (benchkit.EndpointStats, error) {
	return benchkit.NewEndpointClient(ep.url).Stats(ctx)
}

// stop closes the endpoint's standard input (it exits), waits for it
// (killing it after 10 s) and returns its usage.
func (ep *endpointProc) stop() (usage, error) {
	_ = ep.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- ep.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = ep.cmd.Process.Kill()
		err = <-done
	}
	return usageOf(ep.cmd.ProcessState, time.Since(ep.start)), err
}

// runShipper runs one shipper child to completion and returns its result
// and usage. Profiles go to <out>/<name>.cpu.pprof and .allocs.pprof.
func (h *harness) runShipper(ctx context.Context, name string, args ...string) (childResult, usage, error) {
	full := []string{
		"-role=shipper",
		"-timeout=" + h.o.timeout.String(),
		"-producers=" + strconv.Itoa(h.o.producers),
		"-batch=" + strconv.Itoa(h.o.batch),
		"-backoff-max=" + h.o.backoffMax.String(),
	}
	if h.o.profiles {
		full = append(full,
			"-cpuprofile="+filepath.Join(h.o.out, name+".cpu.pprof"),
			"-memprofile="+filepath.Join(h.o.out, name+".allocs.pprof"))
	}
	if h.o.verbose {
		full = append(full, "-v")
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, h.exe, full...)
	out := benchkit.NewLines()
	cmd.Stdout, cmd.Stderr = out, h.stderr
	cmd.SysProcAttr = benchkit.ChildSysProcAttr()
	cmd.Env = benchkit.ChildEnv()
	cmd.WaitDelay = 5 * time.Second
	t0 := time.Now()
	err := cmd.Run()
	u := usageOf(cmd.ProcessState, time.Since(t0))
	if err != nil {
		return childResult{}, u, fmt.Errorf("shipper %s: %w", name, err)
	}
	line, ok := out.Find("RESULT ")
	if !ok {
		return childResult{}, u, fmt.Errorf("shipper %s printed no result", name)
	}
	var r childResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return childResult{}, u, fmt.Errorf("shipper %s: result: %w", name, err)
	}
	return r, u, nil
}

// scenarioResult is one scenario's figures, as the report shows them.
type scenarioResult struct {
	Name     string // e.g. "e2e-http": also the profiles' name
	Scenario string
	Workload string
	Child    childResult
	Shipper  usage
	Endpoint usage
	EP       benchkit.EndpointStats
	// HasEndpoint: Endpoint and EP are meaningful.
	HasEndpoint bool
	// Discard: the endpoint discarded bodies, so EP.Items is 0 and the
	// sender's acknowledged count stands for it.
	Discard bool
	// Expected is the number of envelopes the endpoint must count (or the
	// spool must hold, for produce).
	Expected   int64
	DiskBefore int64
	DiskAfter  int64 // after the shipper exited (spool closed)
	Problems   []string
}

// Items is what the scenario's throughput counts: spans for the producing
// scenarios, envelopes for ship.
func (s *scenarioResult) Items() int64 {
	if s.Scenario == scenShip {
		return s.Child.Envelopes
	}
	return int64(s.Child.Spans)
}

// Rate is items per second of the measured phase (the drain phase for
// backlog).
func (s *scenarioResult) Rate() float64 {
	switch {
	case s.Scenario == scenBacklog:
		return ratio(float64(s.Child.Envelopes), s.Child.DrainSeconds)
	default:
		return ratio(float64(s.Items()), s.Child.Seconds)
	}
}

// CPUPer100k is the shipper process's CPU seconds per 100k items (whole
// process lifetime).
func (s *scenarioResult) CPUPer100k() float64 {
	return ratio(s.Shipper.CPU.Seconds()*1e5, float64(s.Items()))
}

// PeakRSS is the shipper's peak RSS in bytes: its own VmHWM. (The
// rusage Maxrss of a child is at least the parent's RSS when it was
// spawned: Go starts children with CLONE_VM, and exec keeps the old
// mapping's high-water mark.)
func (s *scenarioResult) PeakRSS() int64 {
	if s.Child.PeakRSSKiB > 0 {
		return s.Child.PeakRSSKiB * 1024
	}
	return s.Shipper.MaxRSSKiB * 1024
}

// EndpointCPUPer100k is the endpoint process's CPU seconds per 100k items.
func (s *scenarioResult) EndpointCPUPer100k() float64 {
	if !s.HasEndpoint {
		return 0
	}
	return ratio(s.Endpoint.CPU.Seconds()*1e5, float64(s.Items()))
}

// WirePerSpan is request body bytes (as received, gzip) per item.
func (s *scenarioResult) WirePerSpan() float64 {
	if !s.HasEndpoint {
		return 0
	}
	return ratio(float64(s.EP.BodyBytes), float64(s.Items()))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// check compares what the endpoint counted (or the spool holds) with what
// was expected and records the shortfall as a problem.
func (s *scenarioResult) check() {
	got := s.Child.Envelopes
	if s.HasEndpoint && !s.Discard {
		got = s.EP.Items
	}
	if s.HasEndpoint && s.EP.BadBodies > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("%d bodies failed to decompress (or to be read)", s.EP.BadBodies))
	}
	if s.Discard {
		if ok := s.Child.Requests[http.StatusOK]; uint64(s.EP.Requests) != ok {
			s.Problems = append(s.Problems, fmt.Sprintf("the endpoint accepted %d requests, the sender counted %d answered 200", s.EP.Requests, ok))
		}
	}
	if got < s.Expected {
		s.Problems = append(s.Problems, fmt.Sprintf("counted %d envelopes, expected %d", got, s.Expected))
	}
	for k, v := range s.Child.Dropped {
		s.Problems = append(s.Problems, fmt.Sprintf("%d dropped (%s)", v, k))
	}
}

// spoolDir is the spool directory of a scenario.
func (h *harness) spoolDir(name string) string { return filepath.Join(h.work, name) }

// removeSpool deletes a spool directory unless -keep.
func (h *harness) removeSpool(name string) {
	if !h.o.keep {
		_ = os.RemoveAll(h.spoolDir(name))
	}
}

// runSDKBaseline: the SDK with a discarding exporter.
func (h *harness) runSDKBaseline(ctx context.Context, workload string) (*scenarioResult, error) {
	name := "sdk-" + workload
	h.logf("%s: %d spans through the SDK into a discarding exporter", name, h.o.spans)
	r, u, err := h.runShipper(ctx, name, "-scenario="+scenSDK, "-workload="+workload, "-spans="+strconv.Itoa(h.o.spans))
	if err != nil {
		return nil, err
	}
	return &scenarioResult{Name: name, Scenario: scenSDK, Workload: workload, Child: r, Shipper: u}, nil
}

// runProduce: SDK → exporter (WithoutSender) → spool. The spool is kept
// for runShip.
func (h *harness) runProduce(ctx context.Context, workload string) (*scenarioResult, error) {
	name := "produce-" + workload
	h.logf("%s: %d spans into a durable spool", name, h.o.spans)
	return h.produceInto(ctx, name, workload, h.o.spans)
}

// runFill pre-fills ship's spool with about -ship-envelopes envelopes,
// HTTP-workload ones padded to -ship-envelope-bytes: runProduce's scenario
// in a process of its own, whose figures are not the ship's. The spool is
// kept for runShip.
func (h *harness) runFill(ctx context.Context, workload string) (*scenarioResult, error) {
	name := "fill-" + workload
	spans := spansFor(workload, h.o.shipEnvelopes)
	_, _, envelopes := plan(workload, spans)
	h.logf("%s: pre-filling ship's spool with %d envelopes (%d spans)", name, envelopes, spans)
	return h.produceInto(ctx, name, workload, spans, "-pad="+strconv.Itoa(h.pad))
}

// spansFor is the number of spans whose envelopes number about envelopes:
// as many for the HTTP workload; whole requests of 3 spans and 3.1
// envelopes on average for the mixed one.
func spansFor(workload string, envelopes int) int {
	if workload != workloadMixed {
		return envelopes
	}
	units := max(1, (envelopes*10+30)/31)
	return units * spansPerUnit(workload)
}

// produceInto runs the produce scenario under name (also the spool's name)
// with spans spans, and extra shipper flags.
func (h *harness) produceInto(ctx context.Context, name, workload string, spans int, extra ...string) (*scenarioResult, error) {
	_, _, expected := plan(workload, spans)
	s := &scenarioResult{Name: name, Scenario: scenProduce, Workload: workload, Expected: int64(expected)}
	s.DiskBefore = benchkit.DirBytes(h.spoolDir(name))
	args := append([]string{"-scenario=" + scenProduce, "-workload=" + workload,
		"-spans=" + strconv.Itoa(spans), "-spool=" + h.spoolDir(name)}, extra...)
	r, u, err := h.runShipper(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	s.Child, s.Shipper = r, u
	s.DiskAfter = benchkit.DirBytes(h.spoolDir(name))
	s.check()
	return s, nil
}

// runShip: the spool runProduce (or runFill) left → sender → endpoint.
func (h *harness) runShip(ctx context.Context, workload string, produced *scenarioResult) (*scenarioResult, error) {
	name := "ship-" + workload
	src := produced.Name
	defer h.removeSpool(src)
	mode := "counting"
	if h.o.shipDiscard {
		mode = "discarding"
	}
	h.logf("%s: draining %d envelopes to the %s endpoint", name, produced.Child.Envelopes, mode)
	s := &scenarioResult{Name: name, Scenario: scenShip, Workload: workload, Expected: produced.Child.Envelopes,
		HasEndpoint: true, Discard: h.o.shipDiscard}
	s.DiskBefore = benchkit.DirBytes(h.spoolDir(src))
	ep, err := h.startEndpoint(ctx, false, h.o.shipDiscard)
	if err != nil {
		return nil, err
	}
	r, u, err := h.runShipper(ctx, name, "-scenario="+scenShip, "-workload="+workload,
		"-spool="+h.spoolDir(src), "-endpoint="+ep.url)
	return h.finish(ctx, s, ep, r, u, err, src)
}

// finish collects the endpoint's counts, stops it and checks the counts.
func (h *harness) finish(ctx context.Context, s *scenarioResult, ep *endpointProc, r childResult, u usage, runErr error, spool string) (*scenarioResult, error) {
	st, stErr := ep.stats(ctx)
	eu, _ := ep.stop()
	if runErr != nil {
		return nil, runErr
	}
	if stErr != nil {
		return nil, fmt.Errorf("%s: endpoint stats: %w", s.Name, stErr)
	}
	s.Child, s.Shipper, s.EP, s.Endpoint = r, u, st, eu
	s.DiskAfter = benchkit.DirBytes(h.spoolDir(spool))
	s.check()
	return s, nil
}

// runE2E: SDK → exporter → spool → in-process sender → endpoint.
func (h *harness) runE2E(ctx context.Context, workload string) (*scenarioResult, error) {
	name := "e2e-" + workload
	defer h.removeSpool(name)
	h.logf("%s: %d spans end to end", name, h.o.spans)
	_, _, expected := plan(workload, h.o.spans)
	s := &scenarioResult{Name: name, Scenario: scenE2E, Workload: workload, Expected: int64(expected), HasEndpoint: true}
	ep, err := h.startEndpoint(ctx, false, false)
	if err != nil {
		return nil, err
	}
	r, u, err := h.runShipper(ctx, name, "-scenario="+scenE2E, "-workload="+workload,
		"-spans="+strconv.Itoa(h.o.spans), "-spool="+h.spoolDir(name), "-endpoint="+ep.url)
	return h.finish(ctx, s, ep, r, u, err, name)
}

// runBacklog: e2e with the endpoint down until the backlog is spooled.
func (h *harness) runBacklog(ctx context.Context) (*scenarioResult, error) {
	name := "backlog-" + workloadHTTP
	defer h.removeSpool(name)
	h.logf("%s: %d envelopes spooled while the endpoint is down, then drained", name, h.o.backlog)
	_, _, expected := plan(workloadHTTP, h.o.backlog)
	s := &scenarioResult{Name: name, Scenario: scenBacklog, Workload: workloadHTTP, Expected: int64(expected), HasEndpoint: true}
	ep, err := h.startEndpoint(ctx, true, false)
	if err != nil {
		return nil, err
	}
	r, u, err := h.runShipper(ctx, name, "-scenario="+scenBacklog, "-workload="+workloadHTTP,
		"-spans="+strconv.Itoa(h.o.backlog), "-spool="+h.spoolDir(name), "-endpoint="+ep.url)
	return h.finish(ctx, s, ep, r, u, err, name)
}
