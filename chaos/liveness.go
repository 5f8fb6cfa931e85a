package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// The liveness checks: nothing lost is not enough, the pipe must keep
// flowing. Each measures a figure of the run (Result.Liveness) and
// compares it with the profile's threshold (fakeingest.Liveness); without
// a threshold the check reports the figure and passes.
//
//   - throughput: the bulk delivery rate, envelopes delivered per second
//     from the start of the run until 90% of them were delivered (the tail
//     of items retried after a delay is the recovery check's). With a
//     ratio, the scenario runs a healthy twin of the same shape at the same
//     time (so that both share the machine alike) and compares the two
//     rates; with a floor, the rate itself.
//   - recovery: from the endpoint's last fault (any answer but a plain
//     200) to the first sample of an empty spool, or of a spool holding
//     only records appended after the fault (envelopes may keep coming:
//     the backlog of the fault is gone then).
//   - stall: the longest stretch of samples with records in the spool, a
//     healthy endpoint and no request in flight or arriving; while every
//     queued record waits a per-record retry delay not yet due, the
//     shipper is right to wait, but not once the first comes due.

// measureLiveness fills in res.Liveness from the samples and the endpoint's
// report.
func (r *run) measureLiveness() {
	res, rep := r.res, &r.res.Endpoint
	lv := Liveness{LastFault: -1, Recovery: -1, Twin: r.twin}
	lv.Throughput, _ = bulkRate(rep.Deliveries, r.start, res.Envelopes)
	samples := slices.Clone(res.Samples)
	slices.SortStableFunc(samples, func(a, b Sample) int { return cmp.Compare(a.Offset, b.Offset) })
	if tw := r.twin; tw != nil && tw.Throughput > 0 {
		lv.Ratio = lv.Throughput / tw.Throughput
	}
	if !rep.LastFault.IsZero() {
		lv.LastFault = rep.LastFault.Sub(r.start)
		for _, s := range samples {
			if s.QueuedAt >= lv.LastFault && (s.Queued == 0 || s.Queued > 0 && s.Oldest > lv.LastFault) {
				lv.Recovery = s.QueuedAt - lv.LastFault
				break
			}
		}
	}
	lv.Stall, lv.StallAt = longestStall(samples)
	res.Liveness = lv
}

// bulkRate is the delivery rate of a run that started at start and offered
// n envelopes: envelopes per second until 90% of them were delivered, or
// until the last delivery if fewer were; and when that was, since start.
// The tail of items retried after a delay is left out: the recovery check
// judges it.
func bulkRate(deliveries []fakeingest.Delivery, start time.Time, n int) (float64, time.Duration) {
	if len(deliveries) == 0 {
		return 0, 0
	}
	p := deliveries[len(deliveries)-1]
	want := (9*n + 9) / 10
	if i := slices.IndexFunc(deliveries, func(d fakeingest.Delivery) bool { return d.Accepted >= want }); i >= 0 {
		p = deliveries[i]
	}
	d := p.At.Sub(start)
	if d <= 0 {
		return 0, 0
	}
	return float64(p.Accepted) / d.Seconds(), d
}

// longestStall returns the longest stretch of samples during which the
// spool held records, the endpoint was healthy and no request was in
// flight or arrived, not counting the time while every queued record
// waited a retry delay not yet due; and when it began.
func longestStall(samples []Sample) (longest, at time.Duration) {
	var cur, curAt time.Duration
	var curEnd time.Duration = -1
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if !(a.Queued > 0 && b.Queued > 0 && a.Healthy && b.Healthy &&
			a.Requests == b.Requests && a.InFlight == 0 && b.InFlight == 0) {
			continue
		}
		from := a.Offset
		if a.Delayed >= a.Queued && a.NextDue > from {
			from = a.NextDue // waiting for a delay is not a stall
		}
		if from >= b.Offset {
			continue
		}
		if from != curEnd {
			cur, curAt = 0, from
		}
		cur += b.Offset - from
		curEnd = b.Offset
		if cur > longest {
			longest, at = cur, curAt
		}
	}
	return longest, at
}

// checkLiveness adds the throughput, recovery and stall checks.
func (r *run) checkLiveness(add func(string, bool, string, ...any)) {
	r.measureLiveness()
	lv := r.res.Liveness
	var th fakeingest.Liveness
	if r.cfg.Profile != nil {
		th = r.cfg.Profile.Liveness
	}

	rate := fmt.Sprintf("%.0f envelopes/s", lv.Throughput)
	switch {
	case th.ThroughputRatio > 0 && r.twinErr != nil:
		add(CheckThroughput, false, "the healthy twin could not run: %v", r.twinErr)
	case th.ThroughputRatio > 0 && lv.Twin == nil:
		add(CheckThroughput, false, "a throughput ratio of %.2f needs a healthy twin, and there was none", th.ThroughputRatio)
	case th.ThroughputRatio > 0 && len(lv.Twin.Failed) > 0:
		add(CheckThroughput, false, "the healthy twin failed its checks %v: no baseline", lv.Twin.Failed)
	case th.ThroughputRatio > 0 && lv.Ratio < th.ThroughputRatio:
		add(CheckThroughput, false, "%s, %.1f%% of a healthy twin's %.0f envelopes/s (at least %.0f%% asked; the twin delivered %d in %v)",
			rate, 100*lv.Ratio, lv.Twin.Throughput, 100*th.ThroughputRatio, lv.Twin.Delivered, lv.Twin.Done.Round(time.Millisecond))
	case th.ThroughputFloor > 0 && lv.Throughput < th.ThroughputFloor:
		add(CheckThroughput, false, "%s, below the floor of %.0f", rate, th.ThroughputFloor)
	case lv.Twin != nil:
		add(CheckThroughput, true, "%s, %.1f%% of a healthy twin's %.0f envelopes/s%s", rate, 100*lv.Ratio, lv.Twin.Throughput,
			threshold(th.ThroughputRatio > 0, fmt.Sprintf("at least %.0f%%", 100*th.ThroughputRatio)))
	default:
		add(CheckThroughput, true, "%s%s", rate, threshold(th.ThroughputFloor > 0, fmt.Sprintf("floor %.0f", th.ThroughputFloor)))
	}

	limit := th.Recovery.D()
	switch {
	case lv.LastFault < 0:
		add(CheckRecovery, true, "the endpoint never faulted")
	case lv.Recovery < 0:
		add(CheckRecovery, limit == 0, "the backlog of the endpoint's last fault at %s s never left the spool", fmtSeconds(lv.LastFault))
	default:
		add(CheckRecovery, limit == 0 || lv.Recovery <= limit, "the backlog left the spool %v after the endpoint's last fault at %s s%s",
			lv.Recovery.Round(time.Millisecond), fmtSeconds(lv.LastFault), threshold(limit > 0, "at most "+limit.String()))
	}

	limit = th.Stall.D()
	if lv.Stall == 0 {
		add(CheckStall, true, "never idle with records waiting and a healthy endpoint%s", threshold(limit > 0, "at most "+limit.String()))
	} else {
		add(CheckStall, limit == 0 || lv.Stall <= limit, "idle for %v from %s s with records waiting and a healthy endpoint%s",
			lv.Stall.Round(time.Millisecond), fmtSeconds(lv.StallAt), threshold(limit > 0, "at most "+limit.String()))
	}
}

// threshold is " (what)" when set, else " (no threshold)".
func threshold(set bool, what string) string {
	if set {
		return " (" + what + ")"
	}
	return " (no threshold)"
}
