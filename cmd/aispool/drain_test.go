package main

import (
	"path/filepath"
	"testing"
)

// TestDrainConfigErrorPrintsNoSummary: a drain that could not start prints
// its configuration error, not a "sent 0 envelopes" summary.
func TestDrainConfigErrorPrintsNoSummary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	for _, args := range [][]string{
		{"drain", "--spool-dir", dir},
		{"drain", "--spool-dir", dir, "--connection-string", goodCS, "--max-in-flight", "0"},
		{"drain", "--connection-string", goodCS},
	} {
		code, out, errOut := cli(t, nil, args...)
		if code != exitConfig || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, nothing on stdout, the error on stderr", args, code, out, errOut, exitConfig)
		}
	}
}
