package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOverflowFlag: --overflow takes reject (the default) or drop-oldest;
// anything else is a usage error naming both.
func TestOverflowFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	for _, tc := range []struct {
		value  string
		code   int
		errOut string
	}{
		{"reject", 0, ""},
		{"drop-oldest", 0, ""},
		{"evict", 2, "want reject or drop-oldest"},
	} {
		code, _, errOut := cli(t, nil, "validate", "--spool-dir", dir, "--connection-string", goodCS, "--overflow", tc.value)
		if code != tc.code || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("--overflow %s: exit %d, stderr %q; want %d and %q", tc.value, code, errOut, tc.code, tc.errOut)
		}
	}
	if _, out, _ := cli(t, nil, "run", "--help"); !strings.Contains(out, `--overflow policy`) || !strings.Contains(out, `(default reject)`) {
		t.Errorf("run --help does not show --overflow with its default:\n%s", out)
	}
}
