package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary play the children's roles: the harness
// re-executes its own binary (here, the test binary) with -role=....
func TestMain(m *testing.M) {
	if isChild(os.Args[1:]) {
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
	report := filepath.Join(dir, "REPORT.md")
	var stdout, stderr bytes.Buffer
	err := run([]string{
		"-spans=2000", "-backlog=5000", "-backoff-max=200ms", "-timeout=2m", "-analyze=false",
		"-out=" + filepath.Join(dir, "out"), "-report=" + report,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
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
	if !strings.Contains(stdout.String(), "report written to") {
		t.Errorf("stdout: %s", stdout.String())
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
	if got := lineCount("a\nb\nc"); got != 3 {
		t.Errorf("lines of a 3-line body without a final newline: %d", got)
	}
}

// lineCount counts items as the endpoint does.
func lineCount(s string) int64 {
	var c lineCounter
	_, _ = c.Write([]byte(s))
	return c.items()
}
