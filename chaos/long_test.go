package chaos

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// chaosLong enables the long runs: go test ./chaos -run Long -timeout 30m -v -args -chaos.long
var chaosLong = flag.Bool("chaos.long", false, "run the long chaos scenarios (a million envelopes)")

// outageProfile is down (503, no Retry-After) from the start for d of real
// time, then healthy.
func outageProfile(d time.Duration) *fakeingest.Profile {
	return &fakeingest.Profile{Name: "long-outage", Windows: []fakeingest.Window{{Kind: "outage", Mode: "503", Duration: fakeingest.Duration(d)}}}
}

// TestScenarioSimulatedOutage runs six simulated hours of outage (a
// WarpClock at 3600×: six seconds) through the real exporter, spool and
// sender: the sender backs off to its 5-minute ceiling instead of storming
// the endpoint, and delivers everything when the endpoint comes back.
func TestScenarioSimulatedOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Parallel()
	clock := NewWarpClock(3600)
	sc := &Scenario{Profile: outageProfile(6 * time.Second), Seed: 1, Envelopes: 2000, Clock: clock,
		BackoffMax: 5 * time.Minute, Dir: t.TempDir(), Timeout: time.Minute}
	res := runScenario(t, sc)
	if !res.Passed() || res.Delivered != 2000 {
		t.Fatalf("scenario failed: %d delivered", res.Delivered)
	}
	// Six hours at a 5-minute ceiling (jittered ±50%) is 48 to 144
	// probes, plus about ten while the back-off grows from 1 s.
	probes := res.Endpoint.ByOutcome[fakeingest.FaultOutage.Outcome(503)]
	if probes < 30 || probes > 160 {
		t.Fatalf("%d requests during six simulated hours of outage, want 30..160 (5-minute back-off ceiling)", probes)
	}
	t.Logf("%d probes during 6 simulated hours of outage", probes)
}

// TestScenarioOutagePastMaxAge keeps the endpoint down for 50 simulated
// hours: every envelope outlives the sender's 47-hour limit and is dropped
// as expired, counted; none is lost uncounted and none delivered stale.
func TestScenarioOutagePastMaxAge(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Parallel()
	clock := NewWarpClock(36000) // a second is ten hours
	sc := &Scenario{Profile: outageProfile(5 * time.Second), Seed: 2, Envelopes: 500, Clock: clock,
		BackoffMax: 5 * time.Minute, Dir: t.TempDir(), Timeout: time.Minute}
	res := runScenario(t, sc)
	if !res.Passed() {
		t.Fatal("scenario failed")
	}
	if res.Delivered != 0 || res.Dropped["spool_expired"] != 500 || res.Counters.Dropped["expired"] != 500 {
		t.Fatalf("want all 500 dropped as expired, counted: delivered %d, dropped %v, counters %v",
			res.Delivered, res.Dropped, res.Counters.Dropped)
	}
}

// TestScenarioLongMillion sends a million envelopes through the flaky
// profile in process. Behind -chaos.long; figures in the README.
func TestScenarioLongMillion(t *testing.T) {
	if !*chaosLong {
		t.Skip("long run: -chaos.long")
	}
	p, err := fakeingest.ProfileByName("flaky")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Profile: p, Seed: 20261201, Envelopes: 1_000_000, BatchItems: 1000, Dir: t.TempDir(), Timeout: 20 * time.Minute}
	res := runScenario(t, sc)
	if !res.Passed() {
		t.Fatal("scenario failed")
	}
}

// productionShape is a scenario with the daemon's sender defaults: batches
// of up to 5000, back-off from 1 s to 5 minutes, a 30 s request timeout.
func productionShape(t *testing.T, name string, envelopes int) *Scenario {
	t.Helper()
	p, err := fakeingest.ProfileByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return &Scenario{Profile: p, Seed: 20261207, Envelopes: envelopes, BatchItems: 5000, BackoffInitial: time.Second,
		BackoffMax: 5 * time.Minute, RequestTimeout: 30 * time.Second, Dir: t.TempDir(), Timeout: 5 * time.Minute}
}

// firstRequest is when the endpoint got its first request, since the run
// started (to the sample).
func firstRequest(res *Result) time.Duration {
	for _, s := range res.Samples {
		if s.Requests > 0 {
			return s.Offset
		}
	}
	return 0
}

// writeReport writes res's HTML report to -htmldir, if set.
func writeReport(t *testing.T, name string, res *Result) {
	t.Helper()
	if *htmlDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(*htmlDir, name+".html"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := res.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
}

// TestLivenessTargets measures the liveness targets with the daemon's
// sender defaults, in real time, one run each. Behind -chaos.long (the
// burst alone takes about half a minute of back-off); figures in
// docs/chaos-testing.md.
//
//   - steady partial success, 1% of the items throttled: at least 90% of
//     the envelopes per second of a healthy twin;
//   - the fault burst (burst): all 4,000 envelopes delivered within 60 s of
//     the first request;
//   - one poison item among 2,000: the others delivered within 30 s.
func TestLivenessTargets(t *testing.T) {
	if !*chaosLong {
		t.Skip("long run: -chaos.long")
	}
	t.Run("steady-partial", func(t *testing.T) {
		sc := productionShape(t, "steady-partial", 100_000)
		res := runScenario(t, sc)
		writeReport(t, "target-steady-partial", res)
		lv := res.Liveness
		t.Logf("steady-partial: %.0f envelopes/s, the healthy twin %.0f: %.1f%%", lv.Throughput, lv.Twin.Throughput, 100*lv.Ratio)
		if !res.Passed() || lv.Ratio < 0.9 {
			t.Fatalf("want every check passed and at least 90%% of the healthy rate: %.1f%%", 100*lv.Ratio)
		}
	})
	t.Run("burst", func(t *testing.T) {
		sc := productionShape(t, "burst", 4000)
		res := runScenario(t, sc)
		writeReport(t, "target-burst", res)
		first, last := firstRequest(res), res.Endpoint.LastAccepted.Sub(res.Started)
		t.Logf("burst: the last of %d envelopes delivered %v after the first request (at %v); last fault at %v, recovery %v",
			res.Delivered, (last - first).Round(time.Millisecond), first.Round(time.Millisecond),
			res.Liveness.LastFault.Round(time.Millisecond), res.Liveness.Recovery.Round(time.Millisecond))
		if !res.Passed() || res.Delivered != 4000 || last-first > time.Minute {
			t.Fatalf("want all 4000 delivered within 60 s of the first request")
		}
	})
	t.Run("poison", func(t *testing.T) {
		sc := productionShape(t, "poison", 2000)
		res := runScenario(t, sc)
		writeReport(t, "target-poison", res)
		first, last := firstRequest(res), res.Endpoint.LastAccepted.Sub(res.Started)
		t.Logf("poison: %d delivered, %v dropped, the last delivered %v after the first request; %d isolations requests %v",
			res.Delivered, res.Dropped, (last - first).Round(time.Millisecond), res.Endpoint.Requests, res.Endpoint.ByOutcome)
		if !res.Passed() || res.Delivered != 1999 || res.Dropped["poison"] != 1 || last-first > 30*time.Second {
			t.Fatalf("want 1999 delivered and the poison item dropped within 30 s of the first request")
		}
	})
}
