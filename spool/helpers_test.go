package spool

import (
	"os"
	"time"

	"pgregory.net/rapid"
)

// tempDir returns a fresh directory removed when the rapid check ends.
func tempDir(t *rapid.T) string {
	dir, err := os.MkdirTemp("", "spool-model-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir + "/s"
}

// clockFunc makes a func a [Clock].
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
