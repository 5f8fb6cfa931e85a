package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// usage is what the parent learns of a finished child from its rusage.
type usage struct {
	CPU       time.Duration // user + system
	MaxRSSKiB int64         // peak resident set size
	Wall      time.Duration // from start to exit, as the parent saw it
}

// usageOf reads a finished child's rusage (Maxrss is in KiB on Linux).
func usageOf(ps *os.ProcessState, wall time.Duration) usage {
	u := usage{Wall: wall}
	if ps == nil {
		return u
	}
	u.CPU = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.MaxRSSKiB = int64(ru.Maxrss)
	}
	return u
}

// selfCPU is this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dirBytes sums the sizes of the regular files under dir (0 if it does not
// exist).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// memMonitor samples the process's resident anonymous memory (Go heap,
// stacks) and resident file-backed memory (mostly bbolt's mmap of the
// segments) and keeps their peaks: VmHWM gives only the sum.
type memMonitor struct {
	mu         sync.Mutex
	anon, file int64 // peaks in KiB since the last reset
	stop       chan struct{}
	done       chan struct{}
}

// startMemMonitor samples every interval until stop is called.
func startMemMonitor(interval time.Duration) *memMonitor {
	m := &memMonitor{stop: make(chan struct{}), done: make(chan struct{})}
	m.sample()
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *memMonitor) sample() {
	v := readStatusKiB("RssAnon", "RssFile")
	m.mu.Lock()
	m.anon, m.file = max(m.anon, v[0]), max(m.file, v[1])
	m.mu.Unlock()
}

// peaks returns the peaks since the last reset (sampling once more first)
// and, if reset, starts a new period.
func (m *memMonitor) peaks(reset bool) (anon, file int64) {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	anon, file = m.anon, m.file
	if reset {
		m.anon, m.file = 0, 0
	}
	return anon, file
}

// close stops the sampling.
func (m *memMonitor) close() {
	close(m.stop)
	<-m.done
}
