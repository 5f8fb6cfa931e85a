package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// harness starts the child processes of one comparison and collects their
// figures.
type harness struct {
	o        options
	exe      string // this binary, re-executed with -role
	work     string // storage directories live here
	stderr   io.Writer
	progress io.Writer
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.progress, "compare: "+format+"\n", args...)
}

// proc is a running child.
type proc struct {
	cmd    *exec.Cmd
	out    *benchkit.Lines
	stdin  io.WriteCloser // endpoint only
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// start starts this binary with args.
func (h *harness) start(ctx context.Context, withStdin bool, args ...string) (*proc, error) {
	cmd := exec.CommandContext(ctx, h.exe, args...)
	p := &proc{cmd: cmd, out: benchkit.NewLines(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, h.stderr
	cmd.SysProcAttr = benchkit.ChildSysProcAttr()
	cmd.Env = benchkit.ChildEnv()
	cmd.WaitDelay = 5 * time.Second
	if withStdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// wait waits for the child's exit, killing it after timeout.
func (p *proc) wait(timeout time.Duration) (benchkit.Usage, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return benchkit.UsageOf(p.cmd.ProcessState), fmt.Errorf("killed after %s", timeout)
	}
	return benchkit.UsageOf(p.cmd.ProcessState), p.err
}

// result parses the child's "RESULT <json>" line.
func (p *proc) result() (childResult, error) {
	var r childResult
	line, ok := p.out.Find("RESULT ")
	if !ok {
		return r, errors.New("printed no result")
	}
	return r, json.Unmarshal([]byte(line), &r)
}

// endpointProc is a running endpoint child.
type endpointProc struct {
	*proc
	*benchkit.EndpointClient
}

// startEndpoint starts the loopback endpoint in another process and waits
// for its address.
func (h *harness) startEndpoint(ctx context.Context, down bool) (*endpointProc, error) {
	p, err := h.start(ctx, true, "-role="+roleEndpoint, "-down="+strconv.FormatBool(down), "-timeout="+h.o.timeout.String())
	if err != nil {
		return nil, err
	}
	line, err := p.out.Await("LISTEN ", p.exited, 30*time.Second)
	if err == nil && !strings.HasPrefix(line, "http://127.0.0.1:") {
		err = fmt.Errorf("listens on %q, not on loopback", line)
	}
	ep := &endpointProc{proc: p}
	if err != nil {
		_, _ = ep.stop()
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	ep.EndpointClient = benchkit.NewEndpointClient(line)
	return ep, nil
}

// stop closes the endpoint's standard input (it exits) and waits for it.
func (ep *endpointProc) stop() (benchkit.Usage, error) {
	_ = ep.stdin.Close()
	return ep.wait(10 * time.Second)
}

// childArgs are the flags every shipper and probe child gets.
func (h *harness) childArgs(role, shipper, shape, dir string, ep *endpointProc) []string {
	args := []string{
		"-role=" + role,
		"-shipper=" + shipper,
		"-shape=" + shape,
		"-producers=" + strconv.Itoa(h.o.producers),
		"-batch=" + strconv.Itoa(h.o.batch),
		"-queue=" + strconv.Itoa(h.o.queue),
		"-dir=" + dir,
		"-timeout=" + h.o.timeout.String(),
	}
	if ep != nil {
		args = append(args, "-endpoint="+ep.Base)
	}
	if h.o.verbose {
		args = append(args, "-v")
	}
	return args
}

// newDir makes a fresh storage directory for one child.
func (h *harness) newDir(name string) (string, error) {
	dir := filepath.Join(h.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// runResult is one throughput run.
type runResult struct {
	Shipper, Shape string
	Round          int
	// Loaded: the run had the load process beside it, which used
	// LoadCPUs CPUs on average while it ran.
	Loaded   bool
	LoadCPUs float64
	Child    childResult
	Usage    benchkit.Usage
	EP       benchkit.EndpointStats
	Problems []string
}

// Rate is spans per second end to end.
func (r *runResult) Rate() float64 { return ratio(float64(r.Child.Spans), r.Child.Seconds) }

// CPUPer100k is the shipper process's CPU seconds per 100k spans (its
// whole life: start, run, clean shutdown).
func (r *runResult) CPUPer100k() float64 {
	return ratio(r.Usage.CPU.Seconds()*1e5, float64(r.Child.Spans))
}

// PeakRSSKiB is the shipper's own peak RSS: its VmHWM before it exited
// (the rusage figure of a child can carry the parent's high-water mark
// from before the exec), else the rusage figure.
func (r *runResult) PeakRSSKiB() int64 {
	if r.Child.PeakRSSKiB > 0 {
		return r.Child.PeakRSSKiB
	}
	return r.Usage.MaxRSSKiB
}

// Per100k is n per 100,000 spans of the run.
func (r *runResult) Per100k(n float64) float64 { return ratio(n*1e5, float64(r.Child.Spans)) }

// WirePerSpan is request body bytes as received (gzip) per span.
func (r *runResult) WirePerSpan() float64 {
	return ratio(float64(r.EP.BodyBytes), float64(r.Child.Spans))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// runOnce is one throughput run of shipper on shape: a fresh endpoint
// (unless the shipper is the baseline) and a fresh storage directory;
// loaded, with the load process spinning from before the shipper starts
// until it has exited.
func (h *harness) runOnce(ctx context.Context, info shipperInfo, shape string, round int, loaded bool) (*runResult, error) {
	r := &runResult{Shipper: info.name, Shape: shape, Round: round, Loaded: loaded}
	var ep *endpointProc
	if info.endpoint {
		var err error
		if ep, err = h.startEndpoint(ctx, false); err != nil {
			return nil, err
		}
		defer func() { _, _ = ep.stop() }()
	}
	dir, err := h.newDir(fmt.Sprintf("%s-%s-%d", info.name, shape, round))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var lp *loadProc
	if loaded {
		if lp, err = h.startLoad(ctx); err != nil {
			return nil, err
		}
		defer func() {
			if lp != nil {
				_, _ = lp.stop()
			}
		}()
	}
	args := append(h.childArgs(roleShipper, info.name, shape, dir, ep), "-spans="+strconv.Itoa(h.o.spans))
	p, err := h.start(ctx, false, args...)
	if err != nil {
		return nil, err
	}
	r.Usage, err = p.wait(h.o.timeout)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", info.name, shape, err)
	}
	if lp != nil {
		r.LoadCPUs, err = lp.stop()
		lp = nil
		if err != nil {
			return nil, fmt.Errorf("load beside %s on %s: %w", info.name, shape, err)
		}
	}
	if r.Child, err = p.result(); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", info.name, shape, err)
	}
	if ep != nil {
		if r.EP, err = ep.Stats(ctx); err != nil {
			return nil, err
		}
		switch {
		case r.EP.Items < int64(r.Child.Spans):
			r.Problems = append(r.Problems, fmt.Sprintf("the endpoint counted %d of %d spans", r.EP.Items, r.Child.Spans))
		case r.EP.Items > int64(r.Child.Spans):
			r.Problems = append(r.Problems, fmt.Sprintf("the endpoint counted %d items for %d spans (duplicates)", r.EP.Items, r.Child.Spans))
		}
		if r.EP.BadBodies > 0 || r.EP.Other > 0 || r.EP.Rejected > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("the endpoint saw %d bad bodies, %d refused and %d other requests", r.EP.BadBodies, r.EP.Rejected, r.EP.Other))
		}
	}
	if r.Child.ShutdownErr != "" {
		r.Problems = append(r.Problems, "shutdown: "+r.Child.ShutdownErr)
	}
	return r, nil
}

// Probe variants: how the first process ends.
const (
	probeKill  = "SIGKILL"
	probeClean = "clean shutdown"
)

// probeResult is one durability probe.
type probeResult struct {
	Shipper, Variant string
	Handed           int   // spans the SDK handed to the shipper
	Refused          int64 // requests the endpoint answered 503 while down
	DiskBytes        int64 // in the storage directory once the first process had ended
	Fill, Recover    childResult
	Delivered        int64 // items the endpoint counted after the restart
	// Notes are what the shipper did that the reader should know (a
	// clean shutdown that did not complete); Problems are anomalies of
	// the probe itself.
	Notes, Problems []string
}

// probe runs the durability probe of one shipper: the endpoint answers
// 503; a process hands over h.o.probeSpans spans; h.o.probeDelay later it
// is SIGKILLed (or shut down cleanly with SIGTERM); then the endpoint is
// healthy and a new process opens the same directory: what does the
// endpoint count within h.o.probeWait?
func (h *harness) probe(ctx context.Context, info shipperInfo, variant string) (*probeResult, error) {
	pr := &probeResult{Shipper: info.name, Variant: variant}
	ep, err := h.startEndpoint(ctx, true)
	if err != nil {
		return nil, err
	}
	defer func() { _, _ = ep.stop() }()
	dir, err := h.newDir("probe-" + info.name)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	shape := h.o.shapes[0]
	base := h.childArgs(roleProbe, info.name, shape, dir, ep)
	base = append(base, "-spans="+strconv.Itoa(h.o.probeSpans), "-shutdown="+h.o.probeShutdown.String())

	fill, err := h.start(ctx, false, append(base, "-phase="+phaseFill)...)
	if err != nil {
		return nil, err
	}
	if _, err := fill.out.Await("HANDED ", fill.exited, h.o.timeout); err != nil {
		_ = fill.cmd.Process.Kill()
		_, _ = fill.wait(10 * time.Second)
		return nil, fmt.Errorf("probe %s fill: %w", info.name, err)
	}
	pr.Handed = h.o.probeSpans
	select {
	case <-time.After(h.o.probeDelay):
	case <-ctx.Done():
		_ = fill.cmd.Process.Kill()
		_, _ = fill.wait(10 * time.Second)
		return nil, ctx.Err()
	}
	sig := syscall.SIGKILL
	if variant == probeClean {
		sig = syscall.SIGTERM
	}
	if err := fill.cmd.Process.Signal(sig); err != nil {
		return nil, fmt.Errorf("probe %s: signal: %w", info.name, err)
	}
	_, err = fill.wait(h.o.probeShutdown + 30*time.Second)
	switch {
	case variant == probeKill:
		var ee *exec.ExitError
		ws, ok := syscall.WaitStatus(0), false
		if errors.As(err, &ee) {
			ws, ok = ee.Sys().(syscall.WaitStatus)
		}
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			pr.Problems = append(pr.Problems, fmt.Sprintf("the first process did not die of SIGKILL: %v", err))
		}
	case err != nil:
		pr.Problems = append(pr.Problems, fmt.Sprintf("the first process failed: %v", err))
	default:
		if pr.Fill, err = fill.result(); err != nil {
			pr.Problems = append(pr.Problems, "the first process: "+err.Error())
		}
		if pr.Fill.ShutdownErr != "" {
			pr.Notes = append(pr.Notes, "the first process's shutdown: "+pr.Fill.ShutdownErr)
		}
	}
	stA, err := ep.Stats(ctx)
	if err != nil {
		return nil, err
	}
	pr.Refused = stA.Rejected
	pr.DiskBytes = benchkit.DirBytes(dir)
	if stA.Items > 0 {
		pr.Problems = append(pr.Problems, fmt.Sprintf("the endpoint accepted %d items while down", stA.Items))
	}
	if err := ep.SetDown(ctx, false); err != nil {
		return nil, err
	}

	rec, err := h.start(ctx, false, append(base, "-phase="+phaseRecover, "-wait="+h.o.probeWait.String())...)
	if err != nil {
		return nil, err
	}
	if _, err := rec.wait(h.o.probeWait + h.o.probeShutdown + time.Minute); err != nil {
		return nil, fmt.Errorf("probe %s recover: %w", info.name, err)
	}
	if pr.Recover, err = rec.result(); err != nil {
		return nil, fmt.Errorf("probe %s recover: %w", info.name, err)
	}
	stB, err := ep.Stats(ctx)
	if err != nil {
		return nil, err
	}
	pr.Delivered = stB.Items - stA.Items
	if pr.Delivered > int64(pr.Handed) {
		pr.Problems = append(pr.Problems, fmt.Sprintf("%d items delivered for %d spans handed over (duplicates)", pr.Delivered, pr.Handed))
	}
	return pr, nil
}
