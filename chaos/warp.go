package chaos

import (
	"time"

	"github.com/aispool/aispool/internal/clock"
)

// WarpClock is a [clock.Clock] on which time runs Factor times faster than
// on the wall clock, from the moment it was made: with a factor of 3600 a
// second of a test is an hour for the shipper. A scenario with a WarpClock
// runs hours of outage, back-off and expiry in seconds, against the real
// endpoint, spool and sender. It is safe for concurrent use.
type WarpClock struct {
	origin time.Time
	factor float64
}

var _ clock.Clock = (*WarpClock)(nil)

// NewWarpClock returns a clock running factor times faster than real time
// (factor ≥ 1).
func NewWarpClock(factor float64) *WarpClock {
	return &WarpClock{origin: time.Now(), factor: max(factor, 1)}
}

// Now returns the warped time.
func (c *WarpClock) Now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.origin)) * c.factor))
}

// Real converts a warped duration to the wall-clock duration it takes.
func (c *WarpClock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.factor)
}

// NewTimer returns a timer firing after d of warped time.
func (c *WarpClock) NewTimer(d time.Duration) clock.Timer {
	return warpTimer{time.NewTimer(c.Real(d))}
}

type warpTimer struct{ t *time.Timer }

func (t warpTimer) C() <-chan time.Time { return t.t.C }
func (t warpTimer) Stop() bool          { return t.t.Stop() }
