package clock

import "time"

// Clock is a source of time: the current time, and timers that fire after a
// duration of that time. Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a [Clock].
type Timer interface {
	// C receives once when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; see [time.Timer.Stop].
	Stop() bool
}

// System is the real clock.
type System struct{}

var _ Clock = System{}

// Now returns [time.Now].
func (System) Now() time.Time { return time.Now() }

// NewTimer wraps [time.NewTimer].
func (System) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
