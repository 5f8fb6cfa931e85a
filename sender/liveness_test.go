package sender

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// Liveness: the pipe keeps flowing under steady partial throttling, poison
// items, a burst of faults and a wrong upstream. Time is the fake clock's:
// each test states how long the drain took in simulated time.

func accepted(n int) reply {
	return reply{status: 200, body: fmt.Sprintf(`{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, n, n)}
}

// partialReply answers 206 with the items at idx throttled (per-item code).
func partialReply(n, code int, idx ...int) reply {
	var errs []string
	for _, i := range idx {
		errs = append(errs, fmt.Sprintf(`{"index":%d,"statusCode":%d,"message":"throttled"}`, i, code))
	}
	return reply{status: 206, body: fmt.Sprintf(`{"itemsReceived":%d,"itemsAccepted":%d,"errors":[%s]}`,
		n, n-len(idx), strings.Join(errs, ","))}
}

// A service that answers every request 206 with its first item throttled
// accepts almost everything: the endpoint never backs off, the throttled
// items wait a delay of their own and then travel with whatever goes next
// (at most one extra request per round, never one per item), and
// everything arrives.
func TestSteadyPartialSuccessKeepsFlowing(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxBatchItems = 200
		c.MaxInFlight = 1
	})
	h.e.respond = func(lines []string) reply {
		if len(lines) == 1 {
			return accepted(1) // a lone item: accepting nothing would be an outage
		}
		return partialReply(len(lines), 429, 0)
	}
	h.run()
	start := h.clk.Now()
	// A steady producer: 100 envelopes every 250 ms of simulated time.
	var want []string
	for round := range 40 {
		want = append(want, h.add(100, 60)...)
		testkit.Eventually(t, 10*time.Second, fmt.Sprintf("round %d's request", round), func() bool {
			st := h.s.Stats()
			return len(h.e.requests()) > round && st.InFlight == 0 && st.Sent+uint64(h.sp.Stats().Delayed) >= uint64(len(want))
		})
		h.clk.Advance(250 * time.Millisecond)
	}
	h.e.mu.Lock()
	h.e.respond = nil // the last throttled item gets through
	h.e.mu.Unlock()
	h.drain()
	st := h.s.Stats()
	if !st.ThrottledUntil.IsZero() {
		t.Errorf("a healthy endpoint's partial successes armed the gate until %v", st.ThrottledUntil)
	}
	if st.Delayed == 0 || st.Sent != uint64(len(want)) || h.sp.Stats().Records != 0 {
		t.Errorf("delayed %d, sent %d, %d left; want delays and all %d sent", st.Delayed, st.Sent, h.sp.Stats().Records, len(want))
	}
	// Throttled items wait their delay and then travel with the next
	// round's envelopes, or alone when the pipe is idle: never a storm of
	// small requests. Count the requests in each 250 ms round.
	reqs := h.e.requests()
	perRound := map[time.Duration]int{}
	sizes := make([]int, len(reqs))
	for i, r := range reqs {
		perRound[r.at.Sub(start)/(250*time.Millisecond)]++
		sizes[i] = len(r.lines)
	}
	for round, n := range perRound {
		if round < 40 && n > 2 { // the drain after the stream sends the last delayed items as they come due
			t.Errorf("round %d sent %d requests (sizes %v)", round, n, sizes)
		}
	}
	if len(reqs) > 2*40+10 {
		t.Errorf("%d requests for 40 rounds (sizes %v)", len(reqs), sizes)
	}
	t.Logf("%d requests, sizes %v", len(reqs), sizes)
	if took := h.clk.Now().Sub(start); took > 20*time.Second {
		t.Errorf("the stream took %v of simulated time (10 s of production, then the last delays)", took)
	}
}

// The fault burst of the liveness issue: after it the service is healthy,
// and everything arrives within 60 s of the first request.
func TestRecoveryAfterFaultBurst(t *testing.T) {
	ra := func(code int, secs string) reply {
		return reply{status: code, header: map[string]string{"Retry-After": secs}}
	}
	var script []reply
	for range 6 {
		script = append(script, reply{status: 503})
	}
	script = append(script, ra(429, "2"), ra(429, "2"))
	half := func(n int) reply { // every second item throttled
		var idx []int
		for i := 1; i < n; i += 2 {
			idx = append(idx, i)
		}
		return partialReply(n, 503, idx...)
	}
	h := newHarness(t, func(c *Config) { c.MaxBatchItems = 500 }, script...)
	halves := 0
	after := []reply{ra(439, "1"), {status: 500}, {status: 500}, {status: 500}}
	h.e.respond = func(lines []string) reply {
		switch {
		case halves < 4:
			halves++
			return half(len(lines))
		case len(after) > 0:
			r := after[0]
			after = after[1:]
			return r
		case halves < 6:
			halves++
			return half(len(lines))
		}
		return accepted(len(lines))
	}
	want := h.add(4000, 60)
	h.run()
	h.drain()
	reqs := h.e.requests()
	if took := h.clk.Now().Sub(reqs[0].at); took > 60*time.Second {
		t.Errorf("drained %v after the first request, want within 60s", took)
	}
	if st := h.s.Stats(); st.Sent != uint64(len(want)) || len(st.Dropped) != 0 {
		t.Errorf("sent %d of %d, dropped %v", st.Sent, len(want), st.Dropped)
	}
	t.Logf("%d requests, drained in %v of simulated time", len(reqs), h.clk.Now().Sub(reqs[0].at))
}

// An upstream that answers 500 to any request holding one particular item:
// the sender isolates it by halving, everything else arrives, and the item is
// dropped as poison after PoisonAttempts failures alone.
func TestPoisonItemIsolated(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBatchItems = 500 })
	h.add(1, 60)                             // a first request succeeds: the endpoint is known healthy
	poison := fmt.Sprintf(`{"i":%d,`, 1+777) // the 778th line of the 2000 below
	h.e.respond = func(lines []string) reply {
		if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, poison) }) {
			return reply{status: 500, body: "internal error"}
		}
		return accepted(len(lines))
	}
	h.run()
	h.drain()
	start := h.clk.Now()
	h.add(2000, 60)
	h.drain()
	st := h.s.Stats()
	if st.Dropped[breeze.ReasonPoison] != 1 || st.Sent != 2000 {
		t.Fatalf("dropped %v, sent %d; want the poison item dropped and 2000 sent", st.Dropped, st.Sent)
	}
	if st.Isolations == 0 {
		t.Error("no isolation counted")
	}
	reqs := h.e.requests()
	if len(reqs) > 80 {
		t.Errorf("%d requests to isolate one item among 2000", len(reqs))
	}
	if took := h.clk.Now().Sub(start); took > 30*time.Second {
		t.Errorf("isolation took %v of simulated time, want within 30s", took)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "poison") || strings.Contains(logs, `"pad"`) || !strings.Contains(logs, "bytes=") {
		t.Errorf("the poison drop is not logged by size, or the log holds content:\n%s", logs)
	}
	t.Logf("%d requests, %d isolations, %v of simulated time", len(reqs), st.Isolations, h.clk.Now().Sub(start))
}

// During an outage (every request fails) nothing is split beyond the first
// probe's halves: one probe at a time, backing off; then everything arrives.
func TestOutageIsNotSplit(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxBatchItems = 100
		c.MaxInFlight = 1 // one request at the outage's start
	})
	h.add(1, 60)
	h.run()
	h.drain() // known healthy
	failures := 0
	h.e.respond = func(lines []string) reply {
		if failures < 12 {
			failures++
			return reply{status: 503}
		}
		return accepted(len(lines))
	}
	want := h.add(500, 60)
	h.drain()
	st := h.s.Stats()
	if st.Isolations != 1 {
		t.Errorf("%d isolations during an outage, want 1 (the first failure's halves)", st.Isolations)
	}
	if st.Sent != uint64(len(want))+1 || len(st.Dropped) != 0 {
		t.Errorf("sent %d, dropped %v", st.Sent, st.Dropped)
	}
	var sizes []int
	for _, r := range h.e.requests()[1:14] {
		sizes = append(sizes, len(r.lines))
	}
	// whole, two halves, then probes of whole batches.
	if sizes[0] != 100 || sizes[1] != 50 || sizes[2] != 50 || sizes[3] != 100 {
		t.Errorf("request sizes %v, want 100 50 50 then whole batches", sizes)
	}
}

// A batch holding a poison item at the head of the queue when the endpoint
// is not known healthy (at start, or after an outage) does not stall the
// pipe: its records wait past the gate, the next probe carries others and
// succeeds, and the poison item is then isolated.
func TestPoisonAtHeadAfterStart(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBatchItems = 100 })
	lines := h.add(1000, 60)
	poison := lines[3]
	h.e.respond = func(got []string) reply {
		if slices.Contains(got, poison) {
			return reply{status: 400, body: "Invalid"}
		}
		return accepted(len(got))
	}
	h.run()
	h.drain()
	st := h.s.Stats()
	if st.Dropped[breeze.ReasonPoison] != 1 || st.Sent != 999 {
		t.Fatalf("dropped %v, sent %d", st.Dropped, st.Sent)
	}
}

// A wrong upstream (404, then a proxy's HTML 200) keeps everything: nothing
// is dropped, the ERROR log names the endpoint and the status, and once the
// upstream is right everything arrives.
func TestWrongEndpointKeepsEverything(t *testing.T) {
	script := []reply{{status: 404, body: "Not Found"}, {status: 405}, {status: 200, body: "<html>Sign in to the Wi-Fi</html>"}}
	h := newHarness(t, nil, script...)
	want := h.add(50, 60)
	h.run()
	h.drain()
	st := h.s.Stats()
	if st.WrongEndpoint != 3 || len(st.Dropped) != 0 || st.Sent != uint64(len(want)) {
		t.Errorf("wrong-endpoint %d, dropped %v, sent %d", st.WrongEndpoint, st.Dropped, st.Sent)
	}
	logs := h.logs.String()
	for _, w := range []string{"level=ERROR", "status=404", "status=405", "status=200", "endpoint=" + h.e.URL()} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q:\n%s", w, logs)
		}
	}
	if h.sp.Stats().Records != 0 {
		t.Errorf("spool holds %d records", h.sp.Stats().Records)
	}
}
