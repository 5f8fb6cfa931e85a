// Package clock is aispool's one abstraction of time, for the parts whose
// waits a test wants to run faster than the wall clock: the sender's
// back-off gates, Retry-After dates, expiry and idle polling, and the chaos
// kit's scenarios.
//
// [System] is the real clock. Tests use a fake that moves only when told to,
// or the chaos kit's WarpClock, on which hours pass in seconds. The spool
// reads only the time, and imports no project package: it is given the Now
// of a Clock.
package clock
