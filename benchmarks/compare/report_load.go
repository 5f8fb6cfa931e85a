package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/aispool/aispool/spool"
)

// The report's sections on the runs under load and on aispool's group
// commits.

// switches is a run's cell of context switches per 100k spans: voluntary
// / involuntary.
func switches(r *runResult) string {
	return fmt.Sprintf("%.0f / %.0f", r.Per100k(float64(r.Usage.Voluntary)), r.Per100k(float64(r.Usage.Involuntary)))
}

// pairedRise summarizes, over the rounds with both, the rise of a run's
// figure under load against the quiet run of the same round: loaded/quiet
// - 1.
func (c *comparison) pairedRise(shipper, shape string, fig func(*runResult) float64) summary {
	var rises []float64
	for _, q := range c.runs {
		if q.Shipper != shipper || q.Shape != shape || q.Loaded {
			continue
		}
		for _, l := range c.runs {
			if l.Shipper == shipper && l.Shape == shape && l.Loaded && l.Round == q.Round && fig(q) > 0 {
				rises = append(rises, fig(l)/fig(q)-1)
			}
		}
	}
	return summarize(rises)
}

// pct formats a fraction as a signed percentage ("+25%", "-3%", "0%").
func pct(v float64) string {
	p := math.Round(v * 100)
	if p == 0 {
		return "0%"
	}
	return fmt.Sprintf("%+.0f%%", p)
}

// runsOf are the runs of shipper on shape, quiet or loaded.
func (c *comparison) runsOf(shipper, shape string, loaded bool) []*runResult {
	var out []*runResult
	for _, r := range c.runs {
		if r.Shipper == shipper && r.Shape == shape && r.Loaded == loaded {
			out = append(out, r)
		}
	}
	return out
}

// medianOf is the median of fig over runs.
func medianOf(runs []*runResult, fig func(*runResult) float64) summary {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = fig(r)
	}
	return summarize(xs)
}

// loadSection writes, for each shape run under load, every shipper's
// quiet and loaded CPU per span and the rise.
func (c *comparison) loadSection(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	for _, shape := range c.o.loadShapes {
		var loadCPUs []float64
		for _, r := range c.runs {
			if r.Shape == shape && r.Loaded {
				loadCPUs = append(loadCPUs, r.LoadCPUs)
			}
		}
		if len(loadCPUs) == 0 {
			continue
		}
		w("## Under load: `%s`, %s in another process\n\n", shape, busy(c.o.load))
		w("Each shipper ran on this shape twice in every round: quiet, and beside a process keeping %d goroutines busy (pure CPU, GOMAXPROCS %d) from before the shipper started until it exited; ", c.o.load, c.o.load)
		w("the order of the two alternates by round. The load used %s CPUs on average (median, range over the loaded runs). ", summarize(loadCPUs).cell(func(v float64) string { return fmt.Sprintf("%.2f", v) }))
		w("*Rise*: loaded / quiet − 1 for the CPU seconds per 100k spans, paired by round (median, range). ")
		w("*Context switches*: voluntary (the process waited: fsync, a lock, the network) / involuntary (the scheduler took the CPU away), per 100k spans, medians.\n\n")
		w("| shipper | CPU s per 100k spans, quiet | under load | rise | spans/s quiet | under load | context switches per 100k spans, quiet | under load |\n")
		w("|---|---|---|---|---|---|---|---|\n")
		var peers []float64
		var aispool summary
		for _, s := range shippers {
			if !slices.Contains(c.o.shippers, s.name) {
				continue
			}
			q, l := c.figuresOf(s.name, shape, false), c.figuresOf(s.name, shape, true)
			if q.runs == 0 || l.runs == 0 {
				continue
			}
			rise := c.pairedRise(s.name, shape, (*runResult).CPUPer100k)
			switch {
			case s.name == shipAispool:
				aispool = rise
			case s.endpoint:
				peers = append(peers, rise.med)
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", s.label, q.cpu.cell(secs), l.cpu.cell(secs), rise.cell(pct),
				q.rate.cell(kilo), l.rate.cell(kilo), switchCell(c.runsOf(s.name, shape, false)), switchCell(c.runsOf(s.name, shape, true)))
		}
		w("\n")
		if aispool.n > 0 && len(peers) > 0 {
			lo, hi := slices.Min(peers), slices.Max(peers)
			verdict := "no more than"
			if aispool.med > hi {
				verdict = "more than"
			}
			theirs := pct(lo)
			if len(peers) > 1 {
				theirs = fmt.Sprintf("%s to %s", pct(lo), pct(hi))
			}
			w("- aispool's CPU per span changed by %s under load (median): its rise is %s the peers' (%s).\n\n", pct(aispool.med), verdict, theirs)
		}
	}
}

// switchCell is the median voluntary / involuntary context switches per
// 100k spans of runs.
func switchCell(runs []*runResult) string {
	if len(runs) == 0 {
		return "—"
	}
	v := medianOf(runs, func(r *runResult) float64 { return r.Per100k(float64(r.Usage.Voluntary)) })
	i := medianOf(runs, func(r *runResult) float64 { return r.Per100k(float64(r.Usage.Involuntary)) })
	return fmt.Sprintf("%.0f / %.0f", v.med, i.med)
}

// commitBucketLabel names bucket i of the spool's commit sizes
// (spool.Stats.CommitSizes): "1", "2", "3–4", …, "> 16384".
func commitBucketLabel(i int) string {
	hi, lo := spool.CommitSizeBound(i), spool.CommitSizeBound(i-1)
	switch {
	case hi == 0:
		return fmt.Sprintf("> %d", lo)
	case hi == lo+1:
		return fmt.Sprint(hi)
	}
	return fmt.Sprintf("%d–%d", lo+1, hi)
}

// commitGroup is aispool's commit figures over the runs of one shape and
// mode.
type commitGroup struct {
	shape           string
	loaded          bool
	runs            []*runResult
	sizes           [spool.CommitSizeBuckets]uint64 // commits by bucket, summed over the runs
	commits, stored uint64
}

// commitSection writes aispool's group commits, quiet and loaded: how
// many (one fsync each) per 100k spans, their mean size, and the
// distribution of their sizes.
func (c *comparison) commitSection(b *strings.Builder) {
	var groups []*commitGroup
	for _, shape := range c.o.shapes {
		for _, loaded := range []bool{false, true} {
			g := &commitGroup{shape: shape, loaded: loaded}
			for _, r := range c.runsOf(shipAispool, shape, loaded) {
				sf := r.Child.Spool
				if sf == nil {
					continue
				}
				g.runs = append(g.runs, r)
				g.commits += sf.Commits
				g.stored += sf.Appended
				for i, n := range sf.CommitSizes[:min(len(sf.CommitSizes), len(g.sizes))] {
					g.sizes[i] += n
				}
			}
			if len(g.runs) > 0 {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) == 0 {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## aispool's group commits\n\n")
	w("The spool stores what concurrent `Append` calls hand it in one transaction and one fsync (a group commit); the exporter appends one SDK batch per call. ")
	w("Per run: the spool's commits per 100k spans and the sender's batches per 100k spans (each batch settled is one more transaction) (medians, ranges); ")
	w("then the sizes of every commit of those runs in records (`aispool_spool_group_commit_records`), summed over the runs.\n\n")
	w("| shape | load | runs | group commits per 100k spans | mean records per commit | sender batches per 100k spans |\n")
	w("|---|---|---|---|---|---|\n")
	for _, g := range groups {
		per := medianOf(g.runs, func(r *runResult) float64 { return r.Per100k(float64(r.Child.Spool.Commits)) })
		batches := medianOf(g.runs, func(r *runResult) float64 { return r.Per100k(float64(r.Child.Spool.Batches)) })
		w("| %s | %s | %d | %s | %.0f | %s |\n", g.shape, modeName(g.loaded, c.o.load), len(g.runs), per.cell(one), ratio(float64(g.stored), float64(g.commits)), batches.cell(one))
	}
	w("\n")
	// The distribution: one column per bucket that any group uses.
	var cols []int
	for i := range spool.CommitSizeBuckets {
		for _, g := range groups {
			if g.sizes[i] > 0 {
				cols = append(cols, i)
				break
			}
		}
	}
	w("| shape | load | commits |")
	for _, i := range cols {
		w(" %s records |", commitBucketLabel(i))
	}
	w("\n|---|---|---|%s\n", strings.Repeat("---|", len(cols)))
	for _, g := range groups {
		w("| %s | %s | %d |", g.shape, modeName(g.loaded, c.o.load), g.commits)
		for _, i := range cols {
			n := g.sizes[i]
			w(" %d (%.0f%%) |", n, 100*ratio(float64(n), float64(g.commits)))
		}
		w("\n")
	}
	w("\n")
}

// one formats with one decimal.
func one(v float64) string { return fmt.Sprintf("%.1f", v) }

// modeName is a load column's cell.
func modeName(loaded bool, n int) string {
	if loaded {
		return busy(n)
	}
	return "quiet"
}

// busy is "1 busy goroutine", "2 busy goroutines".
func busy(n int) string {
	if n == 1 {
		return "1 busy goroutine"
	}
	return fmt.Sprintf("%d busy goroutines", n)
}
