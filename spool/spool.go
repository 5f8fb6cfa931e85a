package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tuning constants of the implementation.
const (
	// recordOverhead estimates what bbolt adds per record on disk (key,
	// header, leaf element), for the MaxBytes check before a commit.
	recordOverhead = keyLen + recordHeaderLen + 16
	// maxGroupBytes bounds one group commit; appends beyond it wait for the
	// next transaction.
	maxGroupBytes = 4 << 20
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

// Spool is a durable FIFO of opaque records kept in a directory of bbolt
// segment files. It is safe for concurrent use. See the package
// documentation for the guarantees.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger

	// closeMu orders Append's hand-over to the committer against Close.
	closeMu sync.RWMutex
	closing bool
	reqs    chan *appendReq
	stop    chan struct{}
	done    chan struct{}
	notify  chan struct{}
	arena   []byte    // the committer's reusable key/value arena
	lens    []int     // the committer's reusable list of value lengths
	arenas  sync.Pool // memory of settled batches, for the next leases

	mu       sync.Mutex
	closed   bool
	active   *segment
	segs     []*segment    // segments this process has open, by id (oldest first)
	others   []segmentFile // segment files seen at the last scan that this process has not open, by id
	reader   bool          // Lease was called: this process drains
	lastScan time.Time
	// counts caches the live-record counts of free files a drainer has not
	// taken over (see peekLocked), by id, so that a scan does not reopen
	// an unchanged file.
	counts map[string]fileCount
	// claims counts files taken over or quarantined: Lease's rescans stop
	// when one makes no progress.
	claims uint64

	// deleteSettled makes every settle delete its records, as the active
	// segment does, instead of marking them: the benchmarks' comparison.
	deleteSettled bool
	// failPersist, if set, fails the transactions that write settles with
	// its error: tests of ErrSettleDeferred without filling a disk.
	failPersist error

	lastAppendErr            error // the last group commit's failure; nil after a success
	appended, acked, retried uint64
	commits                  uint64 // successful group commits (transactions)
	leased                   int64
	delayed                  int64
	delays                   delayHeap   // records waiting for a retry delay, earliest first
	delayTimer               *time.Timer // wakes Notify when the earliest delay is due
	dropped                  map[string]uint64
	quarantined              uint64
}

// Open opens (creating if needed) the spool in dir and starts a new active
// segment for this process. It refuses an unsafe directory (ErrUnsafeDir).
// Open does not read the existing segments: that happens lazily, when the
// spool is first drained, so opening is fast whatever the spool holds.
func Open(ctx context.Context, dir string, opts *Options) (*Spool, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("spool: empty directory path")
	}
	dir = filepath.Clean(dir)
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	s := &Spool{
		dir:     dir,
		opts:    o,
		log:     o.Logger.With("spool", dir),
		reqs:    make(chan *appendReq, 256),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		notify:  make(chan struct{}, 1),
		dropped: make(map[string]uint64),
		counts:  make(map[string]fileCount),
	}
	s.mu.Lock()
	err = s.newActiveLocked()
	if err == nil {
		err = s.scanLocked()
	}
	s.mu.Unlock()
	if err != nil {
		s.closeSegments()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// Ready reports whether the spool can take appends now: it is open, its
// directory is writable, and the last append did not fail (a full disk
// makes it unready until an append succeeds again).
func (s *Spool) Ready() error {
	s.mu.Lock()
	closed, last := s.closed, s.lastAppendErr
	s.mu.Unlock()
	s.closeMu.RLock()
	closing := s.closing
	s.closeMu.RUnlock()
	switch {
	case closed || closing:
		return ErrClosed
	case last != nil:
		return fmt.Errorf("spool: last append failed: %w", last)
	}
	if err := syscall.Access(s.dir, 2 /* W_OK */); err != nil {
		return fmt.Errorf("spool: directory %s is not writable: %w", s.dir, err)
	}
	return nil
}

// Dir returns the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Notify returns a channel that receives (without blocking the spool) after
// records were appended or released for retry by this process. Segments
// sealed by other processes appear without notice: a drainer also polls.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

func (s *Spool) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Close stops appends, writes settles that could not be written before
// (ErrSettleDeferred), seals this process's active segment (deleting it if
// empty), and releases every segment. Records leased and not settled stay in
// the spool and are handed out again after the next Open. Calls after Close
// return ErrClosed; Close itself is idempotent.
func (s *Spool) Close() error {
	s.closeMu.Lock()
	if s.closing {
		s.closeMu.Unlock()
		<-s.done
		return nil
	}
	s.closing = true
	s.closeMu.Unlock()
	close(s.stop)
	<-s.done

	// Settle decisions that could not be written yet (ErrSettleDeferred):
	// a last try, so that they do not come back after the next Open.
	s.mu.Lock()
	var dirty []*segment
	for _, g := range s.segs {
		if g.dirty() && !g.wedged {
			dirty = append(dirty, g)
		}
	}
	s.mu.Unlock()
	for _, g := range dirty {
		if err := s.flushSettles(g); err != nil {
			s.log.Warn("settles not written before close; their records will be handed out again", "segment", g.id, "err", err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.armDelayLocked() // stops the timer; delays are forgotten
	var err error
	if g := s.active; g != nil {
		err = s.sealLocked(g)
	}
	s.closeSegments()
	return err
}

// closeSegments closes every open segment file. Callers hold mu or own s.
func (s *Spool) closeSegments() {
	for _, g := range s.segs {
		s.closeDBLocked(g)
	}
	s.segs = nil
	s.active = nil
}

// newActiveLocked creates this process's next active segment.
func (s *Spool) newActiveLocked() error {
	g, err := createSegment(s.dir, s.opts.Now(), s.opts.SegmentMaxBytes)
	if err != nil {
		return err
	}
	s.active = g
	s.insertLocked(g)
	return nil
}

func (s *Spool) insertLocked(g *segment) {
	i, _ := slices.BinarySearchFunc(s.segs, g.id, func(x *segment, id string) int {
		switch {
		case x.id < id:
			return -1
		case x.id > id:
			return 1
		}
		return 0
	})
	s.segs = slices.Insert(s.segs, i, g)
}

// sealLocked ends appends to g: it is renamed to .seg, or deleted if it
// holds nothing. A producer that does not drain closes it, so that another
// process can take it over.
func (s *Spool) sealLocked(g *segment) error {
	g.active = false
	if s.active == g {
		s.active = nil
	}
	if g.drained() {
		return s.removeLocked(g)
	}
	old := g.path()
	g.ext = extSealed
	if err := os.Rename(old, g.path()); err != nil {
		g.ext = extActive
		return fmt.Errorf("spool: seal segment %s: %w", g.id, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: seal segment %s: %w", g.id, err)
	}
	if !s.reader && !s.closed {
		s.releaseLocked(g)
	}
	return nil
}

// closeDBLocked closes g's file. A write transaction that panicked on a
// damaged file can leave bbolt's writer lock held for good (its rollback
// panics too), and Close would wait for it forever: such a file (wedged)
// stays open until the process exits.
func (s *Spool) closeDBLocked(g *segment) {
	if g.db == nil {
		return
	}
	if !g.wedged {
		if err := g.db.Close(); err != nil {
			s.log.Warn("close segment", "segment", g.id, "err", err)
		}
	}
	g.db = nil
}

// releaseLocked closes g and forgets it without deleting the file.
func (s *Spool) releaseLocked(g *segment) {
	s.closeDBLocked(g)
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
	if !s.closed {
		s.others = append(s.others, segmentFile{id: g.id, ext: g.ext, size: g.size})
		slices.SortFunc(s.others, func(a, b segmentFile) int { return strings.Compare(a.id, b.id) })
	}
}

// removeLocked closes and deletes a segment that holds nothing more.
func (s *Spool) removeLocked(g *segment) error {
	path := g.path()
	s.closeDBLocked(g)
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("spool: remove drained segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: remove drained segment: %w", err)
	}
	return nil
}

// quarantineLocked moves a segment file that cannot be trusted into
// quarantine/, so that the rest of the spool keeps flowing. lost is the
// number of live records it held, if known.
func (s *Spool) quarantineLocked(name string, lost int64, cause error) {
	dst := filepath.Join(s.dir, quarantineDir, fmt.Sprintf("%s.%d.corrupt", name, time.Now().UnixNano()))
	if err := os.Rename(filepath.Join(s.dir, name), dst); err != nil {
		s.log.Error("quarantine segment failed", "segment", name, "err", err)
		return
	}
	_ = syncDir(s.dir)
	s.quarantined++
	if lost > 0 {
		s.addDropLocked(ReasonCorrupt, uint64(lost))
	}
	s.log.Error("segment quarantined", "segment", name, "records_lost", lost, "cause", cause, "moved_to", dst)
}

// quarantineRecord keeps a copy of a record that failed its check.
func (s *Spool) quarantineRecord(g *segment, seq uint64, raw []byte, cause error) {
	name := filepath.Join(s.dir, quarantineDir, fmt.Sprintf("%s-%020d.record", g.id, seq))
	if err := os.WriteFile(name, raw, 0o600); err != nil {
		s.log.Error("write quarantined record", "segment", g.id, "seq", seq, "err", err)
	}
	s.log.Error("record quarantined", "segment", g.id, "seq", seq, "cause", cause)
}

// scanLocked lists the directory: a drainer takes over sealed segments and
// those of dead processes, oldest first, while fewer than drainWindow of
// the segments it holds have records to hand out, and looks at the others
// (peekLocked); everyone refreshes the sizes used for MaxBytes.
func (s *Spool) scanLocked() error {
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
	for _, f := range files {
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
		if g.active || g.db == nil || g.wedged || !g.available() || g.outstanding > 0 || len(g.retry) > 0 || g.dirty() || g.writing > 0 {
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
		s.quarantineLocked(f.name(), 0, err)
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

// diskBytesLocked is the bytes on disk of every segment file known.
func (s *Spool) diskBytesLocked() int64 {
	var n int64
	for _, g := range s.segs {
		n += g.size
	}
	for _, f := range s.others {
		n += f.size
	}
	return n
}

// Stats is a snapshot of a spool's state and of its counters since Open.
type Stats struct {
	// Records is the number of live records in the segments this process
	// has open (its active segment and the ones it drains) and, in a
	// drainer, in the sealed segments waiting for it (Queued), as counted
	// in their files at its last scan. Records in segments held by other
	// processes are not counted.
	Records int64
	// Leased is how many of those are leased and not yet settled.
	Leased int64
	// Delayed is how many of those wait for a retry delay
	// (Outcome.RetryDelay) before they are handed out again.
	Delayed int64
	// NextDue is when the first of them is due; zero when none waits.
	NextDue time.Time
	// Bytes is the size on disk of every segment file in the directory.
	Bytes int64
	// Segments is the number of segment files in the directory.
	Segments int
	// Unclaimed is how many of them this process has not opened: the
	// active segments of live producers, segments another drainer holds,
	// and sealed segments not yet taken over.
	Unclaimed int
	// Queued is how many of the Unclaimed files a drainer found free at
	// its last scan: sealed segments (or those of dead processes) that it
	// takes over as the ones it holds drain, since it holds only a few
	// open at once. Their records are counted in Records. Unclaimed minus
	// Queued is what other processes hold (or, in a process that does not
	// drain, has not been looked at). Zero in a process that does not
	// drain.
	Queued int
	// Oldest is the append time of the oldest live record in the segments
	// this process has open; zero if none.
	Oldest time.Time
	// Appended, Acked and Retried count records since Open.
	Appended, Acked, Retried uint64
	// Dropped counts records removed undelivered, by reason (ReasonFull,
	// ReasonExpired, ReasonCorrupt, ReasonRejected, or any reason passed to
	// Settle).
	Dropped map[string]uint64
	// QuarantinedSegments counts segment files moved to quarantine/.
	QuarantinedSegments uint64
}

// Stats returns a snapshot. It is cheap (no scan of the records) and safe to
// poll from a metrics collector.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Leased:              s.leased,
		Delayed:             s.delayed,
		NextDue:             s.nextDueLocked(),
		Bytes:               s.diskBytesLocked(),
		Segments:            len(s.segs) + len(s.others),
		Unclaimed:           len(s.others),
		Appended:            s.appended,
		Acked:               s.acked,
		Retried:             s.retried,
		Dropped:             maps.Clone(s.dropped),
		QuarantinedSegments: s.quarantined,
	}
	for _, g := range s.segs {
		st.Records += g.live()
		if st.Oldest.IsZero() && g.live() > 0 && g.db != nil {
			st.Oldest = oldestTime(g)
		}
	}
	for _, f := range s.others {
		if f.free {
			st.Queued++
			st.Records += f.records
		}
	}
	return st
}

func oldestTime(g *segment) (t time.Time) {
	defer func() { _ = recover() }()
	_ = g.db.View(func(tx *bolt.Tx) error {
		_, v := firstLive(tx.Bucket(bucketRecords).Cursor(), g.marks, 1)
		if v != nil {
			t, _, _ = decodeRecord(v)
		}
		return nil
	})
	return t
}
