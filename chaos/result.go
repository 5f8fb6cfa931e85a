package chaos

import (
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// Result is what a Scenario run measured and concluded: the input, the
// endpoint's records, the shipper's counters, the time series and the
// verdict of every invariant check.
type Result struct {
	// Profile, Seed and Mode identify the run (Mode is "in-process" or
	// "daemon"); Started is when it began, Elapsed how long it took.
	Profile string        `json:"profile"`
	Seed    uint64        `json:"seed"`
	Mode    string        `json:"mode"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed"`

	// Envelopes is how many envelopes the scenario offered to the
	// shipper; Acknowledged how many of them the shipper acknowledged
	// (ExportSpans returned nil, or the daemon answered 200).
	Envelopes    int `json:"envelopes"`
	Acknowledged int `json:"acknowledged"`
	// Refused counts the writes the shipper refused (the daemon answered
	// other than 200, or ExportSpans failed); the scenario offers them
	// again, as an SDK would.
	Refused int `json:"refused"`
	// Delivered counts the acknowledged ids the endpoint accepted at least
	// once; DeliveredUnacked the ids it accepted whose write was never
	// acknowledged (in flight when the shipper was killed: allowed).
	Delivered        int `json:"delivered"`
	DeliveredUnacked int `json:"deliveredUnacked"`
	// Dropped counts acknowledged ids not delivered but dropped for a
	// documented reason, by reason ("status_400", "sampled_out",
	// "corrupt", "full", "expired", ...).
	Dropped map[string]int `json:"dropped"`
	// Lost lists the acknowledged ids that were neither delivered nor
	// dropped for a counted reason (at most 1000; LostCount has them all).
	// A passing run has none.
	Lost      []string `json:"lost"`
	LostCount int      `json:"lostCount"`
	// Duplicates is the number of ids the endpoint accepted more than
	// once; UnexplainedDuplicates those with no crash or lost answer to
	// explain them.
	Duplicates            int `json:"duplicates"`
	UnexplainedDuplicates int `json:"unexplainedDuplicates"`

	// Kills lists the SIGKILLs of the shipper (daemon mode).
	Kills []Kill `json:"kills"`
	// Corruption describes the damage done to a segment (Scenario.
	// CorruptAfter), nil if none.
	Corruption *Corruption `json:"corruption,omitempty"`
	// Samples is the time series the scenario sampled while it ran.
	Samples []Sample `json:"samples"`
	// Counters is the shipper's Prometheus counters at the end (summed
	// over the daemon's lives where they survive a restart; see
	// Check "counters").
	Counters Counters `json:"counters"`
	// Endpoint is the endpoint's full report (requests by outcome, the
	// time series of failures by kind, Retry-After violations).
	Endpoint fakeingest.Report `json:"endpoint"`

	// Liveness is what the run measured of the pipe's flow: the figures of
	// the throughput, recovery and stall checks.
	Liveness Liveness `json:"liveness"`

	// Checks is the verdict of each invariant, in a fixed order.
	Checks []Check `json:"checks"`
}

// Liveness is how well a run kept the pipe flowing.
type Liveness struct {
	// Throughput is the bulk delivery rate: distinct envelopes the
	// endpoint accepted per second, from the start of the run until 90% of
	// those offered were delivered (until the last delivery if fewer
	// were); 0 if none.
	Throughput float64 `json:"throughput"`
	// Twin is the healthy run of the same shape made at the same time when
	// the profile asks for a throughput ratio; nil otherwise.
	Twin *TwinRun `json:"twin,omitempty"`
	// Ratio is, with a Twin, Throughput as a share of the twin's.
	Ratio float64 `json:"ratio,omitempty"`
	// LastFault is when the endpoint last answered other than a plain 200,
	// since the run started; negative if never.
	LastFault time.Duration `json:"lastFault"`
	// Recovery is the time from LastFault until the first sample that
	// found the spool empty, or holding only records appended after
	// LastFault (while envelopes keep coming, the backlog of the fault is
	// gone then); negative without a fault, or if that never happened.
	Recovery time.Duration `json:"recovery"`
	// Stall is the longest stretch during which the spool held records,
	// the endpoint was healthy (fakeingest.Stats.Healthy) and no request
	// was in flight or arrived, not counting the time while every record
	// waited a per-record retry delay not yet due; StallAt is when it
	// began, since the run started.
	Stall   time.Duration `json:"stall"`
	StallAt time.Duration `json:"stallAt"`
}

// TwinRun summarises the healthy twin of a run.
type TwinRun struct {
	// Envelopes offered and Delivered (distinct ids the endpoint accepted).
	Envelopes int `json:"envelopes"`
	Delivered int `json:"delivered"`
	// Throughput is its bulk delivery rate (as Liveness.Throughput), Done
	// when 90% of its envelopes had been delivered, since it started.
	Done       time.Duration `json:"done"`
	Throughput float64       `json:"throughput"`
	// Failed names its checks that failed (it must pass them all).
	Failed []string `json:"failed,omitempty"`
}

// Kill is one SIGKILL of the shipper.
type Kill struct {
	Offset time.Duration `json:"offset"` // since the run started
	PID    int           `json:"pid"`
}

// Corruption is the damage a scenario did to one segment file while the
// daemon was down.
type Corruption struct {
	Offset  time.Duration `json:"offset"`  // since the run started
	Segment string        `json:"segment"` // the file's name
	// Records is how many live records the segment held; Damaged how many
	// of them had a byte flipped in every copy in the file. A garbage page
	// was also written in the middle of the file.
	Records int `json:"records"`
	Damaged int `json:"damaged"`
}

// Sample is one point of a run's time series.
type Sample struct {
	Offset time.Duration `json:"offset"` // since the run started
	// Acknowledged is how many envelopes the shipper had acknowledged.
	Acknowledged int `json:"acknowledged"`
	// Delivered is how many distinct ids the endpoint had accepted.
	Delivered int `json:"delivered"`
	// Queued is the shipper's spool depth (records), -1 when unknown
	// (the daemon was down).
	Queued int64 `json:"queued"`
	// Requests is the endpoint's request count so far, Failures the
	// requests that were neither a plain 200 nor a partial success (a 206
	// with items accepted).
	Requests int `json:"requests"`
	Failures int `json:"failures"`
	// InFlight is how many requests the endpoint had in flight; Healthy
	// whether it was healthy (fakeingest.Stats.Healthy).
	InFlight int  `json:"inFlight"`
	Healthy  bool `json:"healthy"`
	// QueuedAt is when the shipper's state below was read (a daemon's is
	// scraped from its /metrics, up to a SampleInterval earlier), since
	// the run started.
	QueuedAt time.Duration `json:"queuedAt"`
	// Oldest is when the oldest record in the spool was appended, since
	// the run started; 0 when the spool was empty or it is unknown.
	Oldest time.Duration `json:"oldest,omitempty"`
	// Delayed is how many of the Queued records waited a per-record retry
	// delay, NextDue when the first of them came due (since the run
	// started; 0 if none waited).
	Delayed int64         `json:"delayed"`
	NextDue time.Duration `json:"nextDue,omitempty"`
	// ThrottledUntil is the shipper's gate (back-off or Retry-After):
	// no request before it, since the run started; 0 if it was never
	// armed or is unknown.
	ThrottledUntil time.Duration `json:"throttledUntil,omitempty"`
}

// Counters are the shipper's Prometheus counters the verifier reads
// (aispool_envelopes_*_total and aispool_requests_total).
type Counters struct {
	Enqueued uint64            `json:"enqueued"`
	Sent     uint64            `json:"sent"`
	Retried  uint64            `json:"retried"`
	Dropped  map[string]uint64 `json:"dropped"`
	Requests uint64            `json:"requests"`
}

// Check is the verdict of one invariant.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// Passed reports whether every check passed.
func (r *Result) Passed() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return len(r.Checks) > 0
}
