package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childSysProcAttr makes a child die with the parent.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// readHWM returns this process's peak RSS (VmHWM) in KiB, or 0.
func readHWM() int64 { return readStatusKiB("VmHWM")[0] }

// readStatusKiB returns the named fields of /proc/self/status, in KiB (0
// when absent).
func readStatusKiB(fields ...string) []int64 {
	out := make([]int64, len(fields))
	f, err := os.Open("/proc/self/status")
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

// mappedUnder returns how many mappings of this process map files under
// dir, and their resident size in KiB (from /proc/self/smaps).
func mappedUnder(dir string) (mappings int, rssKiB int64) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	prefix := strings.TrimSuffix(dir, "/") + "/"
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Rss:"); ok {
			if in {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				rssKiB += kb
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode [path]".
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && strings.HasPrefix(fields[5], prefix)
			if in {
				mappings++
			}
		}
	}
	return mappings, rssKiB
}

// resetHWM resets VmHWM to the current RSS (Linux ≥ 4.0), so that a later
// readHWM reports the peak of what follows only.
func resetHWM() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// loadAvg is /proc/loadavg without its newline.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
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
