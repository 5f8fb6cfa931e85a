package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dropsFile keeps the drop counters of every process that used the spool,
// across restarts, so that `aispool inspect` can show them. Each drop event
// appends a line "<unix seconds> <reason> <count>" under an exclusive
// flock; when the file passes dropsCompactBytes, the writer that notices
// rewrites it in place as one line per reason.
const (
	dropsFile         = "drops.log"
	dropsCompactBytes = 256 << 10
)

// addDropLocked counts n records dropped for reason, in Stats and in the
// drops file. Failures to write the file are logged, never fatal.
func (s *Spool) addDropLocked(reason string, n uint64) {
	if n == 0 {
		return
	}
	s.dropped[reason] += n
	if err := appendDrop(s.dir, reason, n, time.Now()); err != nil {
		s.log.Warn("record drop counters", "err", err)
	}
}

func appendDrop(dir, reason string, n uint64, now time.Time) error {
	f, err := os.OpenFile(filepath.Join(dir, dropsFile), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }() // closing f would release it too
	reason = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, reason)
	if _, err := fmt.Fprintf(f, "%d %s %d\n", now.Unix(), reason, n); err != nil {
		return err
	}
	if info, err := f.Stat(); err == nil && info.Size() > dropsCompactBytes {
		return compactDrops(f, now)
	}
	return nil
}

// compactDrops rewrites the locked file as one line per reason.
func compactDrops(f *os.File, now time.Time) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	totals, err := parseDrops(f)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for reason, n := range totals {
		fmt.Fprintf(&buf, "%d %s %d\n", now.Unix(), reason, n)
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes()) // O_APPEND: written at the new end, 0
	return err
}

// maxDropsLine bounds a line of the drops file; longer ones (garbage) are
// skipped like any other malformed line.
const maxDropsLine = 4 << 10

// parseDrops sums a drops file by reason; malformed lines (a torn write,
// garbage of any length) are skipped. Only a read error is returned.
func parseDrops(r io.Reader) (map[string]uint64, error) {
	totals := make(map[string]uint64)
	br := bufio.NewReaderSize(r, maxDropsLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if f := strings.Fields(string(line)); len(f) == 3 {
			if n, perr := strconv.ParseUint(f[2], 10, 64); perr == nil {
				totals[f[1]] += n
			}
		}
		switch {
		case err == io.EOF:
			return totals, nil
		case err != nil:
			return totals, err
		}
	}
}

// readDrops returns the lifetime drop counters of the spool in dir.
func readDrops(dir string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(dir, dropsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseDrops(f)
}
