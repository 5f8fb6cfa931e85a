package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// testDaemon runs this test binary as `aispool` (see TestMain).
func testDaemon() *chaos.Daemon {
	return &chaos.Daemon{Path: os.Args[0], Env: []string{"AISPOOL_TEST_MAIN=1"}}
}

// TestChaosDaemonScenarios runs the chaos kit's scenarios against the real
// daemon in child processes: SIGKILLed at random, with a full disk, and with
// a segment corrupted mid-run.
func TestChaosDaemonScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	cases := []struct {
		name    string
		profile string
		sc      chaos.Scenario
		check   func(t *testing.T, res *chaos.Result)
	}{
		{name: "kill-loop", profile: "flaky", sc: chaos.Scenario{Envelopes: 6000, Rate: 2000, KillEvery: 150 * time.Millisecond, MinKills: 20},
			check: func(t *testing.T, res *chaos.Result) {
				if len(res.Kills) < 20 {
					t.Errorf("%d kills, want at least 20", len(res.Kills))
				}
			}},
		// The same fed through the OTLP/HTTP intake.
		{name: "kill-loop-otlp", profile: "flaky", sc: chaos.Scenario{Envelopes: 6000, Rate: 2000, KillEvery: 150 * time.Millisecond, MinKills: 20},
			check: func(t *testing.T, res *chaos.Result) {
				if len(res.Kills) < 20 {
					t.Errorf("%d kills, want at least 20", len(res.Kills))
				}
			}},
		// The outage lets the spool grow to the file size limit: the
		// daemon answers 503 until the drain makes room.
		{name: "disk-full", profile: "outage", sc: chaos.Scenario{Envelopes: 6000, Rate: 2000, FileSizeLimit: 256 << 10},
			check: func(t *testing.T, res *chaos.Result) {
				if res.Refused == 0 {
					t.Errorf("the disk never filled up: no write was refused")
				}
				// No crash and no lost answer: any duplicate is a resend
				// of something the service already acknowledged.
				if res.Duplicates != 0 {
					t.Errorf("%d duplicates while the disk was full", res.Duplicates)
				}
			}},
		// Corrupted during the outage, while the spool holds a backlog.
		{name: "corrupt-segment", profile: "outage", sc: chaos.Scenario{Envelopes: 4000, Rate: 2000, CorruptAfter: 1500 * time.Millisecond},
			check: func(t *testing.T, res *chaos.Result) {
				if len(res.Kills) != 1 {
					t.Errorf("%d kills, want the one before the corruption", len(res.Kills))
				}
				if c := res.Corruption; c == nil || c.Damaged == 0 || res.Dropped["corrupt"] == 0 {
					t.Errorf("the corruption was not done or not detected: %+v, dropped %v", c, res.Dropped)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := fakeingest.ProfileByName(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			sc := tc.sc
			sc.Profile, sc.Seed, sc.Daemon, sc.Dir, sc.Timeout = p, 20261201, testDaemon(), t.TempDir(), 2*time.Minute
			sc.Daemon.OTLP = tc.name == "kill-loop-otlp"
			res, err := sc.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Checks {
				t.Logf("pass=%v %-13s %s", c.Pass, c.Name, c.Detail)
			}
			t.Logf("%d envelopes, %d acknowledged, %d delivered (+%d unacknowledged), dropped %v, %d lost, %d duplicates, %d kills, requests %v, %v",
				res.Envelopes, res.Acknowledged, res.Delivered, res.DeliveredUnacked, res.Dropped, res.LostCount, res.Duplicates,
				len(res.Kills), res.Endpoint.ByOutcome, res.Elapsed.Round(time.Millisecond))
			t.Logf("refused %d, corruption %+v", res.Refused, res.Corruption)
			if !res.Passed() {
				t.Fatal("scenario failed")
			}
			tc.check(t, res)
		})
	}
}

// TestChaosDaemonLiveness runs the chaos kit's liveness profiles (those
// with thresholds: steady partial success, a poison item, a wrong
// endpoint, a proxy's HTML page, a fault burst) against the real daemon in
// a child process: nothing lost, and the pipe kept flowing.
func TestChaosDaemonLiveness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, name := range fakeingest.ProfileNames() {
		p, err := fakeingest.ProfileByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Liveness == (fakeingest.Liveness{}) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// A run compared with its healthy twin runs alone with it.
			if p.Liveness.ThroughputRatio == 0 {
				t.Parallel()
			}
			sc := chaos.ScenarioShape(p)
			sc.Seed, sc.Daemon, sc.Dir, sc.Timeout = 20261201, testDaemon(), t.TempDir(), 2*time.Minute
			res, err := sc.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Checks {
				t.Logf("pass=%v %-13s %s", c.Pass, c.Name, c.Detail)
			}
			t.Logf("%d envelopes, %d delivered, dropped %v, %d lost, requests %v, %v", res.Envelopes, res.Delivered, res.Dropped,
				res.LostCount, res.Endpoint.ByOutcome, res.Elapsed.Round(time.Millisecond))
			if !res.Passed() {
				t.Fatal("scenario failed")
			}
			switch {
			case p.Poison.Count > 0:
				if res.Dropped["poison"] != p.Poison.Count || res.Counters.Dropped["poison"] != uint64(p.Poison.Count) {
					t.Errorf("want %d dropped as poison: dropped %v, the daemon's counters %v", p.Poison.Count, res.Dropped, res.Counters.Dropped)
				}
			case len(p.Windows) > 0 || len(p.Script) > 0:
				if res.Endpoint.Requests == res.Endpoint.ByOutcome["ok_200"] {
					t.Errorf("no fault hit the run: %v", res.Endpoint.ByOutcome)
				}
			}
		})
	}
}
