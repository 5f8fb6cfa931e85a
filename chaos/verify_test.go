package chaos

import (
	"errors"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// TestVerifyCatches feeds the verifier runs that went wrong in one way each
// and checks that exactly the matching check fails.
func TestVerifyCatches(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	healthy := func() (*run, *shipOutcome) {
		r := &run{cfg: Scenario{MaxInFlight: 2}, start: time.Now(), led: newLedger(len(ids))}
		r.led.offer(ids...)
		r.led.ack(ids...)
		r.res = &Result{Envelopes: len(ids)}
		rep := fakeingest.Report{IDs: map[string]fakeingest.IDStats{}}
		rep.Dropped = map[string]int{}
		for _, id := range ids {
			rep.IDs[id] = fakeingest.IDStats{Accepted: 1}
		}
		rep.ItemsAcknowledged, rep.Accepted, rep.Healthy = len(ids), len(ids), true
		rep.Concurrency = []time.Duration{time.Second, time.Second}
		r.res.Endpoint = rep
		out := &shipOutcome{lives: 1, countersLive: 1, residueExact: true, drained: true,
			counters: Counters{Enqueued: 4, Sent: 4, Dropped: map[string]uint64{}}}
		return r, out
	}
	cases := []struct {
		name  string
		spoil func(r *run, out *shipOutcome)
		fails []string
		err   error
	}{
		{"healthy", func(*run, *shipOutcome) {}, nil, nil},
		{"lost", func(r *run, out *shipOutcome) {
			r.res.Endpoint.IDs["c"] = fakeingest.IDStats{Retriable: 3}
			r.res.Endpoint.ItemsAcknowledged = 3
			out.counters.Sent = 3
		}, []string{CheckNothingLost}, nil},
		{"dropped by the endpoint is not lost", func(r *run, out *shipOutcome) {
			r.res.Endpoint.IDs["c"] = fakeingest.IDStats{Dropped: 1, Reason: "status_400"}
			r.res.Endpoint.Dropped["status_400"] = 1
			r.res.Endpoint.ItemsAcknowledged = 3
			out.counters.Sent, out.counters.Dropped["status_400"] = 3, 1
		}, nil, nil},
		{"dropped by policy, counted", func(r *run, out *shipOutcome) {
			r.res.Endpoint.IDs["c"] = fakeingest.IDStats{}
			r.res.Endpoint.ItemsAcknowledged = 3
			out.counters.Sent = 3
			out.spoolDrops = map[string]uint64{"expired": 1}
		}, nil, nil},
		{"unexplained duplicates", func(r *run, out *shipOutcome) {
			r.res.Endpoint.Duplicates, r.res.Endpoint.UnexplainedDuplicates = 1, 1
		}, []string{CheckDuplicates}, nil},
		{"duplicates after a crash", func(r *run, out *shipOutcome) {
			r.res.Endpoint.Duplicates, r.res.Endpoint.UnexplainedDuplicates = 1, 1
			r.kills = []Kill{{PID: 1}}
			out.lives = 2
		}, nil, nil},
		{"retry-after", func(r *run, out *shipOutcome) {
			r.res.Endpoint.RetryAfterViolations = 1
			r.res.Endpoint.Violations = []fakeingest.Violation{{Listener: "primary", Early: time.Second}}
		}, []string{CheckRetryAfter}, nil},
		{"too many in flight", func(r *run, out *shipOutcome) {
			r.res.Endpoint.Concurrency = append(r.res.Endpoint.Concurrency, 200*time.Millisecond)
		}, []string{CheckPace}, nil},
		{"a connection closing is not a violation", func(r *run, out *shipOutcome) {
			r.res.Endpoint.Concurrency = append(r.res.Endpoint.Concurrency, 2*time.Millisecond)
		}, nil, nil},
		{"counters off", func(r *run, out *shipOutcome) { out.counters.Sent = 5 }, []string{CheckCounters}, nil},
		{"counters short after kills are allowed", func(r *run, out *shipOutcome) {
			out.counters.Sent = 2
			r.kills = []Kill{{PID: 1}}
			out.lives = 2
		}, nil, nil},
		{"counters over after kills are not", func(r *run, out *shipOutcome) {
			out.counters.Sent = 9
			r.kills = []Kill{{PID: 1}}
			out.lives = 2
		}, []string{CheckCounters}, nil},
		{"not drained", func(r *run, out *shipOutcome) { out.residue = 3 }, []string{CheckDrained}, nil},
		{"unclean exit", func(r *run, out *shipOutcome) { out.exitErrors = []string{"exit status 1"} }, []string{CheckCleanExit}, nil},
		{"run error", func(*run, *shipOutcome) {}, []string{CheckCompleted}, errors.New("timed out")},
		{"too few kills", func(r *run, out *shipOutcome) { r.cfg.MinKills = 3 }, []string{CheckKills}, nil},

		{"poison item dropped, counted", func(r *run, out *shipOutcome) {
			r.res.Endpoint.IDs["c"] = fakeingest.IDStats{Retriable: 3, Poison: 3}
			r.res.Endpoint.ItemsAcknowledged = 3
			out.counters.Sent, out.counters.Dropped["poison"] = 3, 1
			out.spoolDrops = map[string]uint64{"poison": 1}
		}, nil, nil},
		{"an item that was not poison dropped as poison", func(r *run, out *shipOutcome) {
			r.res.Endpoint.IDs["c"] = fakeingest.IDStats{Retriable: 3}
			r.res.Endpoint.ItemsAcknowledged = 3
			out.counters.Sent, out.counters.Dropped["poison"] = 3, 1
			out.spoolDrops = map[string]uint64{"poison": 1}
		}, []string{CheckNothingLost, CheckCounters}, nil},

		{"throughput above the floor", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputFloor: 3})
			r.res.Endpoint.Deliveries = []fakeingest.Delivery{{At: r.start.Add(time.Second), Accepted: 4}}
		}, nil, nil},
		{"throughput below the floor", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputFloor: 100})
			r.res.Endpoint.Deliveries = []fakeingest.Delivery{{At: r.start.Add(time.Second), Accepted: 4}}
		}, []string{CheckThroughput}, nil},
		{"as fast as the healthy twin", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputRatio: 0.9})
			r.res.Endpoint.Deliveries = []fakeingest.Delivery{{At: r.start.Add(time.Second), Accepted: 4}}
			r.twin = &TwinRun{Envelopes: 4, Delivered: 4, Done: 950 * time.Millisecond, Throughput: 4.2}
		}, nil, nil},
		{"slower than the healthy twin", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputRatio: 0.9})
			r.res.Endpoint.Deliveries = []fakeingest.Delivery{{At: r.start.Add(time.Second), Accepted: 4}}
			r.twin = &TwinRun{Envelopes: 4, Delivered: 4, Done: 100 * time.Millisecond, Throughput: 40}
		}, []string{CheckThroughput}, nil},
		{"a healthy twin that failed is no baseline", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputRatio: 0.9})
			r.res.Endpoint.Deliveries = []fakeingest.Delivery{{At: r.start.Add(time.Second), Accepted: 4}}
			r.twin = &TwinRun{Envelopes: 4, Delivered: 3, Done: time.Second, Throughput: 3, Failed: []string{CheckNothingLost}}
		}, []string{CheckThroughput}, nil},
		{"a ratio without a twin", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{ThroughputRatio: 0.9})
			r.twinErr = errors.New("the twin's daemon did not start")
		}, []string{CheckThroughput}, nil},

		{"prompt recovery", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Recovery: fakeingest.Duration(time.Second)})
			r.res.Endpoint.LastFault = r.start.Add(time.Second)
			r.res.Samples = samples(40, func(i int, s *Sample) { // busy, the backlog gone at 1.5 s
				s.Queued, s.Oldest, s.Requests = 3, 500*time.Millisecond, i
				if s.Offset >= 1500*time.Millisecond {
					s.Queued = 0
				}
			})
		}, nil, nil},
		{"slow recovery", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Recovery: fakeingest.Duration(time.Second)})
			r.res.Endpoint.LastFault = r.start.Add(time.Second)
			r.res.Samples = samples(40, func(i int, s *Sample) { // busy, the backlog gone at 3.5 s
				s.Queued, s.Oldest, s.Requests = 3, 500*time.Millisecond, i
				if s.Offset >= 3500*time.Millisecond {
					s.Queued = 0
				}
			})
		}, []string{CheckRecovery}, nil},
		{"never recovered", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Recovery: fakeingest.Duration(time.Second)})
			r.res.Endpoint.LastFault = r.start.Add(time.Second)
			r.res.Samples = samples(40, func(i int, s *Sample) { s.Queued, s.Oldest, s.Requests = 3, 500*time.Millisecond, i })
		}, []string{CheckRecovery}, nil},
		{"recovered while envelopes keep coming", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Recovery: fakeingest.Duration(time.Second)})
			r.res.Endpoint.LastFault = r.start.Add(time.Second)
			r.res.Samples = samples(40, func(i int, s *Sample) { // never empty, but only new records from 1.3 s
				s.Queued, s.Oldest, s.Requests = 3, 500*time.Millisecond, i
				if s.Offset >= 1300*time.Millisecond {
					s.Oldest = s.Offset - 50*time.Millisecond
				}
			})
		}, nil, nil},

		{"stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) { s.Queued, s.Healthy, s.Requests = 2, true, 5 })
		}, []string{CheckStall}, nil},
		{"busy is no stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) { s.Queued, s.Healthy, s.Requests = 2, true, i })
		}, nil, nil},
		{"a request in flight is no stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) { s.Queued, s.Healthy, s.Requests, s.InFlight = 2, true, 5, 1 })
		}, nil, nil},
		{"waiting out an unhealthy endpoint is no stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) { s.Queued, s.Healthy, s.Requests = 2, i%10 == 0, 5 })
		}, nil, nil},
		{"waiting a retry delay is no stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) {
				s.Queued, s.Delayed, s.NextDue, s.Healthy, s.Requests = 2, 2, 10*time.Second, true, 5
			})
		}, nil, nil},
		{"the wait after a retry delay came due is a stall", func(r *run, out *shipOutcome) {
			r.cfg.Profile = liveness(fakeingest.Liveness{Stall: fakeingest.Duration(time.Second)})
			r.res.Samples = samples(30, func(i int, s *Sample) {
				s.Queued, s.Delayed, s.NextDue, s.Healthy, s.Requests = 2, 2, 500*time.Millisecond, true, 5
			})
		}, []string{CheckStall}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, out := healthy()
			tc.spoil(r, out)
			r.verify(out, tc.err)
			failed := map[string]bool{}
			for _, c := range r.res.Checks {
				if !c.Pass {
					failed[c.Name] = true
				}
			}
			if len(failed) != len(tc.fails) {
				t.Fatalf("failed checks %v, want %v: %+v", failed, tc.fails, r.res.Checks)
			}
			for _, name := range tc.fails {
				if !failed[name] {
					t.Fatalf("check %s passed, want it to fail: %+v", name, r.res.Checks)
				}
			}
			if r.res.Passed() != (len(tc.fails) == 0) {
				t.Fatalf("Passed() = %v", r.res.Passed())
			}
		})
	}
}

// liveness returns a profile with the liveness thresholds l.
func liveness(l fakeingest.Liveness) *fakeingest.Profile {
	return &fakeingest.Profile{Name: "spoiled", Liveness: l}
}

// samples returns n samples 100 ms apart (from 100 ms), each set by f.
func samples(n int, f func(i int, s *Sample)) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i].Offset = time.Duration(i+1) * 100 * time.Millisecond
		f(i, &out[i])
		out[i].QueuedAt = out[i].Offset
	}
	return out
}
