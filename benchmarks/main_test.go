package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// TestMain lets the test binary play the children's roles: the harness
// re-executes its own binary (here, the test binary) with -role=....
func TestMain(m *testing.M) {
	if benchkit.IsChild(os.Args[1:]) {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestSmoke runs every scenario and baseline at a tiny size (seconds, not
// minutes), so that `go test ./...` proves the harness works end to end:
// child processes, endpoint, counts, profiles and the report.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen child processes; skipped with -short")
	}
	dir := t.TempDir()
	md, stdout := smokeRun(t, dir, "-spans=2000", "-backlog=5000")
	for _, want := range []string{
		"## Targets", "## Main table", "## Ratios", "## Backlog: 5k envelopes", "## Baselines",
		"| produce | http |", "| ship | mixed |", "| e2e | http |", "| backlog (drain) | http |",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if bytes.Contains(md, []byte("⚠")) {
		t.Errorf("report flags a problem:\n%s", md)
	}
	for _, name := range []string{"e2e-http.cpu.pprof", "e2e-http.allocs.pprof", "backlog-http.cpu.pprof"} {
		if fi, err := os.Stat(filepath.Join(dir, "out", name)); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s missing or empty: %v", name, err)
		}
	}
	if !strings.Contains(stdout, "report written to") {
		t.Errorf("stdout: %s", stdout)
	}
}

// TestSmokeShipFlags runs the whole program with the sender issue's ship
// flags at a tiny size: ship drains a spool pre-filled by a run of its own,
// of padded envelopes, to a discarding endpoint.
func TestSmokeShipFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen child processes; skipped with -short")
	}
	dir := t.TempDir()
	md, _ := smokeRun(t, dir, "-spans=1000", "-backlog=1000", "-ship-envelopes=4000", "-ship-envelope-bytes=1024", "-ship-discard")
	for _, want := range []string{
		"-ship-envelopes 4000 -ship-envelope-bytes 1024 -ship-discard`", "## Ship: 4k envelopes of 10", "| http | 4k | 10",
		"| produce (ship's pre-fill) | http | 4k | 4k |", "| ship (discarding endpoint) | http |", "| ship (discarding endpoint) | mixed |",
		"ship: shipper peak RSS", "not 1M of 1 KiB", "app.request.detail", "to the discarding endpoint",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if runtime.GOOS == "linux" && !bytes.Contains(md, []byte("segment files with")) {
		t.Errorf("report lacks the ship's segment mappings")
	}
	if bytes.Contains(md, []byte("⚠")) {
		t.Errorf("report flags a problem:\n%s", md)
	}
}

func TestParseShipFlags(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseOptions([]string{"-ship-envelope-bytes=1024"}, &stderr); err == nil {
		t.Error("-ship-envelope-bytes without -ship-envelopes: no error")
	}
	o, err := parseOptions(strings.Fields(shipFlags), &stderr)
	if err != nil || o.shipEnvelopes != shipFull || o.shipEnvelopeBytes != shipEnvelopeBytes || !o.shipDiscard {
		t.Errorf("parseOptions(%q) = %+v, %v", shipFlags, o, err)
	}
}

func TestPadFor(t *testing.T) {
	for _, want := range []int{1024, 2000} {
		pad, err := padFor(want)
		if err != nil {
			t.Fatal(err)
		}
		_, recs, _, err := makeEnvelopes(2000, pad)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, r := range recs {
			total += len(r)
		}
		// Units 0..1999 have fewer digits than padFor's probes.
		if mean := float64(total) / float64(len(recs)); mean < float64(want)-16 || mean > float64(want)+2 {
			t.Errorf("padFor(%d) = %d: envelopes of %.1f bytes", want, pad, mean)
		}
	}
	if pad, err := padFor(0); pad != 0 || err != nil {
		t.Errorf("padFor(0) = %d, %v", pad, err)
	}
	if pad, err := padFor(100); pad != 0 || err != nil {
		t.Errorf("padFor(100) = %d, %v; want no padding below an unpadded envelope", pad, err)
	}
	a, b := detailText(nil, 7, 300), detailText(nil, 7, 300)
	if len(a) != 300 || !bytes.Equal(a, b) || bytes.Equal(a, detailText(nil, 8, 300)) {
		t.Errorf("detailText: not 300 bytes, not deterministic, or the same for two units: %q", a)
	}
}

func TestParseTop(t *testing.T) {
	out := `File: benchmarks
Type: cpu
Duration: 1.25s, Total samples = 850ms (68.02%)
Showing nodes accounting for 850ms, 100% of 850ms total
      flat  flat%   sum%        cum   cum%
     120ms 14.12% 14.12%      120ms 14.12%  internal/runtime/syscall/linux.Syscall6
         0     0% 14.12%      240ms 28.24%  go.etcd.io/bbolt.(*DB).Update
         0     0% 14.12%      200ms 23.53%  main.generate.func1
`
	hdr, rows := parseTop(out)
	if len(hdr) != 4 || hdr[1] != "Type: cpu" {
		t.Errorf("header %q", hdr)
	}
	if len(rows) != 3 || rows[1].Name != "go.etcd.io/bbolt.(*DB).Update" || rows[1].CumPct != 28.24 || rows[0].FlatPct != 14.12 {
		t.Fatalf("rows %+v", rows)
	}
	a := &analysis{Cum: rows}
	if st := a.stageShares(); len(st) != 1 || !strings.HasPrefix(st[0].Name, "making spans") || st[0].CumPct != 23.53 {
		t.Errorf("stages %+v", st)
	}
	if top := a.topCum(5); len(top) != 3 {
		t.Errorf("topCum %+v", top)
	}
	if got := lineCount(t, "a\nb\nc"); got != 3 {
		t.Errorf("lines of a 3-line body without a final newline: %d", got)
	}
}

// lineCount counts items as the endpoint does: it posts s to a counting
// fakeingest endpoint, as the endpoint role runs it, and returns the items
// it accepted.
func lineCount(t *testing.T, s string) int64 {
	t.Helper()
	ep := fakeingest.StartForTest(t, fakeingest.Config{Bodies: fakeingest.CountBodies, Logger: slog.New(slog.DiscardHandler)})
	defer ep.Close() // before the next one starts
	resp, err := http.Post(ep.URL()+"/v2.1/track", "application/x-json-stream", strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return benchkit.StatsOf(ep.Stats()).Items
}

// smokeRun runs the whole program at a tiny size with args (and short
// back-offs, no profile analysis), its profiles and report under dir, and
// returns the report and what it printed.
func smokeRun(t *testing.T, dir string, args ...string) (report []byte, stdout string) {
	t.Helper()
	path := filepath.Join(dir, "REPORT.md")
	var out, stderr bytes.Buffer
	args = append(args, "-backoff-max=200ms", "-timeout=2m", "-analyze=false", "-out="+filepath.Join(dir, "out"), "-report="+path)
	if err := run(args, &out, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return md, out.String()
}
