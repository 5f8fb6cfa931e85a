package sender

import (
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/aispool/aispool/internal/clock"
)

// endpointState is the health of one endpoint: its back-off and the "not
// before" gate that no request to it may cross.
//
// Concurrent requests to a failing endpoint do not multiply the back-off:
// every request remembers the generation at its start, and only the first
// failure of a generation grows the interval; later failures of requests
// started in the same generation only extend the gate if their Retry-After
// asks for more.
type endpointState struct {
	mu        sync.Mutex
	bo        *backoff.ExponentialBackOff
	max       time.Duration
	notBefore time.Time
	failures  int    // consecutive failures
	successes int    // consecutive successes, for the slow start
	gen       uint64 // bumped by every failure that armed the gate
	ok        uint64 // successful requests ever: isolation looks for one
}

func newEndpointState(initial, maxInterval time.Duration, clk clock.Clock) *endpointState {
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMaxInterval(maxInterval),
		// 1.5 rather than 2: after a burst of faults the gate stays short
		// enough for the spool to drain promptly once the service
		// recovers (the OpenTelemetry Collector's exporters use 1.5 too).
		backoff.WithMultiplier(1.5),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0), // never give up: the spool holds the data
		backoff.WithClockProvider(clk),
	)
	return &endpointState{bo: bo, max: maxInterval}
}

// begin is called when a request starts; it returns the generation to hand
// back to done.
func (e *endpointState) begin() uint64 {
	gen, _ := e.start()
	return gen
}

// start is begin that also tells whether the endpoint is known healthy: a
// request succeeded, and none failed since.
func (e *endpointState) start() (gen uint64, healthy bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gen, e.failures == 0 && e.ok > 0
}

// failing reports whether the endpoint's last requests failed (it is
// backing off, or probing).
func (e *endpointState) failing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failures > 0
}

// succeeded returns how many requests to the endpoint have succeeded.
func (e *endpointState) succeeded() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ok
}

// done records the outcome of a request started in generation gen. With
// failed, the gate is armed for retryAfter if positive (the server's word
// wins), else for the next exponential interval (with jitter, capped). It
// returns the gate.
func (e *endpointState) done(gen uint64, failed bool, retryAfter time.Duration, now time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !failed {
		e.ok++
		e.successes++
		if gen == e.gen {
			// No failure since this request started: healthy.
			e.failures = 0
			e.bo.Reset()
		}
		return e.notBefore
	}
	e.successes = 0
	var wait time.Duration
	if gen == e.gen {
		e.failures++
		e.gen++
		wait = min(e.bo.NextBackOff(), e.max)
	}
	if retryAfter > 0 {
		wait = retryAfter
	}
	if t := now.Add(wait); t.After(e.notBefore) {
		e.notBefore = t
	}
	return e.notBefore
}

// wait returns how long to wait before the next request may start.
func (e *endpointState) wait(now time.Time) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return max(e.notBefore.Sub(now), 0)
}

// until returns the gate (zero when never armed).
func (e *endpointState) until() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notBefore
}

// allowed returns how many requests may be in flight: one while the endpoint
// is failing (a probe), then one more per success up to limit, so that the
// drain after an outage starts slowly instead of firing the backlog at once.
func (e *endpointState) allowed(limit int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failures > 0 {
		return 1
	}
	return max(1, min(limit, 1+e.successes))
}
