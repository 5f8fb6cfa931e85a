package main

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The bottleneck analysis: `go tool pprof -top` on the profile behind a
// missed target, parsed into rows. Shelling out keeps the module graph as
// it is (github.com/google/pprof is not a dependency).

// pprofRow is one line of `go tool pprof -top`.
type pprofRow struct {
	Flat, Cum       string  // e.g. "1.20s" or "512MB"
	FlatPct, CumPct float64 // share of the total
	Name            string
}

// analysis is what the report shows of one profile.
type analysis struct {
	Header []string   // pprof's summary lines (type, duration, total)
	Flat   []pprofRow // top by flat (self) share
	Cum    []pprofRow // top by cumulative share
	Err    string     // why there is no analysis
}

// analyzeProfile runs `go tool pprof -top` (by flat and by cumulative
// share) on path. sampleIndex selects the value of an allocation profile
// ("alloc_space"); empty for CPU profiles.
func analyzeProfile(ctx context.Context, path, sampleIndex string) *analysis {
	a := &analysis{}
	goBin, err := exec.LookPath("go")
	if err != nil {
		a.Err = "the go command is not on PATH: run `go tool pprof -top " + path + "` by hand"
		return a
	}
	top := func(extra ...string) (string, error) {
		args := []string{"tool", "pprof", "-top"}
		if sampleIndex != "" {
			args = append(args, "-sample_index="+sampleIndex)
		}
		args = append(args, extra...)
		args = append(args, path)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(cctx, goBin, args...).Output()
		return string(out), err
	}
	flat, err := top("-nodecount=15")
	if err != nil {
		a.Err = "go tool pprof failed: " + err.Error()
		return a
	}
	a.Header, a.Flat = parseTop(flat)
	if cum, err := top("-cum", "-nodecount=200"); err == nil {
		_, a.Cum = parseTop(cum)
	}
	return a
}

// parseTop splits `go tool pprof -top` output into its header lines and
// rows.
func parseTop(out string) (header []string, rows []pprofRow) {
	sc := bufio.NewScanner(strings.NewReader(out))
	inRows := false
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if !inRows {
			if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
				inRows = true
				continue
			}
			if t := strings.TrimSpace(line); t != "" {
				header = append(header, t)
			}
			continue
		}
		if len(f) < 6 {
			continue
		}
		fp, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cp, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rows = append(rows, pprofRow{Flat: f[0], FlatPct: fp, Cum: f[3], CumPct: cp, Name: strings.Join(f[5:], " ")})
	}
	return header, rows
}

// boring reports whether a cumulative row is scaffolding rather than a
// stage: the runtime's entry points and this harness's own frames.
func boring(name string) bool {
	for _, p := range []string{"runtime.goexit", "runtime.main", "main.main", "main.childMain", "main.shipperMain", "main.run", "main.produce"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// topCum returns the first n cumulative rows that are not scaffolding.
func (a *analysis) topCum(n int) []pprofRow {
	var out []pprofRow
	for _, r := range a.Cum {
		if boring(r.Name) {
			continue
		}
		out = append(out, r)
		if len(out) == n {
			break
		}
	}
	return out
}

// stages are the pipeline's parts, each found in the cumulative profile by
// a substring of a function that encloses it.
var stages = []struct{ label, match string }{
	{"making spans (the application's SDK calls)", "main.generate"},
	{"BatchSpanProcessor export goroutine", "(*batchSpanProcessor).processQueue"},
	{"exporter.ExportSpans", "exporter.(*TraceExporter).ExportSpans"},
	{"span → envelope conversion", "envelope.(*Converter).AppendSpans"},
	{"spool group commit", "spool.(*Spool).commitLoop"},
	{"spool lease", "spool.(*Spool).Lease"},
	{"spool settle", "spool.(*Batch).Settle"},
	{"bbolt commit", "bbolt.(*Tx).Commit"},
	{"fdatasync", "syscall.Fdatasync"},
	{"sender deliveries", "sender.(*Sender).deliver"},
	{"gzip of request bodies", "sender.(*body).encode"},
	{"HTTP client writes", "net/http.(*persistConn).writeLoop"},
	{"HTTP client reads", "net/http.(*persistConn).readLoop"},
	{"garbage collector (background mark)", "runtime.gcBgMarkWorker"},
	{"allocation (mallocgc)", "runtime.mallocgc"},
}

// stageShares returns the cumulative share of each stage found.
func (a *analysis) stageShares() []pprofRow {
	var out []pprofRow
	for _, st := range stages {
		for _, r := range a.Cum {
			if strings.Contains(r.Name, st.match) {
				out = append(out, pprofRow{Cum: r.Cum, CumPct: r.CumPct, Name: st.label + " (`" + r.Name + "`)"})
				break
			}
		}
	}
	return out
}
