package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// harness runs a Sender over a real spool in t.TempDir() against a scripted
// loopback endpoint, on a fake clock.
type harness struct {
	t      *testing.T
	clk    *fakeClock
	e      *endpoint
	sp     *spool.Spool
	s      *Sender
	rt     *countingRT
	logs   *testkit.SyncBuffer
	runErr chan error
	next   int
}

func newHarness(t *testing.T, mod func(*Config), script ...reply) *harness {
	t.Helper()
	clk := newFakeClock()
	e := newEndpoint(t, clk, script...)
	sp, err := spool.Open(context.Background(), t.TempDir(), &spool.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	h := &harness{t: t, clk: clk, e: e, sp: sp, logs: &testkit.SyncBuffer{}, runErr: make(chan error, 1)}
	h.rt = &countingRT{rt: http.DefaultTransport.(*http.Transport).Clone()}
	cfg := testConfig(e, clk, h.logs)
	cfg.Queue = SpoolQueue(sp)
	cfg.Transport = h.rt
	if mod != nil {
		mod(&cfg)
	}
	h.s = mustNew(t, cfg)
	return h
}

func (h *harness) run() {
	go func() { h.runErr <- h.s.Run(context.Background()) }()
	h.t.Cleanup(func() { h.stop() })
}

// stop closes the sender and checks that Run returned nil.
func (h *harness) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Close(ctx); err != nil {
		h.t.Errorf("Close: %v", err)
	}
	select {
	case err := <-h.runErr:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.runErr <- nil // for a second stop
	case <-time.After(10 * time.Second):
		h.t.Error("Run did not return after Close")
	}
}

// add appends n records of about size bytes and returns their lines.
func (h *harness) add(n, size int) []string {
	h.t.Helper()
	recs := make([][]byte, n)
	out := make([]string, n)
	for i := range recs {
		line := fmt.Sprintf(`{"i":%d,"pad":"`, h.next)
		line += strings.Repeat("x", max(0, size-len(line)-3)) + `"}`
		h.next++
		out[i] = line
		recs[i] = []byte(line + "\n")
	}
	if err := h.sp.Append(context.Background(), recs...); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// drain flushes the sender, moving the fake clock to the back-off gate
// whenever the loop waits for it, and to the next idle poll while records
// wait a per-record delay, so that back-off takes no real time. Only
// those timers are advanced (Flush and the spool's notifications wake an idle
// loop), so the clock never jumps while a request is in flight.
func (h *harness) drain() {
	h.t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- h.s.Flush(ctx)
	}()
	for range 200000 {
		select {
		case err := <-done:
			if err != nil {
				h.t.Fatalf("Flush: %v (sender %+v; spool %+v; clock %v, pending %v)", err, h.s.Stats(), h.sp.Stats(), h.clk.Now(), h.clk.pending())
			}
			return
		default:
		}
		st, sps := h.s.Stats(), h.sp.Stats()
		if p := h.clk.pending(); len(p) > 0 && st.InFlight == 0 && (p[0].Equal(st.ThrottledUntil) || (sps.Delayed > 0 && !p[0].After(sps.NextDue))) {
			// The gate, or the idle poll while records wait a delay of
			// their own.
			h.clk.Advance(p[0].Sub(h.clk.Now()))
		}
		time.Sleep(100 * time.Microsecond)
	}
	h.t.Fatal("drain did not finish")
}

// advanceUntil moves the fake clock as drain does until cond holds.
func (h *harness) advanceUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s (sender %+v; spool %+v)", what, h.s.Stats(), h.sp.Stats())
		}
		st, sps := h.s.Stats(), h.sp.Stats()
		if p := h.clk.pending(); len(p) > 0 && st.InFlight == 0 && (p[0].Equal(st.ThrottledUntil) || (sps.Delayed > 0 && !p[0].After(sps.NextDue))) {
			h.clk.Advance(p[0].Sub(h.clk.Now()))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// delivered returns every line the endpoint acknowledged (2xx without
// per-item errors), in order.
func (h *harness) received() []string {
	var out []string
	for _, r := range h.e.requests() {
		out = append(out, r.lines...)
	}
	return out
}

func TestDrainDeliversEverythingOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxBatchItems = 100
		c.MaxInFlight = 1 // so that arrival order is lease order
	})
	want := h.add(1050, 200)
	h.run()
	h.drain()
	got := h.received()
	if !slices.Equal(got, want) {
		t.Fatalf("received %d lines, want the %d appended in order", len(got), len(want))
	}
	for i, r := range h.e.requests() {
		if len(r.lines) > 100 {
			t.Errorf("request %d has %d items > MaxBatchItems", i, len(r.lines))
		}
	}
	st := h.s.Stats()
	if st.Sent != 1050 || st.Retried != 0 || len(st.Dropped) != 0 || st.Requests[200] != 11 || st.Batches != 11 {
		t.Errorf("stats %+v", st)
	}
	if st.LastSuccess.IsZero() || st.InFlight != 0 {
		t.Errorf("last success %v, in flight %d", st.LastSuccess, st.InFlight)
	}
	if sps := h.sp.Stats(); sps.Records != 0 || sps.Leased != 0 {
		t.Errorf("spool still holds %d records (%d leased)", sps.Records, sps.Leased)
	}
}

func TestDrainBatchBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBatchBytes = 4096 })
	want := h.add(100, 1000)
	big := h.add(1, 10000) // larger than the cap: sent alone
	h.run()
	h.drain()
	got := h.received()
	slices.Sort(got)
	want = append(want, big...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %d lines: %.60q", len(got), got)
	}
	for i, r := range h.e.requests() {
		n := 0
		for _, l := range r.lines {
			n += len(l) + 1
		}
		if n > 4096 && len(r.lines) > 1 {
			t.Errorf("request %d: %d bytes in %d items > MaxBatchBytes", i, n, len(r.lines))
		}
	}
}

func TestDrainPartialSuccessArithmetic(t *testing.T) {
	partial := reply{status: 206, body: `{"itemsReceived":6,"itemsAccepted":2,"errors":[` +
		`{"index":1,"statusCode":429},{"index":3,"statusCode":400,"message":"109: bad"},{"index":4,"statusCode":500},` +
		`{"index":5,"statusCode":206,"message":"Telemetry sampled out."}]}`}
	h := newHarness(t, nil, partial)
	lines := h.add(6, 50)
	h.run()
	h.drain()
	reqs := h.e.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if !slices.Equal(reqs[1].lines, []string{lines[1], lines[4]}) {
		t.Errorf("retry request carried %q, want items 1 and 4", reqs[1].lines)
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 500*time.Millisecond {
		t.Errorf("retry after %v: items a 206 keeps wait a delay of their own", gap)
	}
	st := h.s.Stats()
	if !st.ThrottledUntil.IsZero() || st.Delayed != 2 {
		t.Errorf("a 206 that accepted items armed the gate (%v) or delayed %d items, want 2", st.ThrottledUntil, st.Delayed)
	}
	if st.Sent != 4 || st.Retried != 2 || st.Dropped["status_400"] != 1 || st.Dropped[breeze.ReasonSampledOut] != 1 || st.DroppedByStatus[400] != 1 {
		t.Errorf("stats sent %d retried %d dropped %v by status %v", st.Sent, st.Retried, st.Dropped, st.DroppedByStatus)
	}
	sps := h.sp.Stats()
	if sps.Records != 0 || sps.Dropped["status_400"] != 1 || sps.Dropped[breeze.ReasonSampledOut] != 1 || sps.Retried != 2 {
		t.Errorf("spool stats %+v", sps)
	}
}

// TestDrainStatusCodes sends one batch of 3 through every whole-response
// status path and checks what the spool and the stats end up with.
func TestDrainStatusCodes(t *testing.T) {
	tests := []struct {
		status  int
		body    string
		dropped string // reason for all 3, or "" when kept and then delivered
	}{
		{200, `{"itemsReceived":3,"itemsAccepted":3}`, ""},
		{206, `{"itemsReceived":3,"itemsAccepted":3,"errors":[]}`, ""},
		{400, "Invalid instrumentation key", ""}, // kept: isolated while others succeed
		{401, "", ""},
		{402, "", "status_402"},
		{403, "", ""},
		{404, "", ""}, // kept: a wrong host or path gets fixed
		{405, "", ""},
		{200, "<html>captive portal</html>", "-"}, // kept: not a track response
		{408, "", ""},
		{409, "", "status_409"},
		{429, "", ""},
		{439, "", ""},
		{500, "", ""},
		{502, "", ""},
		{503, "", ""},
		{504, "", ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status, tc.dropped), func(t *testing.T) {
			h := newHarness(t, nil, reply{status: tc.status, body: tc.body})
			want := h.add(3, 40)
			h.run()
			h.drain()
			reqs := h.e.requests()
			st := h.s.Stats()
			if n := st.Requests[tc.status]; n != 1 && !(tc.dropped == "-" && n == 2) {
				t.Errorf("requests by status %v", st.Requests)
			}
			wrong := tc.status == 404 || tc.status == 405 || tc.dropped == "-"
			if (st.WrongEndpoint == 1) != wrong {
				t.Errorf("wrong-endpoint answers %d, want %v", st.WrongEndpoint, wrong)
			}
			switch {
			case tc.dropped != "" && tc.dropped != "-":
				if len(reqs) != 1 || st.Dropped[tc.dropped] != 3 || st.Sent != 0 || h.sp.Stats().Dropped[tc.dropped] != 3 {
					t.Errorf("%d requests, stats %+v", len(reqs), st)
				}
			case tc.status/100 == 2 && tc.dropped == "":
				if len(reqs) != 1 || st.Sent != 3 {
					t.Errorf("%d requests, sent %d", len(reqs), st.Sent)
				}
			default:
				if len(reqs) != 2 || !slices.Equal(reqs[1].lines, want) || st.Retried != 3 || st.Sent != 3 {
					t.Errorf("%d requests, stats %+v", len(reqs), st)
				}
				if gap := reqs[1].at.Sub(reqs[0].at); gap < 500*time.Millisecond {
					t.Errorf("resent after %v without back-off", gap)
				}
			}
			if h.sp.Stats().Records != 0 {
				t.Errorf("spool holds %d records", h.sp.Stats().Records)
			}
		})
	}
}

func TestDrainSplitsOn413(t *testing.T) {
	tooBig := reply{status: 413}
	// whole (413) → [0 1] (413) → [0] (413: dropped) → [1] ok → [2 3] ok
	h := newHarness(t, nil, tooBig, tooBig, tooBig)
	lines := h.add(4, 40)
	h.run()
	h.drain()
	var sizes []int
	for _, r := range h.e.requests() {
		sizes = append(sizes, len(r.lines))
	}
	if !slices.Equal(sizes, []int{4, 2, 1, 1, 2}) {
		t.Errorf("request sizes %v, want 4 2 1 1 2", sizes)
	}
	st := h.s.Stats()
	if st.Sent != 3 || st.Dropped["status_413"] != 1 || h.sp.Stats().Records != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := h.e.requests()[2].lines; !slices.Equal(got, lines[:1]) {
		t.Errorf("dropped item request %q", got)
	}
}

func TestDrainRetryAfterGate(t *testing.T) {
	tests := []struct {
		name   string
		header string
		wait   time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"http date", testEpoch.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"clamped to an hour", "999999", time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, reply{status: 429, header: map[string]string{"Retry-After": tc.header}})
			h.add(2, 40)
			h.run()
			gate := h.clk.waitTimer(t, testEpoch.Add(tc.wait))
			if !gate.Equal(testEpoch.Add(tc.wait)) {
				t.Fatalf("gate at +%v, want +%v", gate.Sub(testEpoch), tc.wait)
			}
			if st := h.s.Stats(); !st.ThrottledUntil.Equal(gate) {
				t.Errorf("ThrottledUntil %v, want %v", st.ThrottledUntil, gate)
			}
			// Just before the gate nothing goes out, whatever wakes the loop.
			h.clk.Advance(tc.wait - time.Millisecond)
			h.add(1, 40)
			go func() { _ = h.s.Flush(context.Background()) }()
			time.Sleep(20 * time.Millisecond)
			if n := len(h.e.requests()); n != 1 {
				t.Fatalf("%d requests before the Retry-After passed", n)
			}
			h.drain()
			reqs := h.e.requests()
			if len(reqs) < 2 || reqs[1].at.Sub(reqs[0].at) < tc.wait {
				t.Errorf("second request after %v, want ≥ %v", reqs[1].at.Sub(reqs[0].at), tc.wait)
			}
		})
	}
}

func TestDrainBackoffGrowsCapsAndResets(t *testing.T) {
	var script []reply
	for range 12 {
		script = append(script, reply{status: 503})
	}
	script = append(script, reply{status: 200, body: `{"itemsReceived":1,"itemsAccepted":1}`}, reply{status: 503})
	h := newHarness(t, func(c *Config) { c.BackoffMax = 20 * time.Second }, script...)
	h.add(1, 40)
	h.run()
	h.drain()
	h.add(1, 40)
	h.drain()
	reqs := h.e.requests()
	if len(reqs) != 15 { // 12 failures, success; failure, success
		t.Fatalf("%d requests, want 15", len(reqs))
	}
	want := time.Second
	for i := 1; i <= 12; i++ {
		gap := reqs[i].at.Sub(reqs[i-1].at)
		// The probe's record waits just past the gate (rotateSlack).
		if gap < want/2 || gap > min(want*3/2, 20*time.Second)+rotateSlack {
			t.Errorf("gap %d = %v, want %v ± 50%% capped at 20s", i, gap, want)
		}
		want = min(want*3/2, 20*time.Second) // factor 1.5
	}
	// reqs[12] succeeded: the failure of reqs[13] starts again at about 1 s.
	if gap := reqs[14].at.Sub(reqs[13].at); gap < 500*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("after a success the back-off restarts at 1 s, got %v", gap)
	}
}

func TestDrainExpiresOldRecords(t *testing.T) {
	h := newHarness(t, nil)
	h.add(3, 40)
	h.clk.Advance(47*time.Hour + time.Minute)
	fresh := h.add(2, 40)
	h.run()
	h.drain()
	if got := h.received(); !slices.Equal(got, fresh) {
		t.Errorf("sent %q, want only the fresh records", got)
	}
	if st := h.s.Stats(); st.Dropped[breeze.ReasonExpired] != 3 || st.Sent != 2 {
		t.Errorf("stats %+v", st)
	}
	if sps := h.sp.Stats(); sps.Dropped[spool.ReasonExpired] != 3 || sps.Records != 0 {
		t.Errorf("spool stats %+v", sps)
	}
}

func TestDrainMaxAttemptsAndTooLarge(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxAttempts = 2
		c.MaxItemBytes = 100
	}, reply{status: 500}, reply{status: 500})
	h.add(2, 40)
	h.add(1, 200) // too large
	h.run()
	h.drain()
	st := h.s.Stats()
	if st.Dropped[breeze.ReasonTooLarge] != 1 || st.Dropped[breeze.ReasonMaxAttempts] != 2 || st.Sent != 0 || len(h.e.requests()) != 2 {
		t.Errorf("stats %+v, %d requests", st, len(h.e.requests()))
	}
}

// During an outage only one probe is in flight, and the drain after it
// starts with one request.
func TestDrainPacedAfterOutage(t *testing.T) {
	var script []reply
	for range 5 {
		script = append(script, reply{status: 503})
	}
	h := newHarness(t, func(c *Config) {
		c.MaxBatchItems = 10
		c.MaxInFlight = 2
	}, script...)
	want := h.add(200, 40)
	h.run()
	// Let the outage play out; then check concurrency stayed at one.
	for range 5 {
		h.clk.waitTimer(t, h.clk.Now().Add(time.Nanosecond))
		if p := h.rt.peakSince(); p > 1 {
			t.Fatalf("%d requests at once to a failing endpoint", p)
		}
		h.clk.Advance(time.Hour)
	}
	h.drain()
	if got := h.received(); len(got) != 5*10+len(want) {
		t.Errorf("received %d lines", len(got))
	}
	seen := map[string]bool{}
	for _, l := range h.received() {
		seen[l] = true
	}
	if len(seen) != len(want) {
		t.Errorf("%d distinct lines delivered, want %d", len(seen), len(want))
	}
}

// Concurrency under -race: two producers append while the sender drains
// with two requests in flight; every record arrives exactly once.
func TestDrainConcurrentProducers(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxBatchItems = 50
		c.MaxInFlight = 2
	})
	h.run()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want []string
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var batch [][]byte
				for k := range 25 {
					line := fmt.Sprintf(`{"p":%d,"i":%d,"k":%d}`, p, i, k)
					batch = append(batch, []byte(line+"\n"))
					mu.Lock()
					want = append(want, line)
					mu.Unlock()
				}
				if err := h.sp.Append(context.Background(), batch...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h.drain()
	got := h.received()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %d lines, want %d, each once", len(got), len(want))
	}
	if p := h.rt.peakSince(); p > 2 {
		t.Errorf("%d requests at once > MaxInFlight", p)
	}
	if st := h.s.Stats(); st.Sent != uint64(len(want)) {
		t.Errorf("sent %d", st.Sent)
	}
}

func TestFlushAndCloseHonourContexts(t *testing.T) {
	t.Run("flush waits for a failing endpoint until ctx ends", func(t *testing.T) {
		var script []reply
		for range 50 {
			script = append(script, reply{status: 503})
		}
		h := newHarness(t, nil, script...)
		h.add(1, 40)
		h.run()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := h.s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Flush = %v, want deadline exceeded", err)
		}
	})
	t.Run("close cancels a hanging request and keeps its records", func(t *testing.T) {
		h := newHarness(t, nil, reply{hang: true})
		h.add(3, 40)
		h.run()
		testkit.Eventually(t, 10*time.Second, "the request", func() bool { return len(h.e.requests()) == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := h.s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v", d)
		}
		if err := <-h.runErr; err != nil {
			t.Errorf("Run = %v", err)
		}
		h.runErr <- nil
		if sps := h.sp.Stats(); sps.Records != 3 || sps.Leased != 0 {
			t.Errorf("spool: %d records, %d leased; want all 3 kept and released", sps.Records, sps.Leased)
		}
		if st := h.s.Stats(); st.Sent != 0 || st.Retried != 3 {
			t.Errorf("stats %+v", st)
		}
		if w := h.s.tx.endpoint(h.s.tx.target()).wait(h.clk.Now()); w != 0 {
			t.Errorf("shutdown armed the back-off (%v)", w)
		}
	})
	t.Run("close waits for in-flight requests, then everything says closed", func(t *testing.T) {
		h := newHarness(t, nil)
		h.add(3, 40)
		h.run()
		h.drain()
		if err := h.s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := h.s.Close(context.Background()); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if err := h.s.Flush(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v", err)
		}
		if err := h.s.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close = %v", err)
		}
	})
	t.Run("run twice", func(t *testing.T) {
		h := newHarness(t, nil)
		h.run()
		testkit.Eventually(t, 10*time.Second, "Run to start", func() bool {
			h.s.mu.Lock()
			defer h.s.mu.Unlock()
			return h.s.started
		})
		if err := h.s.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v", err)
		}
	})
	t.Run("run returns when its context ends", func(t *testing.T) {
		h := newHarness(t, nil, reply{hang: true})
		h.add(1, 40)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- h.s.Run(ctx) }()
		testkit.Eventually(t, 10*time.Second, "the request", func() bool { return len(h.e.requests()) == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
		if sps := h.sp.Stats(); sps.Records != 1 || sps.Leased != 0 {
			t.Errorf("spool %+v", sps)
		}
	})
	t.Run("queue closed under the sender", func(t *testing.T) {
		h := newHarness(t, nil)
		errc := make(chan error, 1)
		go func() { errc <- h.s.Run(context.Background()) }()
		_ = h.sp.Close()
		h.clk.Advance(time.Hour) // wake the idle poll
		select {
		case err := <-errc:
			if !errors.Is(err, ErrQueueClosed) {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not notice the closed spool")
		}
	})
}

func TestLogsCarryNoSecrets(t *testing.T) {
	const ikey = "abcdef01-2345-6789-abcd-ef0123456789"
	h := newHarness(t, func(c *Config) {
		c.ConnectionString = strings.Replace(c.ConnectionString, "00000000-0000-0000-0000-000000000000", ikey, 1)
	}, reply{status: 503}, reply{status: 402}, reply{status: 206, body: `{"itemsReceived":1,"itemsAccepted":0,"errors":[{"index":0,"statusCode":400}]}`})
	h.add(2, 40)
	h.add(1, 40)
	h.run()
	h.drain()
	logs := h.logs.String()
	if !strings.Contains(logs, "backing off") || !strings.Contains(logs, "dropped") {
		t.Errorf("expected warnings missing:\n%s", logs)
	}
	if strings.Contains(logs, ikey) || !strings.Contains(logs, "abcdef01…") {
		t.Errorf("logs hold the full ikey or not the redacted one:\n%s", logs)
	}
	if strings.Contains(logs, `"i":`) || strings.Contains(logs, "pad") {
		t.Errorf("logs hold envelope contents:\n%s", logs)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{
		MaxInFlight:        -1,
		MaxBatchItems:      64001,
		MaxBatchBytes:      10,
		TransportRetries:   9,
		TransportRetryWait: 5 * time.Second,
		BackoffInitial:     time.Minute,
		BackoffMax:         time.Second,
		CompressionLevel:   42,
	}
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v", err)
	}
	for _, field := range []string{"Queue", "MaxInFlight", "MaxBatchItems", "MaxBatchBytes", "TransportRetries", "TransportRetryWait", "BackoffMax", "CompressionLevel"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate does not name %s: %v", field, err)
		}
	}
	if err := (Config{Queue: nopQueue{}}).Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	// New also names the connection string problems, never echoing it.
	_, err = New(Config{Queue: nopQueue{}, ConnectionString: "InstrumentationKey=nope;IngestionEndpoint=https://secret.example"})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "InstrumentationKey") || strings.Contains(err.Error(), "secret.example") {
		t.Errorf("New = %v", err)
	}
	_, err = New(Config{Queue: nopQueue{}, LookupEnv: func(string) (string, bool) { return "", false }})
	if !strings.Contains(err.Error(), "APPLICATIONINSIGHTS_CONNECTION_STRING") {
		t.Errorf("New without connection string = %v", err)
	}
	s, err := New(Config{Queue: nopQueue{}, LookupEnv: func(k string) (string, bool) {
		return "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:1", true
	}})
	if err != nil || s.Endpoint() != "http://127.0.0.1:1/v2.1/track" {
		t.Errorf("New from env: %v %v", s, err)
	}
}
