package spool

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Segment files are named "<unix nanos, 20 digits>-<16 hex random>.<state>",
// so that names sort by creation time. The states:
//
//	.tmp     being initialised by its creator (never holds acknowledged data)
//	.active  the active segment of a live process, or of one that died
//	.seg     sealed: no more appends, waiting to be drained
const (
	extTmp    = ".tmp"
	extActive = ".active"
	extSealed = ".seg"

	quarantineDir = "quarantine"
)

// segmentFile is a segment file found in the spool directory.
type segmentFile struct {
	id   string // name without extension; sorts by creation
	ext  string
	size int64
	mod  time.Time

	// Set by a drainer for a file it has not opened (see peekLocked):
	free    bool  // nobody held it at the last look: it can be taken over
	records int64 // if free: its live records
}

func (f segmentFile) name() string { return f.id + f.ext }

// newSegmentID returns a fresh segment id for time t.
func newSegmentID(t time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%020d-%016x", t.UnixNano(), binary.BigEndian.Uint64(b[:]))
}

// parseSegmentName splits a directory entry name into id and extension; ok
// is false for files that are not segments.
func parseSegmentName(name string) (id, ext string, ok bool) {
	ext = filepath.Ext(name)
	switch ext {
	case extTmp, extActive, extSealed:
	default:
		return "", "", false
	}
	id = strings.TrimSuffix(name, ext)
	stamp, random, found := strings.Cut(id, "-")
	if !found || len(stamp) != 20 || len(random) != 16 {
		return "", "", false
	}
	if _, err := strconv.ParseUint(stamp, 10, 64); err != nil {
		return "", "", false
	}
	if _, err := strconv.ParseUint(random, 16, 64); err != nil {
		return "", "", false
	}
	return id, ext, true
}

// listSegments returns the segment files of dir, oldest first.
func listSegments(dir string) ([]segmentFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var out []segmentFile
	for _, e := range entries {
		id, ext, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir: drained or renamed by its owner
		}
		if err != nil {
			return nil, fmt.Errorf("spool: stat %s: %w", e.Name(), err)
		}
		out = append(out, segmentFile{id: id, ext: ext, size: info.Size(), mod: info.ModTime()})
	}
	// os.ReadDir sorts by name, and names sort by creation.
	return out, nil
}

// prepareDir creates dir (0700) if it does not exist, and refuses one that
// is unsafe to hold telemetry: a symlink, not a directory, owned by another
// user, writable by group or others, or under a directory that others can
// write (checkParents). The error says how to fix it.
func prepareDir(dir string) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("spool: create directory %s: %w", dir, err)
		}
		// MkdirAll is subject to the umask; make the mode exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("spool: chmod directory %s: %w", dir, err)
		}
		info, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("spool: stat directory %s: %w", dir, err)
	}
	if err := checkDirInfo(dir, info); err != nil {
		return err
	}
	if err := checkParents(dir); err != nil {
		return err
	}
	q := filepath.Join(dir, quarantineDir)
	if err := os.Mkdir(q, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("spool: create %s: %w", q, err)
	}
	return nil
}

func checkDirInfo(dir string, info fs.FileInfo) error {
	if info.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(dir)
		return fmt.Errorf("%w: %s is a symlink (to %q); give the real directory instead, so that nobody can redirect the spool", ErrUnsafeDir, dir, target)
	}
	if !info.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if uid := os.Geteuid(); int(st.Uid) != uid {
			return fmt.Errorf("%w: %s is owned by uid %d, not by the current user (uid %d); use a directory of your own, or chown it", ErrUnsafeDir, dir, st.Uid, uid)
		}
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o and is writable by group or others; fix it with: chmod 700 %s", ErrUnsafeDir, dir, perm, dir)
	}
	return nil
}

// checkParents refuses a spool directory that others can move or delete
// from under the spool: one whose parent directory, or any directory above
// it, is writable by group or others without the sticky bit (with it, as
// on /tmp, only an entry's owner can rename or remove it). Such a parent
// lets another user rename the spool directory away and put their own in
// its place.
func checkParents(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("spool: directory %s: %w", dir, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("spool: parent of directory %s: %w", dir, err)
	}
	for p := parent; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("spool: parent of directory %s: %w", dir, err)
		}
		if mode := info.Mode(); mode.Perm()&0o022 != 0 && mode&fs.ModeSticky == 0 {
			return fmt.Errorf("%w: %s, above the spool directory %s, has mode %04o: group or others can move or delete the spool directory and put another in its place; fix it with: chmod go-w %s (or chmod +t %s), or choose another place",
				ErrUnsafeDir, p, dir, mode.Perm(), p, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// syncDir fsyncs a directory so that creates, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isLocked reports whether another open file description holds an
// exclusive flock on path (bbolt locks its files with flock: exclusive to
// write, shared to read). The probe takes a shared lock for an instant, so
// two probes never see each other.
func isLocked(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}
