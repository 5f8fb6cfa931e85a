package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/spool"
)

// Names of the checks in Result.Checks, in their order.
const (
	CheckCompleted    = "completed"    // the run finished in time, without errors
	CheckAcknowledged = "acknowledged" // the shipper acknowledged every envelope offered
	CheckNothingLost  = "nothing-lost" // every acknowledged envelope delivered or dropped, counted
	CheckDuplicates   = "duplicates"   // duplicates only where a crash or a lost answer explains them
	CheckRetryAfter   = "retry-after"  // no request before a Retry-After allowed it
	CheckPace         = "pace"         // never more requests in flight than allowed
	CheckCounters     = "counters"     // the shipper's Prometheus counters agree with the endpoint
	CheckDrained      = "drained"      // the spool is empty at the end
	CheckThroughput   = "throughput"   // delivered fast enough: against a healthy twin, or a floor
	CheckRecovery     = "recovery"     // the spool emptied soon after the endpoint's last fault
	CheckStall        = "stall"        // never idle long with a backlog and a healthy endpoint
	CheckCleanExit    = "clean-exit"   // the shipper stopped cleanly (SIGTERM: exit 0)
	CheckKills        = "kills"        // the shipper was killed as often as asked
	paceSlack         = 50 * time.Millisecond
	maxListed         = 1000
	policyDropPrefix  = "spool_"
	corruptDropReason = "corrupt"
)

// verify reconciles the input, the endpoint's records and the shipper's
// counters, and fills in the Result.
func (r *run) verify(out *shipOutcome, runErr error) {
	res, rep := r.res, &r.res.Endpoint
	r.mu.Lock()
	res.Kills = slices.Clone(r.kills)
	r.mu.Unlock()
	res.Counters = out.counters
	if res.Counters.Dropped == nil {
		res.Counters.Dropped = map[string]uint64{}
	}
	res.Dropped = map[string]int{}

	r.led.mu.Lock()
	acked := slices.Clone(r.led.order)
	offered := slices.Clone(r.led.offered)
	ackedSet := r.led.acked
	r.led.mu.Unlock()
	res.Acknowledged = len(acked)

	var lost []string
	// Only items the endpoint failed requests over (marked poison) may
	// have been dropped as poison, and only as many as the spool counts.
	poisonDrops := out.spoolDrops[breeze.ReasonPoison]
	for _, id := range acked {
		s := rep.IDs[id]
		switch {
		case s.Accepted > 0:
			res.Delivered++
		case s.Dropped > 0:
			res.Dropped[s.Reason]++
		case out.corruptIDs[id] && (out.quarantined > 0 || out.spoolDrops[spool.ReasonCorrupt] > 0):
			res.Dropped[corruptDropReason]++
		case s.Poison > 0 && poisonDrops > 0:
			res.Dropped[breeze.ReasonPoison]++
			poisonDrops--
		default:
			lost = append(lost, id)
		}
	}
	seen := map[string]bool{}
	for _, id := range offered {
		if !ackedSet[id] && !seen[id] && rep.IDs[id].Accepted > 0 {
			res.DeliveredUnacked++
		}
		seen[id] = true
	}
	// Records the spool dropped by its own policy (full, expired, too
	// large, too many attempts) are counted, not named: that many of the
	// remaining ids are accounted for.
	for _, reason := range slices.Sorted(maps.Keys(out.spoolDrops)) {
		if isEndpointReason(reason) || reason == spool.ReasonCorrupt || reason == breeze.ReasonPoison {
			continue
		}
		n := min(int(out.spoolDrops[reason]), len(lost))
		if n > 0 {
			res.Dropped[policyDropPrefix+reason] += n
			lost = lost[n:]
		}
	}
	res.LostCount = len(lost)
	res.Lost = lost[:min(len(lost), maxListed)]
	res.Duplicates = rep.Duplicates
	res.UnexplainedDuplicates = rep.UnexplainedDuplicates

	add := func(name string, pass bool, format string, args ...any) {
		res.Checks = append(res.Checks, Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
	}
	if runErr != nil {
		add(CheckCompleted, false, "%v", runErr)
	} else {
		add(CheckCompleted, true, "in %v", time.Since(r.start).Round(time.Millisecond))
	}
	add(CheckAcknowledged, res.Acknowledged == res.Envelopes, "%d of %d envelopes acknowledged by the shipper", res.Acknowledged, res.Envelopes)

	detail := fmt.Sprintf("%d acknowledged: %d delivered, %d dropped for a counted reason (%s), %d lost", res.Acknowledged,
		res.Delivered, sum(res.Dropped), fmtReasons(res.Dropped), res.LostCount)
	if len(lost) > 0 {
		detail += fmt.Sprintf(" (first: %s)", strings.Join(lost[:min(len(lost), 10)], ", "))
	}
	add(CheckNothingLost, len(lost) == 0, "%s", detail)

	switch {
	case rep.UnexplainedDuplicates == 0:
		add(CheckDuplicates, true, "%d ids delivered more than once, each after a lost answer", rep.Duplicates)
	case len(res.Kills) > 0:
		add(CheckDuplicates, true, "%d ids delivered more than once (%d with intact answers, explained by %d crashes)",
			rep.Duplicates, rep.UnexplainedDuplicates, len(res.Kills))
	default:
		add(CheckDuplicates, false, "%d ids delivered more than once although the shipper got an intact answer and never crashed",
			rep.UnexplainedDuplicates)
	}

	if rep.RetryAfterViolations == 0 {
		add(CheckRetryAfter, true, "no request before a Retry-After ended (%d in flight already when it was given)", rep.RetryAfterRaces)
	} else {
		v := rep.Violations[0]
		add(CheckRetryAfter, false, "%d requests before a Retry-After ended; first on %s, %v early", rep.RetryAfterViolations,
			v.Listener, v.Early.Round(time.Millisecond))
	}

	over := time.Duration(0)
	if k := r.cfg.MaxInFlight; len(rep.Concurrency) > k {
		over = rep.Concurrency[k]
	}
	add(CheckPace, over <= paceSlack, "at most %d requests in flight allowed; %d+ were in flight for at most %v (peak %d)",
		r.cfg.MaxInFlight, r.cfg.MaxInFlight+1, over.Round(time.Millisecond), len(rep.Concurrency))

	r.checkCounters(out, add)

	switch {
	case !out.drained:
		add(CheckDrained, false, "the shipper never reported an empty queue; %d records left in the spool", out.residue)
	case out.residue != 0 || !out.residueExact:
		add(CheckDrained, false, "%d records left in the spool (exact: %v)", out.residue, out.residueExact)
	default:
		add(CheckDrained, true, "the spool is empty; %d files quarantined", out.quarantined)
	}
	r.checkLiveness(add)
	if len(out.exitErrors) == 0 {
		add(CheckCleanExit, true, "%d lives, the last stopped cleanly", out.lives)
	} else {
		add(CheckCleanExit, false, "%s", strings.Join(out.exitErrors, "; "))
	}
	if r.cfg.MinKills > 0 {
		add(CheckKills, len(res.Kills) >= r.cfg.MinKills, "%d SIGKILLs (at least %d asked)", len(res.Kills), r.cfg.MinKills)
	}
}

// checkCounters compares the shipper's Prometheus counters with what the
// endpoint saw. With one life they must agree exactly; across SIGKILLs the
// counts of the moments before each kill are lost with the process, so the
// counters may only fall short of the endpoint's, never exceed them.
func (r *run) checkCounters(out *shipOutcome, add func(string, bool, string, ...any)) {
	res, rep := r.res, &r.res.Endpoint
	c := res.Counters
	intact := rep.ItemsAcknowledged
	var bad []string
	exact := len(res.Kills) == 0 && out.lives == 1
	cmp := func(what string, got, want uint64) {
		if got != want && (exact || got > want) {
			bad = append(bad, fmt.Sprintf("%s %d, endpoint %d", what, got, want))
		}
	}
	cmp("sent", c.Sent, uint64(intact))
	reasons := map[string]bool{}
	for k := range rep.Dropped {
		reasons[k] = true
	}
	for k := range c.Dropped {
		if isEndpointReason(k) {
			reasons[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		cmp("dropped{"+k+"}", c.Dropped[k], uint64(rep.Dropped[k]))
	}
	if n := res.Dropped[breeze.ReasonPoison]; n > 0 || c.Dropped[breeze.ReasonPoison] > 0 {
		cmp("dropped{poison}", c.Dropped[breeze.ReasonPoison], uint64(n))
	}
	if exact && r.cfg.Daemon == nil {
		cmp("enqueued", c.Enqueued, uint64(res.Acknowledged))
	}
	how := "exactly"
	if !exact {
		how = fmt.Sprintf("at most (counters of %d lives, each read last just before its end)", out.countersLive)
	}
	if len(bad) > 0 {
		add(CheckCounters, false, "counters disagree with the endpoint: %s", strings.Join(bad, "; "))
		return
	}
	add(CheckCounters, true, "sent %d, dropped (%s), retried %d: %s what the endpoint saw", c.Sent, fmtReasons(c.Dropped), c.Retried, how)
}

// fmtReasons lists counts by reason, sorted by reason: "sampled_out 2,
// status_400 3"; "none" when there is none.
func fmtReasons[M ~map[string]V, V int | uint64](m M) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// isEndpointReason reports a drop reason the endpoint gives (a permanent
// status code or sampled out), as opposed to the spool's own.
func isEndpointReason(reason string) bool {
	return reason == breeze.ReasonSampledOut || strings.HasPrefix(reason, "status_")
}

// sum adds up the values of m.
func sum[M ~map[K]V, K comparable, V int | uint64](m M) V {
	var n V
	for _, v := range m {
		n += v
	}
	return n
}
