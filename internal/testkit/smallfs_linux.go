package testkit

import (
	"os"
	"syscall"
	"testing"
)

// SmallFS mounts a tmpfs of the given size ("1M", "2m": tmpfs's size
// option) on a new temporary directory, unmounted at the end of the test,
// and returns its path: a real file system that fills up. It skips the
// test where mounting is not allowed (not root, no CAP_SYS_ADMIN).
func SmallFS(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
