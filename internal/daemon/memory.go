package daemon

import (
	"math"
	"runtime/debug"
	"sync"
	"time"
)

// ApplyMemoryLimit sets the Go runtime's soft memory limit
// (debug.SetMemoryLimit) to cfg.GoMemLimit, unless GOMEMLIMIT is set in the
// environment (looked up with lookupEnv; the runtime has applied it
// already) or cfg.MemoryLimit is 0. It returns the limit in force and where
// it comes from ("--memory-limit", "GOMEMLIMIT" or "none"). It changes the
// whole process: only "aispool run" calls it.
func ApplyMemoryLimit(cfg Config, lookupEnv func(string) (string, bool)) (limit int64, source string) {
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	if cfg.MemoryLimit <= 0 {
		return math.MaxInt64, "none"
	}
	debug.SetMemoryLimit(cfg.GoMemLimit())
	return cfg.GoMemLimit(), "--memory-limit"
}

// memoryReturner returns memory to the operating system after a burst of
// the local ingestion endpoint (ingest.Config.AfterBurst): the Go runtime
// keeps freed heap for reuse and gives it back only slowly, so after a
// burst the process would stay at its peak for minutes.
type memoryReturner struct {
	every time.Duration // at most once per every
	free  func()        // debug.FreeOSMemory

	mu   sync.Mutex
	last time.Time
}

// afterBurst frees the memory at once, unless it did less than every ago.
func (m *memoryReturner) afterBurst(int64) {
	m.mu.Lock()
	now := time.Now()
	if !m.last.IsZero() && now.Sub(m.last) < m.every {
		m.mu.Unlock()
		return
	}
	m.last = now
	m.mu.Unlock()
	m.free()
}
