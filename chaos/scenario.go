package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/clock"
)

// Defaults of Scenario; a zero field means its default.
const (
	DefaultScenarioEnvelopes = 10_000
	DefaultScenarioTimeout   = 3 * time.Minute
	DefaultSampleInterval    = 100 * time.Millisecond
	DefaultRequestTimeout    = 2 * time.Second
	DefaultScenarioInFlight  = 2
	DefaultScenarioBatch     = 100
	// DefaultScenarioBackoffInitial is the shipper's first back-off
	// interval: short, so that a profile shows its effects in seconds.
	DefaultScenarioBackoffInitial = 20 * time.Millisecond
)

// ErrScenario marks a scenario that could not run (bad configuration, a
// shipper that did not start): not a verdict on the shipper.
var ErrScenario = errors.New("chaos: scenario")

// Scenario drives envelopes through a real shipper (the exporter, spool and
// sender in this process, or the `aispool run` daemon as a child process)
// to an Endpoint running a fault profile, optionally kills and restarts the
// shipper, and verifies at the end that nothing acknowledged was lost.
//
// In process, the envelopes are request spans made with the OpenTelemetry
// SDK (a blocking BatchSpanProcessor and the exporter); a span counts as
// acknowledged when ExportSpans returned nil for its batch. With a daemon,
// they are synthetic envelopes (Envelope) posted to the daemon's local
// ingestion endpoint; an envelope counts as acknowledged when its request
// was answered 200, and requests that fail are posted again, as an SDK
// would.
//
// A Scenario is configured by its fields and run once.
type Scenario struct {
	// Profile is the endpoint's fault profile. Required. The scenario
	// shortens its hangs to just past the shipper's request timeout.
	Profile *fakeingest.Profile
	// Seed seeds the endpoint's faults and the scenario's own random
	// choices (kill moments); 0 picks one at random (in Result.Seed).
	Seed uint64
	// Envelopes is how many envelopes to send. Default 10,000.
	Envelopes int
	// Rate paces the offer: envelopes per second, so that a run spans the
	// profile's windows; 0 offers them as fast as the shipper takes them.
	Rate int
	// Daemon, if set, runs the shipper as `aispool run` child processes;
	// nil runs it in this process.
	Daemon *Daemon
	// KillEvery SIGKILLs the daemon at random moments, on average this
	// often (uniform in [KillEvery/2, 3·KillEvery/2]), and restarts it on
	// the same spool directory. Daemon only.
	KillEvery time.Duration
	// MinKills keeps killing after the last envelope was acknowledged until
	// this many kills happened (with KillEvery). Daemon only.
	MinKills int
	// CorruptAfter, if positive, corrupts one segment file once, this long
	// after the start: the daemon is SIGKILLed, a page in the middle of
	// the segment with the most records is overwritten with garbage, and
	// the daemon restarts. The records of that segment may be lost, but
	// only counted (quarantined or dropped as corrupt). Daemon only.
	CorruptAfter time.Duration
	// FileSizeLimit, if positive, is the daemon's RLIMIT_FSIZE in bytes:
	// its spool segment files cannot grow past it, so its disk is "full"
	// until the sender frees space. Daemon only.
	FileSizeLimit int64

	// MaxInFlight is the shipper's bound on concurrent requests; the
	// verifier checks the endpoint never saw more. Default 2.
	MaxInFlight int
	// BatchItems bounds the items per request to the endpoint. Default 100
	// (many small requests give the faults many chances).
	BatchItems int
	// RequestTimeout is the shipper's request timeout. Default 2 s.
	RequestTimeout time.Duration
	// BackoffInitial is the shipper's first back-off interval (and the
	// first per-record retry delay). Default 20 ms.
	BackoffInitial time.Duration
	// BackoffMax caps the shipper's back-off. Default 1 s (at least
	// BackoffInitial).
	BackoffMax time.Duration

	// Clock is the in-process shipper's clock (its sender's back-off,
	// Retry-After and expiry, and its spool's record times); nil is the
	// real one. A WarpClock runs hours of outage in seconds: give the
	// profile windows and no Retry-After (the endpoint keeps real time).
	// In process only.
	Clock clock.Clock

	// Dir is the working directory (the spool lives in Dir/spool); empty
	// means a temporary directory, removed at the end.
	Dir string
	// Timeout bounds the whole run. Default 3 min.
	Timeout time.Duration
	// SampleInterval is the period of Result.Samples. Default 100 ms.
	SampleInterval time.Duration
	// Progress, if set, is called with every sample, one call at a time.
	Progress func(Sample)
	// Logger receives the scenario's logs (the endpoint's, the shipper's
	// in process, the daemon's lines in daemon mode at debug level).
	// Default: discard.
	Logger *slog.Logger

	// twin marks the healthy twin of a run (see run.twin): it has no twin
	// of its own.
	twin bool
}

// Daemon is how a Scenario starts the `aispool run` daemon.
type Daemon struct {
	// Path is the aispool binary; Args come before "run" (for a test binary
	// that acts as aispool, usually none); Env is added to this process's
	// environment.
	Path string
	Args []string
	Env  []string
	// OTLP feeds the daemon's OTLP/HTTP intake (protobuf log records that
	// it converts into the same custom events, the id in the chaos.id
	// property) instead of its Breeze intake.
	OTLP bool
}

// config returns s with defaults, or an error naming the bad field.
func (s *Scenario) config() (Scenario, error) {
	c := *s
	var errs []error
	if c.Profile == nil {
		errs = append(errs, errors.New("field Profile is required"))
	} else if err := c.Profile.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("field Profile: %w", err))
	}
	if c.Envelopes < 0 {
		errs = append(errs, fmt.Errorf("field Envelopes %d is negative", c.Envelopes))
	}
	if c.Daemon == nil && (c.KillEvery > 0 || c.MinKills > 0 || c.CorruptAfter > 0 || c.FileSizeLimit > 0) {
		errs = append(errs, errors.New("fields KillEvery, MinKills, CorruptAfter and FileSizeLimit need a Daemon"))
	}
	if c.Daemon != nil && c.Clock != nil {
		errs = append(errs, errors.New("field Clock is for the in-process shipper only"))
	}
	if c.Daemon != nil && c.Daemon.Path == "" {
		errs = append(errs, errors.New("field Daemon.Path is required"))
	}
	if c.MinKills > 0 && c.KillEvery <= 0 {
		errs = append(errs, errors.New("field MinKills needs KillEvery"))
	}
	for name, d := range map[string]time.Duration{"KillEvery": c.KillEvery, "CorruptAfter": c.CorruptAfter,
		"RequestTimeout": c.RequestTimeout, "BackoffInitial": c.BackoffInitial, "BackoffMax": c.BackoffMax,
		"Timeout": c.Timeout, "SampleInterval": c.SampleInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("field %s %v is negative", name, d))
		}
	}
	if c.MaxInFlight < 0 || c.BatchItems < 0 || c.Rate < 0 || c.MinKills < 0 || c.FileSizeLimit < 0 {
		errs = append(errs, errors.New("fields MaxInFlight, BatchItems, Rate, MinKills and FileSizeLimit must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if c.Envelopes == 0 {
		c.Envelopes = DefaultScenarioEnvelopes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultScenarioInFlight
	}
	if c.BatchItems == 0 {
		c.BatchItems = DefaultScenarioBatch
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = DefaultScenarioBackoffInitial
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(time.Second, c.BackoffInitial)
	}
	if c.BackoffMax < c.BackoffInitial {
		return c, fmt.Errorf("%w: field BackoffMax %v is below BackoffInitial %v", ErrScenario, c.BackoffMax, c.BackoffInitial)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultScenarioTimeout
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = DefaultSampleInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	p := c.Profile.Clone()
	if h := c.RequestTimeout + 500*time.Millisecond; p.Hang.Duration.D() == 0 || p.Hang.Duration.D() > h {
		p.Hang.Duration = fakeingest.Duration(h)
	}
	c.Profile = p
	return c, nil
}

// Run runs the scenario and returns its Result. The error is non-nil when
// the scenario could not run (ErrScenario) or ctx ended; a run that ended
// with failed checks returns a Result whose Passed is false and a nil
// error.
func (s *Scenario) Run(ctx context.Context) (*Result, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.Dir == "" {
		tmp, err := os.MkdirTemp("", "aispool-chaos-")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrScenario, err)
		}
		defer os.RemoveAll(tmp)
		cfg.Dir = tmp
	}
	ep, err := fakeingest.New(fakeingest.Config{Profile: cfg.Profile, Seed: cfg.Seed, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	// The healthy twin runs at the same time, so that both share whatever
	// else the machine is doing.
	twin := s.startTwin(ctx, cfg)
	defer twin.stop()
	if err := ep.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	defer ep.Close()

	r := &run{cfg: cfg, ep: ep, start: time.Now(), spoolDir: filepath.Join(cfg.Dir, "spool"), led: newLedger(cfg.Envelopes)}
	r.res = &Result{Profile: cfg.Profile.Name, Seed: ep.Seed(), Envelopes: cfg.Envelopes, Started: r.start}
	var shipper shipper
	if cfg.Daemon != nil {
		r.res.Mode = "daemon"
		shipper = &daemonShipper{run: r}
	} else {
		r.res.Mode = "in-process"
		shipper = &inProcessShipper{run: r}
	}

	samplerCtx, stopSampler := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.sample(samplerCtx, shipper) })
	out, runErr := shipper.ship(ctx)
	stopSampler()
	wg.Wait()
	r.sampleOnce(shipper) // the final state
	if out == nil {
		return nil, runErr
	}
	_ = ep.Close()
	r.res.Elapsed = time.Since(r.start)
	r.res.Endpoint = ep.Report()
	r.twin, r.twinErr = twin.wait()
	r.verify(out, runErr)
	return r.res, nil
}

// twinRun is a healthy twin being run.
type twinRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *Result
	err    error
}

// startTwin starts the healthy twin of a run whose profile asks for a
// throughput ratio: the same scenario against a healthy endpoint, at the
// same time. It returns nil when there is none.
func (s *Scenario) startTwin(ctx context.Context, cfg Scenario) *twinRun {
	if cfg.twin || cfg.Profile.Liveness.ThroughputRatio <= 0 {
		return nil
	}
	tw := *s
	tw.Profile = &fakeingest.Profile{Name: "healthy", Description: "the healthy twin of " + cfg.Profile.Name}
	tw.Seed, tw.Progress, tw.twin = cfg.Seed, nil, true
	tw.Logger = cfg.Logger.With(slog.String("twin", "healthy"))
	if cfg.Dir != "" {
		tw.Dir = filepath.Join(cfg.Dir, "twin")
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &twinRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.res, t.err = tw.Run(ctx)
	}()
	return t
}

// wait waits for the twin to finish and summarises it; nil, nil without a
// twin.
func (t *twinRun) wait() (*TwinRun, error) {
	if t == nil {
		return nil, nil
	}
	<-t.done
	if t.err != nil {
		return nil, t.err
	}
	res := t.res
	tr := &TwinRun{Envelopes: res.Envelopes, Delivered: res.Endpoint.Accepted}
	tr.Throughput, tr.Done = bulkRate(res.Endpoint.Deliveries, res.Started, res.Envelopes)
	for _, c := range res.Checks {
		if !c.Pass {
			tr.Failed = append(tr.Failed, c.Name)
		}
	}
	return tr, nil
}

// stop ends a twin that is still running (the run could not go on) and
// waits for it.
func (t *twinRun) stop() {
	if t != nil {
		t.cancel()
		<-t.done
	}
}

// run is the state of one Scenario run shared by the shipper and the
// verifier.
type run struct {
	progressMu sync.Mutex // one Progress call at a time: the sampler and the drain's last sample
	cfg        Scenario
	ep         *fakeingest.Endpoint
	start      time.Time
	spoolDir   string
	led        *ledger
	res        *Result

	mu    sync.Mutex // guards res.Samples and res.Kills while running
	kills []Kill

	// twin is the healthy twin's summary (nil without one), twinErr why it
	// could not run.
	twin    *TwinRun
	twinErr error
}

// shipper is one way of running the shipper under test.
type shipper interface {
	// ship offers every envelope, waits until the shipper has drained (or
	// ctx ends), stops it and reports what it knows. A nil outcome means
	// the scenario could not run at all.
	ship(ctx context.Context) (*shipOutcome, error)
	// state is what the shipper last said of its spool and gate.
	state() shipperState
}

// shipperState is the shipper's spool and gate at one moment (At), in real
// time; zero times when unknown or unset.
type shipperState struct {
	At             time.Time
	Queued         int64 // -1 if unknown
	Oldest         time.Time
	Delayed        int64
	NextDue        time.Time
	ThrottledUntil time.Time
}

// shipOutcome is what a shipper reports at the end.
type shipOutcome struct {
	counters     Counters // summed over the shipper's lives
	countersLive int      // how many lives the counters cover
	lives        int      // how many times the shipper ran
	residue      int64    // records left in the spool at the end
	residueExact bool
	spoolDrops   map[string]uint64 // lifetime drop counters of the spool
	quarantined  int               // files in quarantine/
	corruptIDs   map[string]bool   // ids of the segment the scenario corrupted
	exitErrors   []string          // a daemon that did not exit cleanly on SIGTERM
	drained      bool              // the shipper reported an empty queue
}

// ledger records the ids offered and acknowledged.
type ledger struct {
	mu      sync.Mutex
	offered []string
	acked   map[string]bool
	order   []string // acknowledged ids, in order
}

func newLedger(n int) *ledger {
	return &ledger{offered: make([]string, 0, n), acked: make(map[string]bool, n), order: make([]string, 0, n)}
}

func (l *ledger) offer(ids ...string) {
	l.mu.Lock()
	l.offered = append(l.offered, ids...)
	l.mu.Unlock()
}

func (l *ledger) ack(ids ...string) {
	l.mu.Lock()
	for _, id := range ids {
		if !l.acked[id] {
			l.acked[id] = true
			l.order = append(l.order, id)
		}
	}
	l.mu.Unlock()
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.order)
}

// sample records a Sample every SampleInterval until ctx ends.
func (r *run) sample(ctx context.Context, sh shipper) {
	every(ctx, r.cfg.SampleInterval, func() { r.sampleOnce(sh) })
}

// every calls f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

func (r *run) sampleOnce(sh shipper) {
	sst := sh.state()
	st := r.ep.Stats()
	s := Sample{
		Offset:       time.Since(r.start),
		Acknowledged: r.led.count(),
		Delivered:    st.Accepted,
		Queued:       sst.Queued,
		Requests:     st.Requests,
		Failures:     st.Requests - st.ByOutcome[fakeingest.FaultNone.Outcome(200)] - st.PartialSuccesses,
		InFlight:     st.InFlight,
		Healthy:      st.Healthy,
		Delayed:      sst.Delayed,
	}
	s.QueuedAt = r.offset(sst.At)
	if s.QueuedAt == 0 {
		s.QueuedAt = s.Offset
	}
	s.Oldest = r.offset(sst.Oldest)
	s.NextDue = r.offset(sst.NextDue)
	s.ThrottledUntil = r.offset(sst.ThrottledUntil)
	r.mu.Lock()
	r.res.Samples = append(r.res.Samples, s)
	r.mu.Unlock()
	if r.cfg.Progress != nil {
		r.progressMu.Lock()
		r.cfg.Progress(s)
		r.progressMu.Unlock()
	}
}

// offset is t since the run started; 0 for a zero t.
func (r *run) offset(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(r.start)
}

// realTime converts a time of the in-process shipper's clock to the wall
// clock: itself on the real clock, through a WarpClock's rate; zero for a
// zero time or another clock.
func (r *run) realTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	switch c := r.cfg.Clock.(type) {
	case nil:
		return t
	case *WarpClock:
		return time.Now().Add(c.Real(t.Sub(c.Now())))
	}
	return time.Time{}
}

// pace waits until envelope i may be offered under Rate, or ctx ends.
func (r *run) pace(ctx context.Context, i int) {
	if r.cfg.Rate <= 0 {
		return
	}
	due := r.start.Add(time.Duration(i) * time.Second / time.Duration(r.cfg.Rate))
	if d := time.Until(due); d > time.Millisecond {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
}

// kill records a SIGKILL of pid.
func (r *run) kill(pid int) {
	r.mu.Lock()
	r.kills = append(r.kills, Kill{Offset: time.Since(r.start), PID: pid})
	r.mu.Unlock()
}

func (r *run) killCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.kills)
}

// ScenarioShape returns the scenario the chaos kit's own tests run a named
// profile with: a few seconds, long enough to cross the profile's windows.
// The liveness profiles (those with thresholds) get the daemon's back-off
// ceiling, 5 minutes rather than 1 s, so that a shipper backing off
// without cause stalls for good instead of blipping; batches of 200 (most
// requests then meet a per-item fault of steady-partial) and a request
// timeout of 10 s, so that a request slowed down by a busy machine (the
// race detector) is not mistaken for a lost answer. A profile compared
// with a healthy twin's throughput offers its envelopes as fast as the
// shipper takes them: the rate is then the shipper's.
func ScenarioShape(p *fakeingest.Profile) Scenario {
	sc := Scenario{Profile: p, Envelopes: 3000, Rate: 600}
	if p.Liveness != (fakeingest.Liveness{}) {
		sc.Envelopes, sc.Rate, sc.BatchItems = 1600, 500, 200
		sc.BackoffMax, sc.RequestTimeout = 5*time.Minute, 10*time.Second
	}
	if p.Liveness.ThroughputRatio > 0 {
		sc.Envelopes, sc.Rate = 2000, 0
	}
	return sc
}
