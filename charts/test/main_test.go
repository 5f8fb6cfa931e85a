package charttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// buildDir holds the aispool binary the tests build once.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "charttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// aispoolBinary builds aispool from this repository once and returns its
// path.
func aispoolBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(buildDir, "aispool")
	buildOnce.Do(func() {
		build := exec.Command("go", "build", "-o", bin, "./cmd/aispool")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/aispool: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}
