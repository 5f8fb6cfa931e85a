//go:build !linux

package chaos

import (
	"errors"
	"syscall"
)

// childProcAttr: only Linux can tie a child's life to its parent's
// (Pdeathsig); elsewhere the scenario kills its daemon when it ends.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// limitFileSize: setting another process's RLIMIT_FSIZE (prlimit) is Linux
// only, so the disk-full scenarios run on Linux.
func limitFileSize(int, int64) error {
	return errors.New("a file size limit for the daemon (the disk-full scenarios) needs Linux")
}
