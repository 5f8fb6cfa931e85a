package spool

import (
	"context"
	"errors"
	"fmt"
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
	// maxOpenSegments bounds the segments a drainer holds open at once.
	maxOpenSegments = 256
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
	others   []segmentFile // segment files seen at the last scan that this process has not open
	reader   bool          // Lease was called: this process drains
	lastScan time.Time

	lastAppendErr            error // the last group commit's failure; nil after a success
	appended, acked, retried uint64
	commits                  uint64 // successful group commits (transactions)
	leased                   int64
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

// Close stops appends, seals this process's active segment (deleting it if
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

	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
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
		if g.db != nil {
			if err := g.db.Close(); err != nil {
				s.log.Warn("close segment", "segment", g.id, "err", err)
			}
			g.db = nil
		}
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

// releaseLocked closes g and forgets it without deleting the file.
func (s *Spool) releaseLocked(g *segment) {
	if g.db != nil {
		if err := g.db.Close(); err != nil {
			s.log.Warn("close segment", "segment", g.id, "err", err)
		}
		g.db = nil
	}
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
	if !s.closed {
		s.others = append(s.others, segmentFile{id: g.id, ext: g.ext, size: g.size})
		slices.SortFunc(s.others, func(a, b segmentFile) int { return strings.Compare(a.id, b.id) })
	}
}

// removeLocked closes and deletes a segment that holds nothing more.
func (s *Spool) removeLocked(g *segment) error {
	path := g.path()
	if g.db != nil {
		if err := g.db.Close(); err != nil {
			s.log.Warn("close segment", "segment", g.id, "err", err)
		}
		g.db = nil
	}
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
// those of dead processes; everyone refreshes the sizes used for MaxBytes.
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
	s.others = s.others[:0]
	for _, f := range files {
		if known[f.id] {
			continue
		}
		if f.ext == extTmp {
			s.removeStaleTmp(f)
			continue
		}
		if !s.reader || len(s.segs) >= maxOpenSegments {
			s.others = append(s.others, f)
			continue
		}
		g, err := s.claimLocked(f)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				s.others = append(s.others, f)
			}
			continue
		}
		s.insertLocked(g)
	}
	return nil
}

// claimLocked opens a segment file of another (or a dead) process. A
// corrupt file is quarantined; a locked one is left to its owner.
func (s *Spool) claimLocked(f segmentFile) (*segment, error) {
	g, err := openSegment(s.dir, f, s.opts.SegmentMaxBytes)
	switch {
	case errors.Is(err, ErrCorrupt):
		s.quarantineLocked(f.name(), 0, err)
		return nil, err
	case err != nil:
		if !errors.Is(err, ErrLocked) {
			s.log.Warn("cannot open segment", "segment", f.name(), "err", err)
		}
		return nil, err
	}
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
	// has open (its active segment and the ones it drains). Records in
	// segments held by other processes are not counted.
	Records int64
	// Leased is how many of those are leased and not yet settled.
	Leased int64
	// Bytes is the size on disk of every segment file in the directory.
	Bytes int64
	// Segments is the number of segment files in the directory.
	Segments int
	// Unclaimed is how many of them this process has not opened: the
	// active segments of live producers, segments another drainer holds,
	// and sealed segments not yet taken over.
	Unclaimed int
	// Oldest is the append time of the oldest live record this process
	// can see; zero if none.
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
	return st
}

func oldestTime(g *segment) (t time.Time) {
	defer func() { _ = recover() }()
	_ = g.db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketRecords).Cursor().First()
		if v != nil {
			t, _, _ = decodeRecord(v)
		}
		return nil
	})
	return t
}
