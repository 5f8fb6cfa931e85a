package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The drainer's window: which segment files of the directory a drainer
// holds open, takes over, peeks at or lets go, and the directory scan that
// finds them. The tests are in window_test.go.

// Tuning constants of the window and the scan.
const (
	// scanInterval rate-limits directory scans for segments of other
	// processes.
	scanInterval = 500 * time.Millisecond
	// drainWindow bounds the sealed segments a drainer holds open with
	// records left to hand out. bbolt mmaps each open file, and what it
	// touches of one (a few hundred KiB) stays resident until the segment
	// is drained and removed: holding every sealed segment of a large
	// backlog cost 38 MiB of RSS for 164 segments in the 1M-envelope ship
	// benchmark. A few are plenty to keep the sender busy (a batch comes
	// from one segment, oldest first); the next ones are taken over, oldest
	// first, as these drain, and the records of those waiting are still
	// counted in Stats.Records (read from their meta buckets).
	drainWindow = 8
	// staleTmpAge is how old an unlocked .tmp file must be before a scan
	// removes it.
	staleTmpAge = time.Minute
)

// scanLocked lists the directory: a drainer takes over sealed segments and
// those of dead processes, oldest first, while fewer than drainWindow of
// the segments it holds have records to hand out, and looks at the others
// (peekLocked); everyone refreshes the sizes used for MaxBytes.
func (s *Spool) scanLocked() error { return s.scanContextLocked(context.Background()) }

// scanContextLocked is scanLocked checking ctx before each file it looks
// at: when ctx ends, it returns an error wrapping ctx.Err(), keeps what it
// took over so far, and leaves the next call to scan again.
func (s *Spool) scanContextLocked(ctx context.Context) error {
	files, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	s.lastScan = time.Now()
	known := make(map[string]bool, len(s.segs))
	for _, g := range s.segs {
		known[g.id] = true
	}
	window := s.windowLocked()
	s.others = s.others[:0]
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			// Keep what is known of the files not looked at, so that
			// MaxBytes still counts them, and scan again next time.
			s.others = append(s.others, files[i:]...)
			s.lastScan = time.Time{}
			return fmt.Errorf("spool: scan %s: %w", s.dir, err)
		}
		if known[f.id] {
			continue
		}
		if f.ext == extTmp {
			s.removeStaleTmp(f)
			continue
		}
		if !s.reader {
			s.others = append(s.others, f)
			continue
		}
		if window >= drainWindow {
			s.others = append(s.others, s.peekLocked(f))
			continue
		}
		g, err := s.claimLocked(f)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, fs.ErrNotExist) {
				s.others = append(s.others, f)
			}
			continue
		}
		s.insertLocked(g)
		if g.available() {
			window++
		}
	}
	if s.reader {
		s.trimLocked("")
		for id := range s.counts {
			if _, found := slices.BinarySearchFunc(s.others, id, cmpFileID); !found {
				delete(s.counts, id)
			}
		}
	}
	return nil
}

func cmpFileID(f segmentFile, id string) int { return strings.Compare(f.id, id) }

// windowLocked counts the sealed segments this process holds open that
// have records to hand out: what drainWindow bounds. A segment whose
// records are all leased out does not count (it goes once its batches are
// settled), so that a drainer with many batches in flight still takes over
// the next segment rather than idle.
func (s *Spool) windowLocked() int {
	n := 0
	for _, g := range s.segs {
		if !g.active && g.available() {
			n++
		}
	}
	return n
}

// fillWindowLocked takes over free files seen at the last scan, oldest
// first, while the window has room: the next segments to drain, without
// waiting for a scan.
func (s *Spool) fillWindowLocked() {
	window := s.windowLocked()
	for i := 0; i < len(s.others) && window < drainWindow; {
		if !s.others[i].free {
			i++
			continue
		}
		g, ok := s.takeOtherLocked(i)
		if !ok {
			if i < len(s.others) && !s.others[i].free {
				i++ // held now; otherwise the entry is gone
			}
			continue
		}
		if g.available() {
			window++
		}
	}
}

// takeOlderLocked takes over the oldest free file seen at the last scan if
// it is older than segment id, and reports whether it did. Lease calls it
// before handing out records of id, so that records come out oldest first
// even when the window is full: a file older than those held that became
// free since they were taken (its holder exited) goes first. To make room,
// the newest segment held that is newer than id and can be closed is
// closed; if none can, the window exceeds drainWindow until a scan trims it.
func (s *Spool) takeOlderLocked(id string) bool {
	for i := 0; i < len(s.others) && s.others[i].id < id; {
		if !s.others[i].free {
			i++
			continue
		}
		if _, ok := s.takeOtherLocked(i); ok {
			s.trimLocked(id)
			return true
		}
		if i < len(s.others) && !s.others[i].free {
			i++
		}
	}
	return false
}

// takeOtherLocked claims s.others[i], a file found free. On success it is
// moved to s.segs; if another process took it meanwhile it stays, marked
// held; if it is gone or corrupt (quarantined), its entry goes.
func (s *Spool) takeOtherLocked(i int) (*segment, bool) {
	f := s.others[i]
	g, err := s.claimLocked(f)
	switch {
	case err == nil:
		s.others = slices.Delete(s.others, i, i+1)
		delete(s.counts, f.id)
		s.insertLocked(g)
		return g, true
	case errors.Is(err, ErrCorrupt), errors.Is(err, fs.ErrNotExist):
		s.others = slices.Delete(s.others, i, i+1)
		delete(s.counts, f.id)
	default:
		s.others[i].free, s.others[i].records = false, 0
	}
	return nil, false
}

// trimLocked closes the newest sealed segments (newer than segment after)
// that make the window exceed drainWindow: segments this process sealed
// itself while draining, or took over to keep FIFO order. Only a segment
// that can be reopened later without losing anything goes: none of its
// records leased, waiting for a retry, or settled but not yet deleted from
// the file. It stays listed, free, with its records counted, and is taken
// over again in turn.
func (s *Spool) trimLocked(after string) {
	over := s.windowLocked() - drainWindow
	trimmed := false
	for i := len(s.segs) - 1; i >= 0 && over > 0 && s.segs[i].id > after; i-- {
		g := s.segs[i]
		if g.active || g.setAside() || g.db == nil || g.wedged || !g.available() || g.outstanding > 0 || len(g.retry) > 0 || g.dirty() || g.writing > 0 {
			continue
		}
		f := segmentFile{id: g.id, ext: g.ext, size: g.size, free: true, records: g.live()}
		s.closeDBLocked(g)
		s.segs = slices.Delete(s.segs, i, i+1)
		if info, err := os.Stat(g.path()); err == nil {
			f.size, f.mod = info.Size(), info.ModTime()
			s.counts[f.id] = fileCount{ext: f.ext, size: f.size, mod: f.mod, records: f.records}
		}
		s.others = append(s.others, f)
		trimmed = true
		over--
	}
	if trimmed {
		slices.SortFunc(s.others, func(a, b segmentFile) int { return strings.Compare(a.id, b.id) })
	}
}

// fileCount is a cached count of a file's live records, valid while the
// file's name, size and modification time stay the same.
type fileCount struct {
	ext     string
	size    int64
	mod     time.Time
	records int64
}

// peekLocked looks at a file that a drainer does not take over now:
// whether another process holds it and, if not, how many live records it
// holds, read from its meta bucket through a brief read-only open (a
// shared lock) and cached while the file does not change.
func (s *Spool) peekLocked(f segmentFile) segmentFile {
	path := filepath.Join(s.dir, f.name())
	if c, ok := s.counts[f.id]; ok && c.ext == f.ext && c.size == f.size && c.mod.Equal(f.mod) {
		if locked, err := isLocked(path); err == nil && !locked {
			f.free, f.records = true, c.records
		}
		return f
	}
	n, err := peekRecordCount(path, f.size)
	switch {
	case err == nil:
		f.free, f.records = true, n
	case errors.Is(err, ErrCorrupt):
		// Free, but unreadable: quarantined when its turn comes.
		f.free, n = true, 0
	default:
		return f // held by another process, or gone
	}
	s.counts[f.id] = fileCount{ext: f.ext, size: f.size, mod: f.mod, records: n}
	return f
}

// claimLocked opens a segment file of another (or a dead) process. A
// corrupt file is quarantined; a locked one is left to its owner.
func (s *Spool) claimLocked(f segmentFile) (*segment, error) {
	g, err := openSegment(s.dir, f, s.opts.SegmentMaxBytes)
	switch {
	case errors.Is(err, ErrCorrupt):
		s.claims++
		s.salvageFileLocked(f, err)
		return nil, err
	case err != nil:
		if !errors.Is(err, ErrLocked) && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot open segment", "segment", f.name(), "err", err)
		}
		return nil, err
	}
	s.claims++
	if g.ext == extActive {
		// Its owner died: the segment is sealed from now on.
		old := g.path()
		g.ext = extSealed
		if err := os.Rename(old, g.path()); err != nil {
			g.ext = extActive
			s.log.Warn("seal segment of a dead process", "segment", f.name(), "err", err)
		} else {
			_ = syncDir(s.dir)
		}
	}
	return g, nil
}

func (s *Spool) removeStaleTmp(f segmentFile) {
	if time.Since(f.mod) < staleTmpAge {
		return
	}
	path := filepath.Join(s.dir, f.name())
	if locked, err := isLocked(path); err != nil || locked {
		return
	}
	if err := os.Remove(path); err == nil {
		s.log.Info("removed stale segment left by an interrupted creation", "segment", f.name())
	}
}
