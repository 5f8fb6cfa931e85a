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

	// Checks is the verdict of each invariant, in a fixed order.
	Checks []Check `json:"checks"`
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
	// requests that were not a plain 200.
	Requests int `json:"requests"`
	Failures int `json:"failures"`
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
