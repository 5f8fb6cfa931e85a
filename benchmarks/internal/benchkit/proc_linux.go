package benchkit

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ChildSysProcAttr makes a child die with the parent (SIGKILL when the
// parent's thread that started it exits).
func ChildSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// ReadHWM returns this process's peak RSS (VmHWM) in KiB, or 0.
func ReadHWM() int64 { return ReadStatusKiB("VmHWM")[0] }

// ReadStatusKiB returns the named fields of /proc/self/status, in KiB (0
// when absent).
func ReadStatusKiB(fields ...string) []int64 { return statusKiB("self", fields) }

// ProcStatusKiB returns the named fields of process pid's
// /proc/<pid>/status (VmRSS, VmHWM, RssAnon...), in KiB (0 when absent or
// when the process is gone).
func ProcStatusKiB(pid int, fields ...string) []int64 {
	return statusKiB(strconv.Itoa(pid), fields)
}

func statusKiB(proc string, fields []string) []int64 {
	out := make([]int64, len(fields))
	f, err := os.Open(filepath.Join("/proc", proc, "status"))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for i, name := range fields {
			if k == name {
				out[i], _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
	}
	return out
}

// ResetHWM resets VmHWM to the current RSS (Linux ≥ 4.0), so that a later
// [ReadHWM] reports the peak of what follows only.
func ResetHWM() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// LoadAvg is /proc/loadavg without its newline.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// CPUModel is the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
