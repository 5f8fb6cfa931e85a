package sender

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// Isolation's bookkeeping: every index of a batch ends in exactly one of
// acknowledged, retried or dropped, whatever happens between the halves,
// and an outage is never mistaken for a poison item.

// outcomeOf checks that out gives each of n indices at most one outcome
// and returns the indices it acknowledges (neither retried nor dropped).
func outcomeOf(t *testing.T, out *outcome, n int) (acked []int) {
	t.Helper()
	seen := make(map[int]string, n)
	give := func(i int, what string) {
		if i < 0 || i >= n {
			t.Errorf("%s index %d outside the batch of %d", what, i, n)
			return
		}
		if prev, ok := seen[i]; ok {
			t.Errorf("index %d both %s and %s", i, prev, what)
		}
		seen[i] = what
	}
	for _, i := range out.retry {
		give(i, "retried")
	}
	for reason, idx := range out.drop {
		for _, i := range idx {
			give(i, "dropped "+reason)
		}
	}
	for i := range out.due {
		if seen[i] != "retried" {
			t.Errorf("index %d has a due time but is not retried", i)
		}
	}
	for i := range n {
		if _, ok := seen[i]; !ok {
			acked = append(acked, i)
		}
	}
	return acked
}

// hookRT calls before (if set) ahead of each request and after once each
// response is in, with the request's number (from 1).
type hookRT struct {
	rt     http.RoundTripper
	mu     sync.Mutex
	n      int
	before func(n int)
	after  func(n int)
}

func (h *hookRT) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	if h.before != nil {
		h.before(n)
	}
	resp, err := h.rt.RoundTrip(req)
	if h.after != nil {
		h.after(n)
	}
	return resp, err
}

// healthySender returns a sender whose endpoint answered one request with
// success (so that a failure of a whole request is isolated), and the
// transport hook of its requests (request 1 is that success).
func healthySender(t *testing.T, e *endpoint, clk *fakeClock) (*Sender, *hookRT) {
	t.Helper()
	cfg := testConfig(e, clk, &testkit.SyncBuffer{})
	rt := &hookRT{rt: http.DefaultTransport.(*http.Transport).Clone()}
	cfg.Transport = rt
	s := mustNew(t, cfg)
	if out := s.send(context.Background(), lines(1)); len(out.retry) != 0 {
		t.Fatalf("the first request failed: %+v", out)
	}
	return s, rt
}

// A shutdown between the halves of an isolation: the first half failed,
// the second is not sent. Nothing was accepted, so nothing may be
// acknowledged: the failed first half is kept too.
func TestIsolationCancelledBetweenHalves(t *testing.T) {
	clk := newFakeClock()
	e := newEndpoint(t, clk, accepted(1))
	e.respond = func([]string) reply { return reply{status: 500} }
	s, rt := healthySender(t, e, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Request 2 is the whole batch, 3 its first half, 4 its second half.
	rt.before = func(n int) {
		if n == 4 {
			cancel()
		}
	}
	out := s.send(ctx, lines(4))
	if acked := outcomeOf(t, out, 4); len(acked) > 0 {
		t.Errorf("indices %v acknowledged, but the endpoint accepted nothing (kept %v)", acked, out.retry)
	}
}

// Another request's Retry-After closes the gate between the halves: the
// second half is not sent before the gate, and the first half, which
// failed, is kept with it.
func TestIsolationGateClosedBetweenHalves(t *testing.T) {
	clk := newFakeClock()
	e := newEndpoint(t, clk, accepted(1))
	e.respond = func(lines []string) reply {
		if slices.Contains(lines, `{"other":1}`) {
			return reply{status: 429, header: map[string]string{"Retry-After": "60"}}
		}
		return reply{status: 500}
	}
	s, rt := healthySender(t, e, clk)
	// Request 3 is the first half: while it is answered, a concurrent
	// delivery is throttled for 60 s.
	rt.after = func(n int) {
		if n == 3 {
			rec := lines(1)
			rec[0].Data = []byte(`{"other":1}` + "\n")
			if out := s.send(context.Background(), rec); len(out.retry) != 1 {
				t.Errorf("the concurrent request was not throttled: %+v", out)
			}
		}
	}
	out := s.send(context.Background(), lines(4))
	if acked := outcomeOf(t, out, 4); len(acked) > 0 {
		t.Errorf("indices %v acknowledged, but the endpoint accepted nothing (kept %v)", acked, out.retry)
	}
	reqs := e.requests()
	for i, r := range reqs {
		if slices.Contains(r.lines, `{"other":1}`) && i != len(reqs)-1 {
			t.Errorf("request %d sent after the Retry-After answer, before its gate", i+2)
		}
	}
}

// An outage met by single-record requests (a slow producer: each batch
// holds one record) while the endpoint was known healthy: every request
// fails, alone. That is no evidence against the record: the endpoint backs
// off, and no record is dropped as poison, however long the outage lasts.
func TestOutageOfLoneRecordsIsNotPoison(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxInFlight = 1 })
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
	start := h.clk.Now()
	want := h.add(1, 60)
	h.drain()
	st := h.s.Stats()
	if len(st.Dropped) != 0 || st.Sent != uint64(len(want))+1 {
		t.Errorf("during an outage of lone records: dropped %v, sent %d; want nothing dropped, %d sent", st.Dropped, st.Sent, len(want)+1)
	}
	// 12 failures backing off from 1 s (×1.5, ±50%) take well over a
	// minute; without back-off they take a few seconds of delays.
	if took := h.clk.Now().Sub(start); took < 30*time.Second {
		t.Errorf("12 failures in a row took %v of simulated time: the endpoint did not back off", took)
	}
}

// A poison record sent alone (each batch holds one record) among healthy
// traffic (a record every 2 s) is still found: requests without it succeed between its
// failures, and it is dropped after PoisonAttempts of them.
func TestLonePoisonAmongLoneRecords(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxInFlight = 1
		c.MaxBatchItems = 1
	})
	h.add(1, 60)
	h.run()
	h.drain() // known healthy
	// The endpoint refuses the poison record from its first request on.
	poison := fmt.Sprintf(`{"i":%d,`, h.next)
	h.e.mu.Lock()
	h.e.respond = func(lines []string) reply {
		if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, poison) }) {
			return reply{status: 500}
		}
		return accepted(len(lines))
	}
	h.e.mu.Unlock()
	h.add(1, 60)
	for round := 0; h.s.Stats().Dropped[breeze.ReasonPoison] == 0; round++ {
		if round == 50 {
			t.Fatalf("the poison record was not dropped after %d rounds: %+v", round, h.s.Stats())
		}
		sent := h.s.Stats().Sent
		h.add(1, 60)
		h.advanceUntil("the round's record sent", func() bool { return h.s.Stats().Sent > sent })
		h.clk.Advance(2 * time.Second) // a record every 2 s
	}
	h.drain()
	if st := h.s.Stats(); st.Dropped[breeze.ReasonPoison] != 1 || len(st.Dropped) != 1 {
		t.Errorf("dropped %v, want the poison record only", st.Dropped)
	}
}

// Every path of an isolation gives each index exactly one outcome, and only
// what the endpoint accepted is acknowledged. The batch is 4 items; the
// first request fails with a 500 while the endpoint is healthy, and the
// script answers the resends in order (depth first).
func TestIsolationOutcomes(t *testing.T) {
	html := reply{status: 200, body: "<html>Sign in</html>"}
	for _, tc := range []struct {
		name   string
		script []reply
		acked  []int
		gate   bool          // the endpoint backs off
		wait   time.Duration // the gate's exact length, if the answer set it
		strike int           // records given a strike (delayed, not dropped)
	}{
		{"both halves fail: an outage", []reply{{status: 500}, {status: 500}}, nil, true, 0, 0},
		{"one half fails, then one item", []reply{accepted(2), {status: 500}, {status: 500}, accepted(1)}, []int{0, 1, 3}, false, 0, 1},
		{"413 inside isolation", []reply{{status: 413}, accepted(1), accepted(1), accepted(2)}, []int{0, 1, 2, 3}, false, 0, 0},
		{"wrong endpoint inside isolation", []reply{{status: 404}}, nil, true, 0, 0},
		{"wrong endpoint after a half succeeded", []reply{accepted(2), html}, []int{0, 1}, true, 0, 0},
		{"Retry-After inside isolation", []reply{{status: 429, header: map[string]string{"Retry-After": "30"}}}, nil, true, 30 * time.Second, 0},
		{"Retry-After after a half failed", []reply{{status: 500}, {status: 503, header: map[string]string{"Retry-After": "30"}}}, nil, true, 30 * time.Second, 0},
		{"partial success in a half", []reply{partialReply(2, 429, 0), {status: 500}, {status: 500}, accepted(1)}, []int{1, 3}, false, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			e := newEndpoint(t, clk, append([]reply{accepted(1), {status: 500}}, tc.script...)...)
			e.respond = func([]string) reply {
				t.Error("a request beyond the script")
				return reply{status: 500}
			}
			s, _ := healthySender(t, e, clk)
			out := s.send(context.Background(), lines(4))
			acked := outcomeOf(t, out, 4)
			if !slices.Equal(acked, tc.acked) {
				t.Errorf("acknowledged %v, want %v (kept %v, dropped %v)", acked, tc.acked, out.retry, out.drop)
			}
			wait := s.tx.endpoint(s.tx.target()).wait(clk.Now())
			if (wait > 0) != tc.gate || (tc.wait > 0 && wait != tc.wait) {
				t.Errorf("gate %v, want armed=%v (%v)", wait, tc.gate, tc.wait)
			}
			if len(out.drop) != 0 {
				t.Errorf("dropped %v", out.drop)
			}
			strikes := 0
			for _, c := range s.poison.n {
				strikes += c.n
			}
			if strikes != tc.strike {
				t.Errorf("%d strikes, want %d", strikes, tc.strike)
			}
			if tc.gate {
				// Kept records wait at least until the gate.
				for i, at := range out.due {
					if at.Before(clk.Now().Add(wait)) {
						t.Errorf("index %d due at %v, before the gate %v", i, at.Sub(clk.Now()), wait)
					}
				}
			}
		})
	}
}
