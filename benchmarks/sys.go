package main

import (
	"os"
	"sync"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// usage is what the parent learns of a finished child: its rusage, and
// its wall time as the parent saw it.
type usage struct {
	benchkit.Usage
	Wall time.Duration // from start to exit
}

// usageOf reads a finished child's rusage.
func usageOf(ps *os.ProcessState, wall time.Duration) usage {
	return usage{Usage: benchkit.UsageOf(ps), Wall: wall}
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
	v := benchkit.ReadStatusKiB("RssAnon", "RssFile")
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
