package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// The load role: other work on the machine. -load N starts, for each
// loaded run, a process of its own that keeps N goroutines busy (pure CPU,
// no memory traffic to speak of, GOMAXPROCS N) from just before the
// shipper starts until it has exited. Like the endpoint, it stops when its
// standard input closes, and dies with the parent; its own timeout bounds
// it should both fail.

// spin keeps one CPU busy until stop is set: a multiplicative generator,
// checked against stop every few microseconds.
func spin(stop *atomic.Bool, sink *atomic.Uint64) {
	x := uint64(1)
	for !stop.Load() {
		for range 1 << 12 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink.Add(x) // keeps the loop from being optimised away
}

// loadMain spins f.goroutines goroutines, prints "SPINNING <n>", and stops
// when its standard input closes or ctx ends.
func loadMain(ctx context.Context, f childFlags, stdin io.Reader) error {
	if f.goroutines < 1 {
		return fmt.Errorf("-goroutines %d: want at least 1", f.goroutines)
	}
	runtime.GOMAXPROCS(f.goroutines)
	var stop atomic.Bool
	var sink atomic.Uint64
	var wg sync.WaitGroup
	for range f.goroutines {
		wg.Go(func() { spin(&stop, &sink) })
	}
	fmt.Printf("SPINNING %d\n", f.goroutines)
	benchkit.UntilClosed(ctx, stdin)
	stop.Store(true)
	wg.Wait()
	return nil
}

// loadProc is a running load process.
type loadProc struct {
	*proc
	started time.Time
}

// startLoad starts the load process and waits until it spins.
func (h *harness) startLoad(ctx context.Context) (*loadProc, error) {
	p, err := h.start(ctx, true, "-role="+roleLoad, "-goroutines="+strconv.Itoa(h.o.load), "-timeout="+h.o.timeout.String())
	if err != nil {
		return nil, err
	}
	lp := &loadProc{proc: p, started: time.Now()}
	if _, err := p.out.Await("SPINNING ", p.exited, 30*time.Second); err != nil {
		_, _ = lp.stop()
		return nil, fmt.Errorf("load: %w", err)
	}
	return lp, nil
}

// stop ends the load process and returns the share of a CPU it used
// while it ran: its CPU time over its wall time (N goroutines on a
// machine with CPUs to spare: N).
func (lp *loadProc) stop() (float64, error) {
	_ = lp.stdin.Close()
	u, err := lp.wait(10 * time.Second)
	return ratio(u.CPU.Seconds(), time.Since(lp.started).Seconds()), err
}
