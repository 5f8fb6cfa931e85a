package daemon

import (
	"math"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidateIntakeLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings; empty: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"explicit budget", func(c *Config) { c.IntakeMemory = 8 << 20 }, nil},
		{"no memory limit with a budget", func(c *Config) { c.MemoryLimit, c.IntakeMemory = 0, 8<<20 }, nil},
		{"no memory limit without intake", func(c *Config) {
			c.MemoryLimit, c.Listen, c.OTLPHTTPListen, c.OTLPGRPCListen = 0, "", "", ""
		}, nil},
		{"no memory limit, OTLP only", func(c *Config) { c.MemoryLimit, c.Listen = 0, "" }, []string{"--intake-memory: required"}},
		{"no memory limit, no budget", func(c *Config) { c.MemoryLimit = 0 }, []string{"--intake-memory: required"}},
		{"negative", func(c *Config) { c.MemoryLimit, c.IntakeMemory = -1, -1 }, []string{"--memory-limit -1", "--intake-memory -1"}},
		{"tiny", func(c *Config) { c.MemoryLimit, c.IntakeMemory = 1<<20, 1000 }, []string{"less than 16 MiB", "less than 1 MiB"}},
		{"budget over half", func(c *Config) { c.IntakeMemory = c.MemoryLimit/2 + 1 }, []string{"more than half of --memory-limit"}},
		{"no connections, no rate", func(c *Config) { c.MaxConnections, c.MinBodyRate = 0, 0 }, []string{"--max-connections 0", "--min-body-rate 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, cs)
			tc.edit(&c)
			checkValidate(t, c, tc.want)
		})
	}
}

func TestIntakeBudget(t *testing.T) {
	c := DefaultConfig()
	if c.IntakeBudget() != DefaultMemoryLimit/8 || c.GoMemLimit() != DefaultMemoryLimit/4*3 {
		t.Fatalf("defaults: intake %d, Go limit %d", c.IntakeBudget(), c.GoMemLimit())
	}
	c.IntakeMemory = 5 << 20
	if c.IntakeBudget() != 5<<20 {
		t.Fatalf("explicit: %d", c.IntakeBudget())
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	c := DefaultConfig()
	c.MemoryLimit = 200 << 20
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	limit, src := ApplyMemoryLimit(c, lookup)
	if limit != 150<<20 || src != "--memory-limit" || debug.SetMemoryLimit(-1) != 150<<20 {
		t.Fatalf("from the flag: %d %s (runtime %d)", limit, src, debug.SetMemoryLimit(-1))
	}
	env["GOMEMLIMIT"] = "1GiB" // the runtime applied it at start; here the limit in force stays
	c.MemoryLimit = 64 << 20
	limit, src = ApplyMemoryLimit(c, lookup)
	if limit != 150<<20 || src != "GOMEMLIMIT" {
		t.Fatalf("with GOMEMLIMIT set: %d %s", limit, src)
	}
	delete(env, "GOMEMLIMIT")
	c.MemoryLimit = 0
	if limit, src = ApplyMemoryLimit(c, lookup); limit != math.MaxInt64 || src != "none" {
		t.Fatalf("no limit: %d %s", limit, src)
	}
}

func TestMemoryReturner(t *testing.T) {
	var n atomic.Int32
	m := &memoryReturner{every: 100 * time.Millisecond, free: func() { n.Add(1) }}
	m.afterBurst(1)
	m.afterBurst(1)
	if n.Load() != 1 {
		t.Fatalf("freed %d times in a row, want once", n.Load())
	}
	time.Sleep(120 * time.Millisecond)
	m.afterBurst(1)
	if n.Load() != 2 {
		t.Fatalf("freed %d times, want 2 after the interval", n.Load())
	}
}
