//go:build !linux

package main

import "syscall"

// childSysProcAttr: no parent-death signal outside Linux.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

// readHWM is unavailable outside Linux (the parent falls back on the
// child's rusage).
func readHWM() int64 { return 0 }

// loadAvg is unavailable outside Linux.
func loadAvg() string { return "unknown" }

// cpuModel is unavailable outside Linux.
func cpuModel() string { return "unknown" }
