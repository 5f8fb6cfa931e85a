//go:build !linux

package main

import "syscall"

// childSysProcAttr: no parent-death signal outside Linux.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

// readHWM is unavailable outside Linux.
func readHWM() int64 { return 0 }

// readStatusKiB is unavailable outside Linux.
func readStatusKiB(fields ...string) []int64 { return make([]int64, len(fields)) }

// mappedUnder is unavailable outside Linux.
func mappedUnder(string) (int, int64) { return 0, 0 }

// resetHWM is unavailable outside Linux.
func resetHWM() {}

// loadAvg is unavailable outside Linux.
func loadAvg() string { return "unknown" }

// cpuModel is unavailable outside Linux.
func cpuModel() string { return "unknown" }
