package main

import (
	"strings"
	"testing"
)

// The version `make dist` stamps with -ldflags -X main.stampedVersion is
// what --version, -v and the version command tell.
func TestStampedVersion(t *testing.T) {
	old := stampedVersion
	t.Cleanup(func() { stampedVersion = old })
	stampedVersion = "v1.2.3-test"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		code, out, errOut := cli(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "aispool v1.2.3-test") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
