package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

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
