//go:build !linux

package testkit

import "testing"

// SmallFS mounts a small tmpfs on Linux; elsewhere it skips the test.
func SmallFS(t testing.TB, size string) string {
	t.Helper()
	t.Skip("a small tmpfs needs Linux")
	return ""
}
