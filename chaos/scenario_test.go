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
// spool and sender in this process and checks every invariant, the
// liveness thresholds of the profile included.
func TestScenarioProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	for _, name := range fakeingest.ProfileNames() {
		p, err := fakeingest.ProfileByName(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			// A run compared with its healthy twin runs alone with it,
			// before the others: both then share the machine alike.
			if p.Liveness.ThroughputRatio == 0 {
				t.Parallel()
			}
			sc := ScenarioShape(p)
			sc.Seed, sc.Dir, sc.Timeout = 20261201, t.TempDir(), 90*time.Second
			res := runScenario(t, &sc)
			if !res.Passed() {
				t.Fatalf("scenario failed")
			}
			if faults := res.Endpoint.Requests - res.Endpoint.ByOutcome["ok_200"]; name != "healthy" && faults == 0 {
				t.Errorf("profile %s: no fault hit the run: %v", name, res.Endpoint.ByOutcome)
			}
			checkProfileHit(t, p, res)
		})
	}
}

// checkProfileHit checks that the faults of the liveness profiles did
// happen, and did what they should: the poison item dropped as poison, a
// wrong endpoint counted, the script played.
func checkProfileHit(t *testing.T, p *fakeingest.Profile, res *Result) {
	t.Helper()
	switch {
	case p.Poison.Count > 0:
		if res.Dropped["poison"] != p.Poison.Count || res.Counters.Dropped["poison"] != uint64(p.Poison.Count) {
			t.Errorf("want %d envelopes dropped as poison: dropped %v, counters %v", p.Poison.Count, res.Dropped, res.Counters.Dropped)
		}
	case len(p.Windows) > 0 && p.Windows[0].Kind == fakeingest.WindowWrongEndpoint:
		n := 0
		for k, v := range res.Endpoint.ByOutcome {
			if strings.HasPrefix(k, string(fakeingest.FaultWrongEndpoint)) {
				n += v
			}
		}
		if n == 0 || res.Dropped["status_404"] != 0 || res.Delivered != res.Acknowledged {
			t.Errorf("wrong endpoint: %d such answers, dropped %v, %d of %d delivered", n, res.Dropped, res.Delivered, res.Acknowledged)
		}
	case len(p.Script) > 0:
		steps := 0
		for _, st := range p.Script {
			steps += max(st.Count, 1)
		}
		if res.Endpoint.Requests < steps {
			t.Errorf("the script has %d steps, the endpoint answered %d requests", steps, res.Endpoint.Requests)
		}
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
