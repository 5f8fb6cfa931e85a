package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

func TestModesAlternate(t *testing.T) {
	o := options{load: 2, loadShapes: []string{shapeUA101}}
	for _, tc := range []struct {
		shape string
		round int
		want  []bool
	}{
		{shapeUA101, 1, []bool{false, true}},
		{shapeUA101, 2, []bool{true, false}},
		{shapeUA101, 3, []bool{false, true}},
		{shapeUA41, 1, []bool{false}},
	} {
		if got := modes(o, tc.shape, tc.round); !equalBools(got, tc.want) {
			t.Errorf("modes(%s, round %d) = %v, want %v", tc.shape, tc.round, got, tc.want)
		}
	}
	if got := modes(options{loadShapes: []string{shapeUA101}}, shapeUA101, 1); !equalBools(got, []bool{false}) {
		t.Errorf("without -load: %v", got)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseLoadOptions(t *testing.T) {
	_, err := parseOptions([]string{"-shapes", "ua41", "-load-shapes", "ua101", "-load", "-1"}, io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`-load-shapes: "ua101" is not one of -shapes`, "-load must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	o, err := parseOptions([]string{"-load", "0", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.loadShapes != nil {
		t.Errorf("-load 0 runs shapes %v under load", o.loadShapes)
	}
}

func TestPctAndBuckets(t *testing.T) {
	for v, want := range map[float64]string{0.25: "+25%", -0.031: "-3%", -0.001: "0%", 0: "0%"} {
		if got := pct(v); got != want {
			t.Errorf("pct(%v) = %q, want %q", v, got, want)
		}
	}
	for i, want := range map[int]string{0: "1", 1: "2", 2: "3–4", 3: "5–8", 11: "1025–2048", 15: "> 16384"} {
		if got := commitBucketLabel(i); got != want {
			t.Errorf("commitBucketLabel(%d) = %q, want %q", i, got, want)
		}
	}
}

// The rise under load pairs each loaded run with the quiet run of its
// round, and the report states it against the peers'.
func TestLoadSectionPairsRounds(t *testing.T) {
	run := func(shipper string, round int, loaded bool, cpu time.Duration) *runResult {
		r := &runResult{Shipper: shipper, Shape: shapeUA101, Round: round, Loaded: loaded, Child: childResult{Spans: 100_000, Seconds: 1}, Usage: benchkit.Usage{CPU: cpu}}
		if loaded {
			r.LoadCPUs = 1.5
		}
		if shipper == shipAispool {
			r.Child.Spool = &spoolFigures{Appended: 100_000, Commits: 50, CommitSizes: []uint64{11: 49, 12: 1}, Batches: 70}
			if loaded {
				r.Child.Spool.Commits, r.Child.Spool.CommitSizes = 60, []uint64{10: 20, 11: 40}
			}
		}
		return r
	}
	c := &comparison{o: options{shapes: []string{shapeUA101}, shippers: []string{shipAispool, shipAIGo}, load: 2, loadShapes: []string{shapeUA101}}}
	c.runs = []*runResult{
		run(shipAispool, 1, false, time.Second), run(shipAispool, 1, true, 1300*time.Millisecond),
		run(shipAispool, 2, true, 2200*time.Millisecond), run(shipAispool, 2, false, 2*time.Second), // +30%, +10%: median +20%
		run(shipAIGo, 1, false, 2*time.Second), run(shipAIGo, 1, true, 2200*time.Millisecond),
		run(shipAIGo, 2, false, 2*time.Second), run(shipAIGo, 2, true, 2200*time.Millisecond), // +10%
	}
	if got := c.pairedRise(shipAispool, shapeUA101, (*runResult).CPUPer100k); got.n != 2 || pct(got.med) != "+20%" || pct(got.lo) != "+10%" || pct(got.hi) != "+30%" {
		t.Errorf("aispool's paired rise = %+v", got)
	}
	md := c.markdown()
	for _, want := range []string{
		"## Under load: `ua101`, 2 busy goroutines in another process",
		"| **aispool** exporter (durable, README's settings) | 1.500 (1.000–2.000) | 1.750 (1.300–2.200) | +20% (+10%–+30%) |",
		"its rise is more than the peers' (+10%)",
		"## aispool's group commits",
		"| ua101 | quiet | 2 | 50.0 | 2000 | 70.0 |",
		"| ua101 | 2 busy goroutines | 2 | 60.0 | 1667 | 70.0 |",
		"| shape | load | commits | 513–1024 records | 1025–2048 records | 2049–4096 records |",
		"| ua101 | quiet | 100 | 0 (0%) | 98 (98%) | 2 (2%) |",
		"| ua101 | 2 busy goroutines | 120 | 40 (33%) | 80 (67%) | 0 (0%) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// The load process spins until its standard input closes.
func TestLoadProcessSpinsUntilStopped(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{o: options{load: 1, timeout: time.Minute}, exe: exe, stderr: os.Stderr, progress: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lp, err := h.startLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cpus, err := lp.stop()
	if err != nil {
		t.Fatal(err)
	}
	// One busy goroutine: about one CPU on an idle machine; a shared one
	// gives it less, but not nothing.
	if cpus < 0.1 || cpus > 1.5 {
		t.Errorf("the load used %.2f CPUs, want about 1", cpus)
	}
}
