package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// TestScenarioProfiles runs every named profile through the real exporter,
// spool and sender in this process and checks every invariant.
func TestScenarioProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	for _, name := range fakeingest.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := fakeingest.ProfileByName(name)
			if err != nil {
				t.Fatal(err)
			}
			sc := &Scenario{Profile: p, Seed: 20261201, Envelopes: 3000, Rate: 600, Dir: t.TempDir(), Timeout: 90 * time.Second}
			res := runScenario(t, sc)
			if !res.Passed() {
				t.Fatalf("scenario failed")
			}
			if faults := res.Endpoint.Requests - res.Endpoint.ByOutcome["ok_200"]; name != "healthy" && faults == 0 {
				t.Errorf("profile %s: no fault hit the run: %v", name, res.Endpoint.ByOutcome)
			}
		})
	}
}

// runScenario runs sc, failing the test if it could not run, and logs its
// result.
func runScenario(t *testing.T, sc *Scenario) *Result {
	t.Helper()
	res, err := sc.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, res)
	return res
}

func logResult(t *testing.T, res *Result) {
	t.Helper()
	for _, c := range res.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
		}
		t.Logf("%s %-13s %s", mark, c.Name, c.Detail)
	}
	t.Logf("%s seed %d (%s): %d envelopes, %d acknowledged, %d delivered, dropped %v, %d lost, %d duplicates, %d kills, %d requests %v, %v",
		res.Profile, res.Seed, res.Mode, res.Envelopes, res.Acknowledged, res.Delivered, res.Dropped, res.LostCount,
		res.Duplicates, len(res.Kills), res.Endpoint.Requests, res.Endpoint.ByOutcome, res.Elapsed.Round(time.Millisecond))
}

// A shipper that cannot start is the scenario's error, not a verdict.
func TestScenarioDaemonThatCannotStart(t *testing.T) {
	p, err := fakeingest.ProfileByName("healthy")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Profile: p, Envelopes: 10, Daemon: &Daemon{Path: "/nonexistent/aispool"}, Dir: t.TempDir(), Timeout: 30 * time.Second}
	res, err := sc.Run(context.Background())
	if !errors.Is(err, ErrScenario) || res != nil || !strings.Contains(err.Error(), "/nonexistent/aispool") {
		t.Fatalf("Run = %v, %v; want ErrScenario naming the binary", res, err)
	}
}
