package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

// The report: targets with PASS/MISS, the main table, ratios to the
// baselines measured in the same run, the backlog's phases, and the
// profile analysis of every missed target.

// target is one of issue 7's targets for the 2-core reference machine.
type target struct {
	Name, Want, Got string
	Pass            bool
	// Profile (a file under -out) explains a miss; SampleIndex is
	// "alloc_space" for allocation profiles.
	Profile, SampleIndex string
	// S is the scenario measured.
	S *scenarioResult
}

const (
	mib           = 1 << 20
	segmentBytes  = 16 * mib // spool.Options.SegmentMaxBytes default
	burstSpans    = 300_000
	fullBacklog   = 1_000_000
	e2eMinRate    = 130_000
	e2eMaxCPU     = 0.8
	burstMaxRSS   = 64 * mib
	drainMaxRSS   = 96 * mib
	shipMinRate   = 150_000
	shipMaxCPU    = 0.35
	shipMaxRSS    = 64 * mib
	allocsSampleI = "alloc_space"
)

// The sender issue's shape: a pre-filled spool of 1M envelopes of about
// 1 KiB drained to an endpoint that discards bodies.
const (
	shipFull          = 1_000_000
	shipEnvelopeBytes = 1024
)

// targets evaluates the targets on the HTTP workload.
func (d *runData) targets() []target {
	var ts []target
	at := func(n, want int) string {
		if n == want {
			return ""
		}
		return fmt.Sprintf(" (measured at %s, not %s)", count(float64(n)), count(float64(want)))
	}
	if e := d.e2e[workloadHTTP]; e != nil {
		ts = append(ts,
			target{Name: "end to end, durable: throughput", Want: "≥ 130k spans/s", Got: rate(e.Rate()) + " spans/s",
				Pass: e.Rate() >= e2eMinRate, Profile: e.Name + ".cpu.pprof", S: e},
			target{Name: "end to end: shipper CPU", Want: "≤ 0.8 CPU s per 100k spans", Got: fmt.Sprintf("%.3f s", e.CPUPer100k()),
				Pass: e.CPUPer100k() <= e2eMaxCPU, Profile: e.Name + ".cpu.pprof", S: e},
			target{Name: "peak RSS, 300k-span burst (end to end)" + at(e.Child.Spans, burstSpans), Want: "< 64 MiB", Got: mibs(e.PeakRSS()),
				Pass: e.PeakRSS() < burstMaxRSS, Profile: e.Name + ".allocs.pprof", SampleIndex: allocsSampleI, S: e})
	}
	if b := d.backlog; b != nil {
		ts = append(ts,
			target{Name: "peak RSS while draining the backlog" + at(int(b.Child.Envelopes), fullBacklog), Want: "< 96 MiB",
				Got:  fmt.Sprintf("%s (whole process: %s)", mibs(b.Child.DrainHWMKiB*1024), mibs(b.PeakRSS())),
				Pass: b.Child.DrainHWMKiB > 0 && b.Child.DrainHWMKiB*1024 < drainMaxRSS, Profile: b.Name + ".allocs.pprof", SampleIndex: allocsSampleI, S: b},
			target{Name: "disk after the backlog drained", Want: "≤ one segment (16 MiB)",
				Got:  fmt.Sprintf("%s (after Shutdown: %s)", mibs(b.Child.DiskDrained), mibs(b.DiskAfter)),
				Pass: b.Child.DiskDrained <= segmentBytes, S: b})
	}
	if s := d.ship[workloadHTTP]; s != nil {
		shape := shipShape(s)
		ts = append(ts,
			target{Name: "ship (sender issue): throughput" + shape, Want: "≥ 150k envelopes/s", Got: rate(s.Rate()) + " envelopes/s",
				Pass: s.Rate() >= shipMinRate, Profile: s.Name + ".cpu.pprof", S: s},
			target{Name: "ship: shipper CPU", Want: "≤ 0.35 CPU s per 100k envelopes", Got: fmt.Sprintf("%.3f s", s.CPUPer100k()),
				Pass: s.CPUPer100k() <= shipMaxCPU, Profile: s.Name + ".cpu.pprof", S: s},
			target{Name: "ship: shipper peak RSS", Want: "< 64 MiB",
				Got:  fmt.Sprintf("%s (anon %s + file %s)", mibs(s.PeakRSS()), mibShort(s.Child.RSSAnonKiB*1024), mibShort(s.Child.RSSFileKiB*1024)),
				Pass: s.PeakRSS() < shipMaxRSS, Profile: s.Name + ".allocs.pprof", SampleIndex: allocsSampleI, S: s})
	}
	return ts
}

// envelopeBytes is the mean size of the envelopes a ship run sent,
// newline included (uncompressed body bytes per envelope).
func envelopeBytes(s *scenarioResult) float64 {
	return ratio(float64(s.Child.BytesUncompressed), float64(s.Child.Sent))
}

// isFullShip reports whether a ship run had the sender issue's shape: at
// least 1M envelopes of 1 KiB ± 10%, to an endpoint that discards bodies.
func isFullShip(s *scenarioResult) bool {
	b := envelopeBytes(s)
	return s.Child.Envelopes >= shipFull && b >= 0.9*shipEnvelopeBytes && b <= 1.1*shipEnvelopeBytes && s.Discard
}

// shipShape says how a ship run differs from the sender issue's shape
// ("" if it has it).
func shipShape(s *scenarioResult) string {
	if isFullShip(s) {
		return ""
	}
	mode := "counting"
	if s.Discard {
		mode = "discarding"
	}
	return fmt.Sprintf(" (measured at %s envelopes of %.0f B, %s endpoint; not 1M of 1 KiB, discarding)",
		count(float64(s.Child.Envelopes)), envelopeBytes(s), mode)
}

// shipFlags is the command line of a run of the sender issue's shape.
const shipFlags = "-ship-envelopes 1000000 -ship-envelope-bytes 1024 -ship-discard"

// summary is the targets in a few lines, for the terminal.
func summary(ts []target) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%-4s %s: %s (want %s)\n", passMiss(t.Pass), t.Name, t.Got, t.Want)
	}
	return strings.TrimRight(b.String(), "\n")
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// count formats n as 1.2M, 300k or 950.
func count(n float64) string {
	switch {
	case n >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", n/1e6), ".00") + "M"
	case n >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e3), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", n)
}

// rate formats a rate with one decimal in thousands.
func rate(r float64) string { return fmt.Sprintf("%.1fk", r/1e3) }

// mibs formats bytes in MiB.
func mibs(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mib) }

// mibShort formats bytes in MiB without the unit.
func mibShort(b int64) string { return fmt.Sprintf("%.0f", float64(b)/mib) }

// pct formats a ratio as a percentage.
func pct(r float64) string { return fmt.Sprintf("%.0f%%", r*100) }

// times formats a ratio as a factor.
func times(r float64) string { return fmt.Sprintf("%.2f×", r) }

// markdown renders the whole report.
func (d *runData) markdown(ts []target) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := d.o
	p("# aispool whole-system benchmarks")
	p("")
	var extra string
	if o.shipEnvelopes > 0 {
		extra += fmt.Sprintf(" -ship-envelopes %d", o.shipEnvelopes)
	}
	if o.shipEnvelopeBytes > 0 {
		extra += fmt.Sprintf(" -ship-envelope-bytes %d", o.shipEnvelopeBytes)
	}
	if o.shipDiscard {
		extra += " -ship-discard"
	}
	p("Generated by `go run ./benchmarks -spans %d -backlog %d%s` (producers %d, BatchSpanProcessor batch %d, sender back-off 100 ms to %v) on %s; the run took %s.",
		o.spans, o.backlog, extra, o.producers, o.batch, o.backoffMax, d.start.UTC().Format("2006-01-02 15:04 MST"), d.end.Sub(d.start).Round(time.Second))
	p("")
	p("Machine: %s, %d CPUs (GOMAXPROCS %d), %s %s/%s. Load average (1, 5, 15 min) before: `%s`; after: `%s`.",
		benchkit.CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, d.loadBefore, d.loadAfter)
	p("The machine is shared, so absolute figures are noisy: the ratios to the baselines, measured in the same run, are the figures to compare across runs.")
	p("")
	p("Reproduce: `go run ./benchmarks` (flags: `-spans`, `-backlog` — `-backlog 1000000` is the full backlog — `-ship-envelopes`, `-ship-envelope-bytes`, `-ship-discard` — `%s` is the sender issue's ship — `-producers`, `-report`, `-out`; `-h` lists them). Profiles of every shipper run: `%s/<scenario>.cpu.pprof` and `.allocs.pprof`.", shipFlags, relOut(o.out))
	p("")

	p("## Targets (2 cores, HTTP workload)")
	p("")
	p("| target | wanted | measured | |")
	p("| --- | --- | --- | --- |")
	for _, t := range ts {
		p("| %s | %s | %s | **%s** |", t.Name, t.Want, t.Got, passMiss(t.Pass))
	}
	p("")

	d.mainTable(p)
	d.ratioTable(p)
	d.shipSection(p)
	d.backlogSection(p)
	d.baselineSection(p)
	d.bottleneckSection(p, ts)
	d.methodSection(p)
	return b.String()
}

// relOut shows the output directory relative to the module when it can.
func relOut(out string) string {
	if r, err := filepath.Rel(benchkit.ModuleRoot(), out); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return out
}

func (d *runData) mainTable(p func(string, ...any)) {
	p("## Main table")
	p("")
	p("Throughput is spans/s for the producing scenarios (until every span is fsynced, or counted by the endpoint), envelopes/s for ship and for the backlog's drain phase. CPU is the shipper process's alone (its rusage), peak RSS its own VmHWM; the endpoint's CPU is listed apart. Wire bytes are request bodies as received (gzip). \"Cores busy\" is the shipper's CPU time over its lifetime's wall time (2 would be both cores): well below 2, a scenario is bound by latency (fsync, the BatchSpanProcessor's one-export-at-a-time), not CPU. Peak RSS is VmHWM; in brackets the sampled peaks (every 20 ms) of resident anonymous memory (Go heap and stacks) and of resident file-backed memory (bbolt's mmap of the segments, page cache that the kernel can reclaim), in MiB.")
	p("")
	p("| scenario | workload | spans | envelopes | throughput | ExportSpans p50 / p99 | shipper CPU s / 100k | shipper cores busy | endpoint CPU s / 100k | shipper peak RSS (anon + file) | wire bytes / item | spool disk before → after |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, s := range d.all() {
		lat := "–"
		if s.Child.Exports > 0 {
			lat = fmt.Sprintf("%.1f / %.1f ms", s.Child.ExportP50Ms, s.Child.ExportP99Ms)
		}
		env := count(float64(s.Child.Envelopes))
		spans := count(float64(s.Child.Spans))
		if s.Scenario == scenSDK {
			env = "–"
		}
		if s.Scenario == scenShip {
			spans = "–"
		}
		epCPU, wire, disk := "–", "–", "–"
		if s.HasEndpoint {
			epCPU = fmt.Sprintf("%.3f", s.EndpointCPUPer100k())
			wire = fmt.Sprintf("%.0f", s.WirePerSpan())
		}
		switch s.Scenario {
		case scenProduce, scenShip, scenE2E:
			disk = mibs(s.DiskBefore) + " → " + mibs(s.DiskAfter)
		case scenBacklog:
			disk = "0 → " + mibs(s.Child.DiskSpooled) + " → " + mibs(s.Child.DiskDrained)
		}
		name := s.Scenario
		switch {
		case s.Scenario == scenBacklog:
			name = "backlog (drain)"
		case s.Scenario == scenSDK:
			name = "SDK + discard (baseline)"
		case strings.HasPrefix(s.Name, "fill-"):
			name = "produce (ship's pre-fill)"
		case s.Scenario == scenShip && s.Discard:
			name = "ship (discarding endpoint)"
		}
		problem := ""
		if len(s.Problems) > 0 {
			problem = " ⚠ " + strings.Join(s.Problems, "; ")
		}
		row := fmt.Sprintf("| %s%s | %s | %s | %s | %s/s | %s | %.3f | %.2f | %s | %s (%s + %s) | %s | %s |",
			name, problem, s.Workload, spans, env, rate(s.Rate()), lat, s.CPUPer100k(), ratio(s.Shipper.CPU.Seconds(), s.Shipper.Wall.Seconds()),
			epCPU, mibs(s.PeakRSS()), mibShort(s.Child.RSSAnonKiB*1024), mibShort(s.Child.RSSFileKiB*1024), wire, disk)
		p("%s", row)
	}
	p("")
}

// ratioRow is one line of the ratio table.
type ratioRow struct{ what, base, value string }

func (d *runData) ratioTable(p func(string, ...any)) {
	b := d.base
	var rows []ratioRow
	add := func(what, base, value string) { rows = append(rows, ratioRow{what, base, value}) }
	gz := b.Gzip[0]
	jsonCPU := b.JSONNs * 1e5 / 1e9
	for _, w := range []string{workloadHTTP, workloadMixed} {
		sdk := d.sdk[w]
		if pr := d.produce[w]; pr != nil && sdk != nil {
			add(fmt.Sprintf("produce (%s) spans/s", w), fmt.Sprintf("SDK + discard (%s) spans/s", w), pct(ratio(pr.Rate(), sdk.Rate())))
			net := pr.CPUPer100k() - sdk.CPUPer100k()
			add(fmt.Sprintf("produce (%s): aispool's own CPU per span (shipper minus SDK baseline: %.3f s / 100k)", w, net),
				"encoding/json.Marshal of the envelope alone", times(ratio(net, jsonCPU)))
		}
		if e := d.e2e[w]; e != nil && sdk != nil {
			add(fmt.Sprintf("end to end (%s) spans/s", w), fmt.Sprintf("SDK + discard (%s) spans/s", w), pct(ratio(e.Rate(), sdk.Rate())))
			add(fmt.Sprintf("end to end (%s) shipper CPU per span", w), fmt.Sprintf("SDK + discard (%s) CPU per span", w), times(ratio(e.CPUPer100k(), sdk.CPUPer100k())))
		}
	}
	if pr := d.produce[workloadHTTP]; pr != nil {
		add("produce (http) envelopes/s, durable", "raw bbolt puts/s (1000 × 1 KiB per synced tx)", pct(ratio(float64(pr.Child.Envelopes)/pr.Child.Seconds, b.BoltRate)))
	}
	if e := d.e2e[workloadHTTP]; e != nil {
		add("end to end (http) spans/s, durable and shipped", "raw bbolt puts/s", pct(ratio(e.Rate(), b.BoltRate)))
	}
	add("converter: ns per span (convert + encode)", "encoding/json.Marshal: ns per envelope (encode only)",
		fmt.Sprintf("%.0f ns vs %.0f ns: converter %s faster", b.ConvertNs, b.JSONNs, times(ratio(b.JSONNs, b.ConvertNs))))
	if s := d.ship[workloadHTTP]; s != nil {
		shipGz, shipHTTP := gz, b.HTTP
		if b.Ship != nil {
			shipGz, shipHTTP = b.Ship.Gzip, b.Ship.HTTP
		}
		add("ship (http) envelopes/s", "plain net/http client posting pre-gzip'd bodies of the same envelopes to the same kind of endpoint", pct(ratio(s.Rate(), shipHTTP.Rate)))
		add("ship (http) shipper CPU per envelope", "klauspost gzip at the sender's level of the same bytes", times(ratio(s.CPUPer100k(), shipGz.NsPerEnvelope*1e5/1e9)))
		add("ship (http) compression (uncompressed / wire bytes)", "klauspost gzip at the sender's level on 5000-envelope bodies",
			fmt.Sprintf("%.2f vs %.2f", ratio(float64(s.Child.BytesUncompressed), float64(s.Child.BytesSent)), shipGz.Ratio))
	}
	if bl, s := d.backlog, d.ship[workloadHTTP]; bl != nil && s != nil {
		add("backlog drain envelopes/s (in-process sender, after the outage)", "ship (http) envelopes/s", pct(ratio(bl.Rate(), s.Rate())))
	}
	p("## Ratios to the machine's limits (same run)")
	p("")
	p("| aispool | baseline | ratio |")
	p("| --- | --- | ---: |")
	for _, r := range rows {
		p("| %s | %s | %s |", r.what, r.base, r.value)
	}
	p("")
}

func (d *runData) shipSection(p func(string, ...any)) {
	s := d.ship[workloadHTTP]
	if s == nil {
		return
	}
	c := s.Child
	p("## Ship: %s envelopes of %.0f B", count(float64(c.Envelopes)), envelopeBytes(s))
	p("")
	src := "the produce run (-spans)"
	if d.o.shipEnvelopes > 0 {
		src = "a pre-fill run of its own (`-ship-envelopes`; SDK → exporter → spool, like produce, in another process)"
	}
	ep := "gunzips every body and counts its items"
	if s.Discard {
		ep = "reads every body and discards it unread (`-ship-discard`; delivery checked with the sender's counts)"
	}
	p("The sender issue's figure: a fresh process opens a spool that %s left (sealed segments of a process that exited), drains it with the sender to the loopback endpoint in another process, which %s, and exits. CPU and peak RSS are the draining process's alone, over its whole life.", src, ep)
	if !isFullShip(s) {
		p("This run is not the issue's shape (1M envelopes of about 1 KiB, discarding endpoint): run `go run ./benchmarks %s` for it.", shipFlags)
	}
	p("")
	p("| workload | envelopes | envelope bytes | throughput | shipper CPU s | CPU s / 100k | cores busy | peak RSS (anon + file) | wire bytes / envelope | compression | requests (2xx) | endpoint CPU s / 100k | spool disk before → after |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, w := range []string{workloadHTTP, workloadMixed} {
		s := d.ship[w]
		if s == nil {
			continue
		}
		c := s.Child
		var ok uint64
		for code, n := range c.Requests {
			if code >= 200 && code < 300 {
				ok += n
			}
		}
		p("| %s | %s | %.0f | %s envelopes/s | %.2f | %.3f | %.2f | %s (%s + %s) | %.1f | %.1f:1 | %d | %.3f | %s → %s |",
			w, count(float64(c.Envelopes)), envelopeBytes(s), rate(s.Rate()), s.Shipper.CPU.Seconds(), s.CPUPer100k(),
			ratio(s.Shipper.CPU.Seconds(), s.Shipper.Wall.Seconds()), mibs(s.PeakRSS()), mibShort(c.RSSAnonKiB*1024), mibShort(c.RSSFileKiB*1024),
			s.WirePerSpan(), ratio(float64(c.BytesUncompressed), float64(c.BytesSent)), ok, s.EndpointCPUPer100k(),
			mibs(s.DiskBefore), mibs(s.DiskAfter))
	}
	p("")
	if f := d.fill[workloadHTTP]; f != nil {
		p("Pre-fill (not measured as ship): %s envelopes through SDK → exporter → spool in %.1f s (%s spans/s), %s on disk.",
			count(float64(f.Child.Envelopes)), f.Child.Seconds, rate(f.Rate()), mibs(f.DiskAfter))
		p("")
	}
	if note := shipMemoryNote(s); note != "" {
		p("Memory of the http run. %s", note)
		p("")
	}
	if d.pad > 0 {
		p("The pre-filled HTTP envelopes are padded to `-ship-envelope-bytes %d` by an `%s` attribute of %d bytes on every server span: words drawn at random from a 64-word vocabulary, so that they compress about as well as log-like text (the mixed workload's envelopes, and the other scenarios', are not padded).", d.o.shipEnvelopeBytes, detailKey, d.pad)
		p("")
	}
}

// shipGzip is the sender's gzip on the ship runs' envelopes.
func (d *runData) shipGzip() gzipFigure {
	if d.base.Ship != nil {
		return d.base.Ship.Gzip
	}
	return d.base.Gzip[0]
}

// shipMemoryNote splits a ship run's peak RSS: the Go heap and stacks, the
// claimed segments' mappings, and the rest of the file-backed memory.
func shipMemoryNote(s *scenarioResult) string {
	c := s.Child
	if c.SegMappings == 0 {
		return ""
	}
	return fmt.Sprintf("Peak RSS %s, of which anonymous memory (Go heap and stacks) peaked at %s and file-backed memory at %s. "+
		"When the first batch was acknowledged, the process mapped %d segment files with %s resident (%.0f KiB per segment on average, the one being drained included); "+
		"the rest of its file-backed memory (%s) was mostly the binary's text. "+
		"A drainer holds at most 8 sealed segments with records to hand out open at once (spool's drainWindow), and what it touches of each file stays resident until that segment is drained and removed: "+
		"this part of the peak is bounded by the window, whatever the spool's size (%s here). "+
		"These are clean page-cache pages the kernel can reclaim, but they count in RSS and in a container's memory accounting.",
		mibs(s.PeakRSS()), mibs(c.RSSAnonKiB*1024), mibs(c.RSSFileKiB*1024),
		c.SegMappings, mibs(c.SegRSSKiB*1024), ratio(float64(c.SegRSSKiB), float64(c.SegMappings)),
		mibs((c.FileRSSKiB-c.SegRSSKiB)*1024), mibs(s.DiskBefore))
}

func (d *runData) backlogSection(p func(string, ...any)) {
	bl := d.backlog
	if bl == nil {
		return
	}
	c := bl.Child
	p("## Backlog: %s envelopes", count(float64(c.Envelopes)))
	p("")
	p("The endpoint answers 503 while the application (SDK → exporter → spool, in-process sender running and backing off) produces the backlog; then it comes back and the same process drains it.")
	if c.Envelopes < fullBacklog {
		p("This run's backlog is smaller than the full 1M: run `go run ./benchmarks -backlog 1000000` for it.")
	}
	p("")
	p("| phase | wall | rate | process CPU | CPU s / 100k | peak RSS of the phase | spool on disk at the end |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	p("| spool (endpoint down; %d requests refused) | %.2f s | %s spans/s | %.2f s | %.3f | %s | %s |", bl.EP.Rejected,
		c.SpoolSeconds, rate(ratio(float64(c.Spans), c.SpoolSeconds)), c.SpoolCPU, ratio(c.SpoolCPU*1e5, float64(c.Spans)), mibs(c.SpoolHWMKiB*1024), mibs(c.DiskSpooled))
	p("| wait for the sender's next probe (back-off ≤ %v) | %.2f s | | | | | |", d.o.backoffMax, c.WaitSeconds)
	p("| drain | %.2f s | %s envelopes/s | %.2f s | %.3f | %s (anon %s + file %s) | %s (after Shutdown: %s) |",
		c.DrainSeconds, rate(bl.Rate()), c.DrainCPU, ratio(c.DrainCPU*1e5, float64(c.Envelopes)), mibs(c.DrainHWMKiB*1024),
		mibShort(c.DrainAnonKiB*1024), mibShort(c.DrainFileKiB*1024), mibs(c.DiskDrained), mibs(bl.DiskAfter))
	p("")
	p("Whole shipper process: %.2f CPU s, peak RSS %s. The drain phase's peak RSS is VmHWM after a reset (`/proc/self/clear_refs`) when the endpoint came back.",
		bl.Shipper.CPU.Seconds(), mibs(bl.PeakRSS()))
	p("")
}

func (d *runData) baselineSection(p func(string, ...any)) {
	b := d.base
	p("## Baselines (same run)")
	p("")
	p("Envelopes: %d distinct HTTP-server envelopes from aispool's converter, %.0f bytes each on average (newline included), cycled by the loops.", b.Envelopes, b.MeanEnvelopeBytes)
	p("")
	p("| baseline | result | CPU s / 100k items |")
	p("| --- | --- | ---: |")
	for _, w := range []string{workloadHTTP, workloadMixed} {
		if s := d.sdk[w]; s != nil {
			p("| OpenTelemetry SDK, BatchSpanProcessor (WithBlocking) → exporter that discards, %s workload (child process) | %s spans/s | %.3f |", w, rate(s.Rate()), s.CPUPer100k())
		}
	}
	p("| raw bbolt: 1000 puts of an envelope per synced `Update`, %s puts | %s puts/s; per transaction p50 %.1f ms, p99 %.1f ms | %.3f |", count(float64(b.BoltItems)), rate(b.BoltRate), b.BoltP50Ms, b.BoltP99Ms, b.BoltCPUPer100k)
	p("| encoding/json.Marshal of the envelope (decoded into `envelope.Envelope`) | %.0f ns per envelope (%.0f bytes) | %.3f |", b.JSONNs, b.JSONBytes, b.JSONNs*1e5/1e9)
	p("| aispool's converter (for comparison, not a baseline): span → envelope JSON | %.0f ns per span | %.3f |", b.ConvertNs, b.ConvertNs*1e5/1e9)
	for _, g := range b.Gzip {
		p("| %s, 5000-envelope bodies | %.0f MB/s, %.2f µs per envelope, ratio %.2f | %.3f |", g.Name, g.MBps, g.NsPerEnvelope/1e3, g.Ratio, g.NsPerEnvelope*1e5/1e9)
	}
	p("| loopback HTTP: net/http client, 2 concurrent POSTs of pre-gzip'd 5000-envelope bodies, %s envelopes | %s envelopes/s, %.0f wire bytes per envelope | client %.3f, endpoint %.3f |",
		count(float64(b.HTTP.Envelopes)), rate(b.HTTP.Rate), b.HTTP.WirePerEnvelope, b.HTTP.ClientCPUPer100k, b.HTTP.EndpointCPUPer100k)
	if sb := b.Ship; sb != nil {
		what := fmt.Sprintf("the ship's envelopes (%.0f bytes", sb.MeanEnvelopeBytes)
		if sb.Pad > 0 {
			what += fmt.Sprintf(", padded by a %d-byte `%s` attribute", sb.Pad, detailKey)
		}
		what += ")"
		ep := "counting"
		if sb.Discard {
			ep = "discarding"
		}
		g := sb.Gzip
		p("| %s on %s, 5000-envelope bodies | %.0f MB/s, %.2f µs per envelope, ratio %.2f | %.3f |", g.Name, what, g.MBps, g.NsPerEnvelope/1e3, g.Ratio, g.NsPerEnvelope*1e5/1e9)
		p("| loopback HTTP as above, %s, to the %s endpoint, %s envelopes | %s envelopes/s, %.0f wire bytes per envelope | client %.3f, endpoint %.3f |",
			what, ep, count(float64(sb.HTTP.Envelopes)), rate(sb.HTTP.Rate), sb.HTTP.WirePerEnvelope, sb.HTTP.ClientCPUPer100k, sb.HTTP.EndpointCPUPer100k)
	}
	p("")
}

func (d *runData) bottleneckSection(p func(string, ...any), ts []target) {
	var missed []target
	for _, t := range ts {
		if !t.Pass {
			missed = append(missed, t)
		}
	}
	p("## Bottlenecks")
	p("")
	if len(missed) == 0 {
		p("Every target is met.")
		p("")
		return
	}
	shown := map[string]string{}
	for _, t := range missed {
		p("### MISS: %s (%s, wanted %s)", t.Name, t.Got, t.Want)
		p("")
		if t.Profile == "" {
			p("No profile applies: the spool directory still held more than one segment once the sender reported the queue empty. Run with `-keep` and list the spool directory to see which files remain.")
			p("")
			continue
		}
		path := filepath.Join(relOut(d.o.out), t.Profile)
		if prev, ok := shown[t.Profile]; ok {
			p("Same profile as for \"%s\" above.", prev)
			p("")
			continue
		}
		shown[t.Profile] = t.Name
		a := d.analyses[t.Profile]
		cmd := "go tool pprof -top -cum -nodecount=15 " + path
		if t.SampleIndex != "" {
			cmd = "go tool pprof -top -sample_index=" + t.SampleIndex + " -cum -nodecount=15 " + path
		}
		switch {
		case a == nil:
			p("Not analysed (-analyze=false). Run `%s`.", cmd)
			p("")
			continue
		case a.Err != "":
			p("Not analysed: %s. Run `%s`.", a.Err, cmd)
			p("")
			continue
		}
		var hdr []string
		for _, h := range a.Header {
			if strings.HasPrefix(h, "Type:") || strings.HasPrefix(h, "Duration:") {
				hdr = append(hdr, h)
			}
		}
		p("Profile `%s` (%s). Reproduce: `%s`.", path, strings.Join(hdr, "; "), cmd)
		p("")
		if t.S != nil && t.SampleIndex == "" {
			c := t.S.Child
			busy := ratio(t.S.Shipper.CPU.Seconds(), t.S.Shipper.Wall.Seconds())
			p("The shipper kept %.2f of %d cores busy over its life (the endpoint process: %.2f).", busy, runtime.NumCPU(),
				ratio(t.S.Endpoint.CPU.Seconds(), t.S.Shipper.Wall.Seconds()))
			if t.S.Scenario == scenShip {
				g := d.shipGzip()
				p("For comparison, klauspost gzip at the sender's level alone costs %.3f CPU s per 100k of the same envelopes (baselines): the floor of the \"gzip of request bodies\" stage below.", g.NsPerEnvelope*1e5/1e9)
			}
			if c.Exports > 0 && c.ExportP50Ms > 0 {
				per := float64(c.Spans) / float64(c.Exports)
				p("The BatchSpanProcessor exports one batch at a time and waits: %d ExportSpans calls of %.0f spans on average (convert, append, fsync) took p50 %.1f ms, p99 %.1f ms, a serial ceiling of about %s spans/s (spans per call / p50).",
					c.Exports, per, c.ExportP50Ms, c.ExportP99Ms, rate(per/(c.ExportP50Ms/1e3)))
			}
			p("")
		}
		if t.S != nil && t.SampleIndex != "" && t.S.Scenario == scenShip {
			if note := shipMemoryNote(t.S); note != "" {
				p("The allocation profile below shows what the Go heap allocated, not what is resident. %s", note)
				p("")
			}
		}
		var top []string
		for _, r := range a.Flat[:min(6, len(a.Flat))] {
			top = append(top, fmt.Sprintf("`%s` %.1f%%", r.Name, r.FlatPct))
		}
		p("Top functions by self share: %s.", strings.Join(top, ", "))
		p("")
		if st := a.stageShares(); len(st) > 0 {
			if t.S != nil && t.SampleIndex == "" {
				p("| stage (cumulative share of the profile) | cum | cum %% | ≈ CPU s / 100k (share × the shipper's) |")
				p("| --- | ---: | ---: | ---: |")
				for _, r := range st {
					p("| %s | %s | %.1f%% | %.3f |", r.Name, r.Cum, r.CumPct, r.CumPct/100*t.S.CPUPer100k())
				}
			} else {
				p("| stage (cumulative share of the profile) | cum | cum %% |")
				p("| --- | ---: | ---: |")
				for _, r := range st {
					p("| %s | %s | %.1f%% |", r.Name, r.Cum, r.CumPct)
				}
			}
			p("")
		}
		p("<details><summary>top 15 by cumulative share (runtime entry points and harness frames left out)</summary>")
		p("")
		p("| function | flat %% | cum | cum %% |")
		p("| --- | ---: | ---: | ---: |")
		for _, r := range a.topCum(15) {
			p("| `%s` | %.1f%% | %s | %.1f%% |", r.Name, r.FlatPct, r.Cum, r.CumPct)
		}
		p("")
		p("</details>")
		p("")
	}
}

func (d *runData) methodSection(p func(string, ...any)) {
	p("## How it is measured")
	p("")
	for _, line := range []string{
		"Every scenario's shipper is this binary re-executed with `-role=shipper` (a fresh process); the parent reads its CPU time (user + system) from `cmd.ProcessState.SysUsage()`. Peak RSS is the child's own `VmHWM` (from `/proc/self/status`, reported by the child at its end), not rusage `Maxrss`: Go starts children with `CLONE_VM`, and Linux carries the old mapping's high-water mark through `execve`, so a child's `Maxrss` is never below the parent's RSS at spawn time (the parent runs the baselines). The figures cover the whole child process: Go runtime start, the application's own span creation through the SDK, the BatchSpanProcessor, and aispool. The SDK baseline isolates the SDK's part.",
		"CPU profiling (100 Hz) is on in every shipper run; the allocation profile is written after the measured phase. Both cost a little.",
		"The endpoint is another child (`-role=endpoint`) on 127.0.0.1, the chaos kit's fake endpoint (`chaos/fakeingest`, healthy, in its counting or discarding body mode): it gunzips every body and counts its lines (the counting variant), answers 200 with `itemsReceived = itemsAccepted = n`, or 503 while told to be down. With `-ship-discard`, the ship runs' endpoint is the discarding variant: it reads every body into `io.Discard` without gunzipping it and answers 200 (which acknowledges every item); the loopback HTTP baseline is measured a second time against it; the first HTTP baseline, e2e and backlog keep the counting one. On 2 cores it competes with the shipper for CPU: its CPU is listed apart. A run fails if the endpoint counts fewer envelopes than expected (discarding: if the sender acknowledged fewer, or the endpoint's and the sender's counts of accepted requests differ), or anything is dropped.",
		"produce: from the first span to `ForceFlush` returning, i.e. every envelope fsynced in the spool. ExportSpans latency is the wall time of each call of the exporter, wrapped.",
		"ship: from `spool.Open` of the spool the produce run left (with `-ship-envelopes`, a pre-fill run of that many envelopes; sealed segments of a process that exited) to `Sender.Flush` returning (queue empty, nothing in flight): every envelope acknowledged by the endpoint. Its CPU per 100k and peak RSS cover the draining process's whole life (runtime start, `spool.Open`, the drain, `Close`).",
		"Envelope size: as the converter makes them (HTTP workload: about 700 bytes); with `-ship-envelope-bytes`, the envelopes pre-filled for ship (HTTP workload only) are padded to about that size by an attribute of words (see the ship section), and the gzip and loopback HTTP baselines are measured again on them, for the ship's ratios.",
		"end to end: from the first span to `Sender.Flush` returning after `ForceFlush`: every envelope counted by the endpoint.",
		"backlog: the endpoint is down (503) while the backlog is produced, with the in-process sender running; its back-off is set to 100 ms … `-backoff-max` (production default: 1 s … 5 min, so a real drain can start minutes after the endpoint's return). Drain rate = envelopes / (last acknowledgement − first acknowledgement). Spool `MaxBytes` is raised to 64 GiB in every scenario so that nothing is evicted (the 1 GiB default would evict part of a 1M backlog).",
		"Disk: the sum of the sizes of the files in the spool directory.",
		"Targets are evaluated on the HTTP workload; the mixed workload's figures are for comparison (its throughput counts spans; it makes 3 spans and 3.1 envelopes per request).",
	} {
		p("- %s", line)
	}
}
