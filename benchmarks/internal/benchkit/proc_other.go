//go:build !linux

package benchkit

import "syscall"

// ChildSysProcAttr: no parent-death signal outside Linux.
func ChildSysProcAttr() *syscall.SysProcAttr { return nil }

// ReadHWM is unavailable outside Linux (callers fall back on the child's
// rusage).
func ReadHWM() int64 { return 0 }

// ReadStatusKiB is unavailable outside Linux.
func ReadStatusKiB(fields ...string) []int64 { return make([]int64, len(fields)) }

// ProcStatusKiB is unavailable outside Linux.
func ProcStatusKiB(_ int, fields ...string) []int64 { return make([]int64, len(fields)) }

// ResetHWM is unavailable outside Linux.
func ResetHWM() {}

// LoadAvg is unavailable outside Linux.
func LoadAvg() string { return "unknown" }

// CPUModel is unavailable outside Linux.
func CPUModel() string { return "unknown" }
