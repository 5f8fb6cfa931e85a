package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

func TestRoundDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{4*time.Minute + 58745779073*time.Nanosecond, "4m58.746s"},
		{1500 * time.Millisecond, "1.5s"},
		{1234567 * time.Nanosecond, "1.235ms"},
		{-2*time.Second - 1, "-2s"},
		{0, "0s"},
	} {
		if got := roundDuration(tc.in).String(); got != tc.want {
			t.Errorf("roundDuration(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	var out bytes.Buffer
	printEndpointReport(&out, &fakeingest.Report{Profile: "healthy", Elapsed: 4*time.Minute + 58745779073*time.Nanosecond})
	if !strings.Contains(out.String(), "4m58.746s") || strings.Contains(out.String(), "745779073") {
		t.Errorf("chaos serve prints its time unrounded:\n%s", out.String())
	}
}

// TestChaosRunSaysItsDefaultsDiffer: chaos run's shipper defaults are not
// run's, and its help says so; --dir is still accepted for --spool-dir.
func TestChaosRunSaysItsDefaultsDiffer(t *testing.T) {
	code, out, _ := cli(t, nil, "chaos", "run", "--help")
	for _, want := range []string{"fewer than run's 5000", "shorter than run's 30s", "--spool-dir"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("chaos run --help lacks %q", want)
		}
	}
	if strings.Contains(out, "--dir ") {
		t.Errorf("chaos run --help still shows --dir")
	}
	code, _, errOut := cli(t, nil, "chaos", "run", "--dir", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "--profile is required") {
		t.Errorf("chaos run --dir: exit %d, %s", code, errOut)
	}
}
