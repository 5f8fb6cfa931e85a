package chaos

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// childProcAttr makes a spawned daemon die with the scenario's process.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// limitFileSize sets the RLIMIT_FSIZE of process pid to n bytes: a full
// disk without a helper binary.
func limitFileSize(pid int, n int64) error {
	lim := &unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
	return unix.Prlimit(pid, unix.RLIMIT_FSIZE, lim, nil)
}
