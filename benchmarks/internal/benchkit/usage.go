package benchkit

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Usage is what a parent learns of a finished child from its rusage.
type Usage struct {
	CPU       time.Duration // user + system
	MaxRSSKiB int64         // rusage peak resident set size (KiB on Linux)
	// Voluntary context switches (the process waited: I/O, a lock, a
	// sleep) and involuntary ones (the scheduler took its CPU away).
	Voluntary, Involuntary int64
}

// UsageOf reads a finished child's rusage; the zero Usage for nil.
func UsageOf(ps *os.ProcessState) Usage {
	if ps == nil {
		return Usage{}
	}
	u := Usage{CPU: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSSKiB = int64(ru.Maxrss)
		u.Voluntary, u.Involuntary = int64(ru.Nvcsw), int64(ru.Nivcsw)
	}
	return u
}

// ChildEnv is the children's environment: the parent's, plus (for race
// builds, as in `go test -race`) no one-second sleep of the race runtime
// at exit.
func ChildEnv() []string {
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return append(os.Environ(), "GORACE="+gorace)
}

// SelfCPU is this process's CPU time so far (user + system).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// DirBytes sums the sizes of the regular files under dir (0 if it does
// not exist).
func DirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// SyncWriter serialises writes to W: the children's output pipes copy
// into the parent's standard error concurrently.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W, one call at a time.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
