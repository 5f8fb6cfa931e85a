package sender

import (
	"testing"
	"time"
)

func TestBackoffGrowthCapReset(t *testing.T) {
	clk := newFakeClock()
	e := newEndpointState(time.Second, 5*time.Minute, clk)
	// Exponential growth with factor 1.5 and ±50% jitter, capped at 5 min.
	want := time.Second
	for i := range 14 {
		gen := e.begin()
		gate := e.done(gen, true, 0, clk.Now())
		wait := gate.Sub(clk.Now())
		lo, hi := want/2, want*3/2
		hi = min(hi, 5*time.Minute)
		if wait < lo || wait > hi {
			t.Fatalf("failure %d: wait %v, want in [%v, %v]", i+1, wait, lo, hi)
		}
		if e.allowed(2) != 1 {
			t.Fatalf("failing endpoint allows %d in flight, want 1 probe", e.allowed(2))
		}
		clk.Advance(wait)
		if e.wait(clk.Now()) != 0 {
			t.Fatal("gate still closed at its time")
		}
		want = min(want*3/2, 5*time.Minute)
	}
	// Success resets: the next failure waits about 1 s again, and the
	// slow start ramps up the concurrency.
	gen := e.begin()
	e.done(gen, false, 0, clk.Now())
	if e.allowed(4) != 2 {
		t.Errorf("after one success allowed = %d, want 2", e.allowed(4))
	}
	e.done(e.begin(), false, 0, clk.Now())
	e.done(e.begin(), false, 0, clk.Now())
	if e.allowed(4) != 4 || e.allowed(2) != 2 {
		t.Errorf("after three successes allowed = %d (limit 4), %d (limit 2)", e.allowed(4), e.allowed(2))
	}
	gate := e.done(e.begin(), true, 0, clk.Now())
	if w := gate.Sub(clk.Now()); w < 500*time.Millisecond || w > 1500*time.Millisecond {
		t.Errorf("after reset wait %v, want about 1 s", w)
	}
}

func TestBackoffRetryAfterWins(t *testing.T) {
	clk := newFakeClock()
	e := newEndpointState(time.Second, 5*time.Minute, clk)
	// Grow the exponential interval first.
	for range 10 {
		g := e.done(e.begin(), true, 0, clk.Now())
		clk.Advance(g.Sub(clk.Now()))
	}
	g := e.done(e.begin(), true, 7*time.Second, clk.Now())
	if w := g.Sub(clk.Now()); w != 7*time.Second {
		t.Errorf("Retry-After 7s gave wait %v: the server's word wins", w)
	}
	clk.Advance(7 * time.Second)
	g = e.done(e.begin(), true, time.Hour, clk.Now())
	if w := g.Sub(clk.Now()); w != time.Hour {
		t.Errorf("Retry-After 1h gave wait %v, beyond the back-off cap on purpose", w)
	}
}

// Concurrent failures of requests started in one generation grow the
// back-off once, not once per request.
func TestBackoffNoMultiplication(t *testing.T) {
	clk := newFakeClock()
	e := newEndpointState(time.Second, 5*time.Minute, clk)
	g1, g2, g3 := e.begin(), e.begin(), e.begin()
	first := e.done(g1, true, 0, clk.Now())
	second := e.done(g2, true, 0, clk.Now())
	if !second.Equal(first) || e.failures != 1 {
		t.Errorf("second concurrent failure moved the gate %v → %v (failures %d)", first, second, e.failures)
	}
	// A later failure of the same generation may extend with Retry-After.
	third := e.done(g3, true, 30*time.Second, clk.Now())
	if third.Sub(clk.Now()) != 30*time.Second {
		t.Errorf("Retry-After of a concurrent request ignored: %v", third.Sub(clk.Now()))
	}
	// A stale success (started before the failure) does not reset.
	e.done(g1, false, 0, clk.Now())
	if e.failures != 1 || e.wait(clk.Now()) == 0 {
		t.Errorf("stale success reset the state: failures %d", e.failures)
	}
}
