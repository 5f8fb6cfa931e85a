package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// TestIsNoSpace: a write that failed for lack of space is recognised
// however it reaches the spool, bbolt's errors of growing a file too
// (formatted with %s: the error number is lost, its text is not), and
// nothing else is.
func TestIsNoSpace(t *testing.T) {
	grow := func(op string, no syscall.Errno) error {
		// What bbolt's DB.grow returns (db.go: "file resize error: %s",
		// "file sync error: %s"), wrapped as a commit returns it.
		return fmt.Errorf("spool: append: %w", fmt.Errorf("%s: %s", op, &fs.PathError{Op: "truncate", Path: "/s/1.active", Err: no}))
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ENOSPC wrapped", fmt.Errorf("write: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), true},
		{"EFBIG wrapped", fmt.Errorf("write: %w", syscall.EFBIG), true},
		{"EDQUOT wrapped", fmt.Errorf("write: %w", syscall.EDQUOT), true},
		{"bbolt resize, EFBIG", grow("file resize error", syscall.EFBIG), true},
		{"bbolt resize, ENOSPC", grow("file resize error", syscall.ENOSPC), true},
		{"bbolt sync, EDQUOT", grow("file sync error", syscall.EDQUOT), true},
		{"bbolt resize, EIO", grow("file resize error", syscall.EIO), false},
		{"bbolt sync, EIO", grow("file sync error", syscall.EIO), false},
		{"EIO wrapped", fmt.Errorf("write: %w", syscall.EIO), false},
		{"the text without bbolt's growth", errors.New("record says: no space left on device"), false},
		{"ErrFull", ErrFull, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isNoSpace(tc.err); got != tc.want {
				t.Fatalf("isNoSpace(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
