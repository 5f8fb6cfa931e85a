package chaos

import (
	"flag"
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
