package fakeingest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// e2eEnvelopes is how many envelopes each end-to-end run ships.
const e2eEnvelopes = 1500

// TestSenderDrainsThroughEveryProfile drives the real sender over a real
// spool, filled with synthetic envelopes, against the endpoint running each
// named profile, until the spool is drained; then it reconciles the three
// views (endpoint, sender, spool):
//
//   - nothing is lost: every envelope was accepted, or the endpoint told
//     the sender (intact) to drop it for a documented reason;
//   - the sender's drops by reason are exactly the endpoint's intact drop
//     answers, and every record left the spool exactly once;
//   - no request arrived before a Retry-After ended;
//   - duplicates only where an answer was lost.
func TestSenderDrainsThroughEveryProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs take a few seconds each")
	}
	for _, name := range ProfileNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := ProfileByName(name)
			if err != nil {
				t.Fatal(err)
			}
			// Hang past the sender's (short) request timeout, not past
			// the default 30 s one.
			p.Hang.Duration = Duration(1500 * time.Millisecond)
			runE2E(t, p, 20261125, e2eBatches(name))
		})
	}
}

// TestSenderFollowsRedirects drives the real sender against an endpoint that
// redirects often, with a short max-age, and fails now and then on both
// listeners.
func TestSenderFollowsRedirects(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Parallel()
	p := &Profile{
		Name:     "redirects",
		Redirect: Redirect{Probability: 0.3, Codes: []int{307, 308}, MaxAge: ptr(Duration(time.Second))},
		Statuses: map[int]float64{503: 0.1},
		Throttle: Throttle{Probability: 0.05},
	}
	res := runE2E(t, p, 7, e2eBatches(p.Name))
	if res.report.ByListener["secondary"] == 0 || res.sender.Redirects == 0 {
		t.Errorf("redirects not followed: %v, sender followed %d", res.report.ByListener, res.sender.Redirects)
	}
}

// TestSenderHonoursRetryAfterAcrossRedirect replays one exact sequence
// against a sender sending one request at a time: the first listener
// redirects (307, not to be remembered), the second answers 439 with
// Retry-After: 2; the sender's next request goes to the first listener,
// which redirects again. The sender knows the second endpoint is throttled
// for 2 s, so it must not follow that redirect before the time is up.
func TestSenderHonoursRetryAfterAcrossRedirect(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Parallel()
	p := &Profile{
		Name:     "redirect-then-throttle",
		Redirect: Redirect{Probability: 0.3, Codes: []int{307}, MaxAge: ptr(Duration(0))},
		Throttle: Throttle{Probability: 0.2, Codes: []int{439}, RetryAfter: RetryAfter{MinSeconds: 2}},
	}
	// Find a seed whose requests 0, 1, 2 (primary, secondary, primary)
	// draw redirect, throttle, redirect.
	c := compile(p)
	fault := func(seed, n uint64, secondary bool) Fault {
		return c.draw(rand.New(rand.NewPCG(seed, n)), 0, secondary).fault
	}
	var seed uint64
	for s := uint64(1); seed == 0; s++ {
		if fault(s, 0, false) == FaultRedirect && fault(s, 1, true) == FaultThrottle && fault(s, 2, false) == FaultRedirect {
			seed = s
		}
	}
	// No grace: one request at a time, none can be in flight.
	ep := startEndpoint(t, Config{Profile: p, Seed: seed, RetryAfterGrace: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sp, err := spool.Open(ctx, filepath.Join(t.TempDir(), "spool"), &spool.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Append(ctx, append(Envelope("a"), '\n'), append(Envelope("b"), '\n')); err != nil {
		t.Fatal(err)
	}
	s, err := sender.New(sender.Config{
		Queue: sender.SpoolQueue(sp), ConnectionString: ep.ConnectionString(""),
		MaxInFlight: 1, MaxBatchItems: 1, BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		PollInterval: 10 * time.Millisecond, Logger: discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	_ = s.Close(ctx)
	rep := ep.Report()
	if rep.Unaccounted([]string{"a", "b"}) != nil || rep.ByOutcome["redirect_307"] < 2 || rep.ByOutcome["throttle_439"] < 1 {
		t.Fatalf("the sequence did not happen: %v, ids %v", rep.ByOutcome, rep.IDs)
	}
	if rep.RetryAfterViolations > 0 {
		t.Fatalf("Retry-After violations: %+v", rep.Violations)
	}
}

// e2eBatches sizes the sender's batches: small ones give the faults many
// requests to hit; throttled gets large ones, as each of its throttles costs
// a 1-2 s wait.
func e2eBatches(profile string) func(*sender.Config) {
	return func(c *sender.Config) {
		c.MaxBatchItems = 25
		if profile == "throttled" {
			c.MaxBatchItems = 150
		}
	}
}

// e2eResult is what one end-to-end run recorded.
type e2eResult struct {
	report Report
	sender sender.Stats
}

// runE2E ships e2eEnvelopes synthetic envelopes through a spool and the
// real sender (configured by tune) to an endpoint running p with seed, and
// checks the reconciliation described at TestSenderDrainsThroughEveryProfile.
func runE2E(t *testing.T, p *Profile, seed uint64, tune func(*sender.Config)) e2eResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ep := startEndpoint(t, Config{Profile: p, Seed: seed})
	sp, err := spool.Open(ctx, filepath.Join(t.TempDir(), "spool"), &spool.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	want := ids(p.Name, e2eEnvelopes)
	recs := make([][]byte, len(want))
	poison := map[string]bool{}
	for i, id := range want {
		var opts []EnvelopeOption
		if p.Poison.Marked(i, len(want)) {
			opts, poison[id] = append(opts, WithPoison()), true
		}
		recs[i] = append(Envelope(id, opts...), '\n')
	}
	// Produce while the sender drains, for long enough to cross every
	// window of the profile.
	produceFor := 2 * time.Second
	for _, w := range p.Windows {
		produceFor = max(produceFor, (w.Start+w.Duration).D()+500*time.Millisecond)
	}
	const tick = 250 * time.Millisecond
	chunks := int(produceFor / tick)
	produced := make(chan error, 1)
	go func() {
		defer close(produced)
		t := time.NewTicker(tick)
		defer t.Stop()
		for i := range chunks {
			lo, hi := i*len(recs)/chunks, (i+1)*len(recs)/chunks
			if err := sp.Append(ctx, recs[lo:hi]...); err != nil {
				produced <- err
				return
			}
			<-t.C
		}
	}()

	cfg := sender.Config{
		Queue:              sender.SpoolQueue(sp),
		ConnectionString:   ep.ConnectionString(""),
		RequestTimeout:     time.Second,
		TransportRetryWait: 20 * time.Millisecond,
		BackoffInitial:     20 * time.Millisecond,
		BackoffMax:         250 * time.Millisecond,
		PollInterval:       20 * time.Millisecond,
		Logger:             discard(),
	}
	tune(&cfg)
	s, err := sender.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	if err := <-produced; err != nil {
		t.Fatalf("Append: %v", err)
	}
	flushCtx, flushCancel := context.WithTimeout(ctx, 75*time.Second)
	defer flushCancel()
	if err := s.Flush(flushCtx); err != nil {
		t.Errorf("Flush: %v (spool %+v, sender %+v)", err, sp.Stats(), s.Stats())
	}
	elapsed := time.Since(start)
	if err := s.Close(ctx); err != nil {
		t.Errorf("sender Close: %v", err)
	}
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := ep.Close(); err != nil {
		t.Errorf("endpoint Close: %v", err)
	}

	rep := ep.Report()
	ss := s.Stats()
	sps := sp.Stats()

	// The spool is drained and every record left it exactly once.
	spDropped := sum(sps.Dropped)
	if sps.Records != 0 || sps.Leased != 0 || sps.Acked+spDropped != e2eEnvelopes {
		t.Errorf("spool: %d records, %d leased, %d acked + %d dropped; want 0, 0, %d in all", sps.Records, sps.Leased, sps.Acked, spDropped, e2eEnvelopes)
	}
	senderDropped := sum(ss.Dropped)
	if int(ss.Sent)+int(senderDropped) != e2eEnvelopes {
		t.Errorf("sender: %d sent + %d dropped, want %d", ss.Sent, senderDropped, e2eEnvelopes)
	}

	// Nothing lost: accepted, or dropped for a reason the endpoint gave,
	// or, for the items marked poison only, dropped by the sender as
	// poison after requests holding them failed.
	var missing []string
	poisoned := 0
	for _, id := range rep.Unaccounted(want) {
		if poison[id] && rep.IDs[id].Poison > 0 {
			poisoned++
			continue
		}
		missing = append(missing, id)
	}
	if len(missing) > 0 {
		t.Errorf("%d envelopes neither accepted nor refused for good, e.g. %v (%+v)", len(missing), missing[:min(5, len(missing))], rep.IDs[missing[0]])
	}
	if int(ss.Dropped[breeze.ReasonPoison]) != poisoned || poisoned != len(poison) {
		t.Errorf("%d of the %d poison items undelivered, the sender dropped %d as poison", poisoned, len(poison), ss.Dropped[breeze.ReasonPoison])
	}
	// The sender dropped exactly what the endpoint told it to drop.
	for _, reason := range unionKeys(ss.Dropped, rep.Dropped) {
		if reason == breeze.ReasonPoison {
			continue
		}
		if int(ss.Dropped[reason]) != rep.Dropped[reason] {
			t.Errorf("dropped as %s: sender %d, endpoint's intact answers %d", reason, ss.Dropped[reason], rep.Dropped[reason])
		}
	}
	for reason, n := range sps.Dropped {
		if n != ss.Dropped[reason] {
			t.Errorf("dropped as %s: spool %d, sender %d", reason, n, ss.Dropped[reason])
		}
	}
	// Retry-After honoured.
	if rep.RetryAfterViolations != 0 {
		t.Errorf("%d Retry-After violations: %+v", rep.RetryAfterViolations, rep.Violations)
	}
	// Duplicates only where an answer was lost.
	if rep.UnexplainedDuplicates != 0 {
		var bad []string
		for id, st := range rep.IDs {
			if st.Accepted-st.AcceptedLost > 1 {
				bad = append(bad, fmt.Sprintf("%s %+v", id, st))
			}
		}
		sort.Strings(bad)
		t.Errorf("%d duplicates with intact answers: %s", rep.UnexplainedDuplicates, strings.Join(bad[:min(5, len(bad))], "; "))
	}
	if rep.Duplicates > 0 && rep.LostAnswers == 0 {
		t.Errorf("%d duplicates without any lost answer", rep.Duplicates)
	}

	// The profile's faults happened while the sender was at work. Every
	// window must have been felt when nothing else can hold the sender
	// back; with random faults (a Retry-After, a back-off) the sender may
	// wait through a short window, so then some fault must have been hit.
	felt := 0
	for i, w := range p.Windows {
		var seen bool
		switch {
		case w.Kind == WindowThrottle:
			seen = rep.ByOutcome[FaultThrottleWindow.Outcome(cmp.Or(w.Code, 429))] > 0
		case w.Kind == WindowWrongEndpoint:
			seen = ss.WrongEndpoint > 0 && rep.ByOutcome[FaultWrongEndpoint.Outcome(200)]+
				rep.ByOutcome[FaultWrongEndpoint.Outcome(404)]+rep.ByOutcome[FaultWrongEndpoint.Outcome(405)] > 0
		case w.Mode == OutageRefuse:
			seen = ss.Requests[0] > 0 // connection errors
		default:
			seen = rep.ByOutcome[FaultOutage.Outcome(503)] > 0
		}
		if seen {
			felt++
		} else {
			t.Logf("window %d (%s %s) did not affect the run", i, w.Kind, w.Mode)
		}
	}
	randomFaults := len(compile(p).choices) > 0 || p.Partial.Probability > 0
	switch {
	case p.Poison.Count > 0 && rep.ByOutcome[FaultPoison.Outcome(cmp.Or(p.Poison.Status, 500))] == 0:
		t.Errorf("no request failed over a poison item: %v", rep.ByOutcome)
	case len(p.Script) > 0 && rep.Requests == rep.ByOutcome[FaultNone.Outcome(200)]:
		t.Errorf("the script did not run: %v", rep.ByOutcome)
	case !randomFaults && felt < len(p.Windows):
		t.Errorf("%d of %d windows affected the run: %v, sender %v", felt, len(p.Windows), rep.ByOutcome, ss.Requests)
	case randomFaults && rep.Requests == rep.ByOutcome[FaultNone.Outcome(200)]:
		t.Errorf("no fault hit the run: %v", rep.ByOutcome)
	}

	for _, r := range rep.Races {
		t.Logf("early request within the grace: %v after the Retry-After answer, %v early", r.At.Sub(r.Given), r.Early)
	}
	t.Logf("profile %s seed %d: %d envelopes, %d accepted, %d dropped %v, %d duplicates (%d lost answers), "+
		"%d Retry-After violations (%d races), %d requests %v %v, drained in %v",
		p.Name, rep.Seed, e2eEnvelopes, rep.Accepted, senderDropped, ss.Dropped, rep.Duplicates, rep.LostAnswers,
		rep.RetryAfterViolations, rep.RetryAfterRaces, rep.Requests, rep.ByListener, rep.ByOutcome, elapsed.Round(time.Millisecond))
	return e2eResult{report: rep, sender: ss}
}

func unionKeys[A ~map[string]uint64, B ~map[string]int](a A, b B) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
