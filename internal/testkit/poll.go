package testkit

import (
	"testing"
	"time"
)

// Poll calls cond every interval until it returns true or timeout has
// passed, and reports whether it returned true. cond runs at least once,
// and once more at the deadline.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Eventually fails the test unless cond returns true within timeout,
// polling it every millisecond; what says what the test waited for.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, time.Millisecond, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
