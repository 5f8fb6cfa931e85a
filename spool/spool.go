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
	// probeInterval spaces the attempts to create an active segment after
	// appends failed for lack of space (see maintainLocked).
	probeInterval = 500 * time.Millisecond
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
	frames  [][]byte  // the committer's reusable list of framed records
	arenas  sync.Pool // memory of settled batches, for the next leases
	views   [][]byte  // readLocked's scratch, guarded by mu

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

	lastAppendErr            error     // the last group commit's failure; nil after a success
	lastProbe                time.Time // when maintainLocked last tried to create an active segment after a failure
	lastSalvage              time.Time // when maintainLocked last tried to salvage segments set aside
	fullAt                   int64     // bytes on disk when an append was last refused with ErrFull; 0 after a success
	appended, acked, retried uint64
	commits                  uint64 // successful group commits (transactions)
	leased                   int64
	delayed                  int64
	delays                   delayHeap   // records waiting for a retry delay, earliest first
	delayTimer               *time.Timer // wakes Notify when the earliest delay is due
	dropped                  map[string]uint64
	quarantined              uint64
	orphaned                 uint64 // active segments whose file lost its name (see checkName)
	salvagedRecs             uint64 // records moved out of segments set aside (see salvageLocked)

	// commitSizes counts the successful group commits by records (see
	// commitSizeBucket).
	commitSizes [CommitSizeBuckets]uint64
}

// Open opens (creating if needed) the spool in dir and starts a new active
// segment for this process. It refuses an unsafe directory ([ErrUnsafeDir])
// and invalid options ([ErrInvalidConfig]). Open does not read the existing
// segments: that happens lazily, when the spool is first drained, so
// opening is fast whatever the spool holds.
//
// Open checks ctx before each step and each segment file it looks at: if
// ctx ends first, it returns an error wrapping ctx.Err() and leaves nothing
// open (and no new segment behind).
func Open(ctx context.Context, dir string, opts *Options) (*Spool, error) {
	o, err := opts.withDefaults()
	if dir == "" {
		err = errors.Join(err, fmt.Errorf("%w: empty directory path", ErrInvalidConfig))
	}
	if err != nil {
		return nil, err
	}
	canceled := func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("spool: open %s: %w", dir, err)
		}
		return nil
	}
	if err := canceled(); err != nil {
		return nil, err
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
	err = canceled()
	if err == nil {
		err = s.scanContextLocked(ctx)
	}
	if err == nil {
		err = canceled()
	}
	if err == nil {
		if err = s.newActiveLocked(); err != nil && isNoSpace(err) {
			// A full disk at start: open what exists, so that it drains
			// (space comes back as drained segments are deleted). Appends
			// fail, and Ready says so, until a segment can be created:
			// maintainLocked tries again every tick.
			s.log.Warn("spool opened on a full disk: appends are refused until space returns", "err", err)
			s.lastAppendErr, s.lastProbe = err, time.Now()
			err = nil
		}
	}
	if err != nil {
		s.closeSegments()
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// Ready reports whether the spool can take appends now: it is open, its
// directory is writable, the last append did not fail, and it is not
// refusing appends for being full ([ErrFull]: from the refusal until
// segments are drained, under [RejectNew] or when nothing can be evicted).
// A full disk
// makes it unready until space returns: the spool then tries to create a
// new active segment about once a second, by itself, and is ready again
// once that succeeds (or once an append does).
func (s *Spool) Ready() error {
	s.mu.Lock()
	closed, last := s.closed, s.lastAppendErr
	disk, fullAt := s.diskBytesLocked(), s.fullAt
	s.mu.Unlock()
	s.closeMu.RLock()
	closing := s.closing
	s.closeMu.RUnlock()
	switch {
	case closed || closing:
		return ErrClosed
	case last != nil:
		return fmt.Errorf("spool: last append failed: %w", last)
	case fullAt > 0 && disk >= fullAt:
		return fmt.Errorf("%w: %d bytes on disk, limit %d: appends are refused until draining frees space", ErrFull, disk, s.opts.MaxBytes)
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
// ([ErrSettleDeferred]), seals this process's active segment (deleting it if
// empty), and releases every segment. Records leased and not settled stay in
// the spool and are handed out again after the next Open. Calls after Close
// return [ErrClosed]; Close itself is idempotent.
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
	// An active segment whose file lost its name is salvaged rather than
	// sealed (the rename would fail, and its records go with the process).
	err := s.checkActiveLocked()
	for _, g := range slices.Clone(s.segs) {
		if g.setAside() && g.db != nil {
			err = errors.Join(err, s.salvageLocked(g, errors.New("close")))
		}
	}
	if g := s.active; g != nil {
		err = errors.Join(err, s.sealLocked(g))
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
	g, err := createSegment(s.dir, s.opts.Clock.Now(), s.opts.SegmentMaxBytes)
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
	g.db, g.file = nil, nil
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
	if g.orphan {
		return nil // its name is gone, or another file's
	}
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
	// Commits counts the group commits that stored appended records since
	// Open: one transaction and one fsync each, whatever the number of
	// Append calls it answered. Appended/Commits is the mean group size.
	Commits uint64
	// CommitSizes is the distribution of those commits by their size in
	// records, in power-of-two buckets: CommitSizes[i] counts the commits
	// of more than [CommitSizeBound](i-1) and at most CommitSizeBound(i)
	// records; CommitSizes[0] those of 1 record, CommitSizes[1] of 2,
	// CommitSizes[2] of 3 or 4, CommitSizes[3] of 5 to 8, …, and the last
	// bucket every commit of more than 16384. Its sum is Commits.
	CommitSizes [CommitSizeBuckets]uint64
	// Dropped counts records removed undelivered, by reason (ReasonFull,
	// ReasonExpired, ReasonCorrupt, ReasonRejected, or any reason passed to
	// Settle).
	Dropped map[string]uint64
	// QuarantinedSegments counts segment files moved to quarantine/.
	QuarantinedSegments uint64
	// OrphanedSegments counts active segments whose file lost its name
	// while open: deleted, moved, or its directory moved or removed. Their
	// records are salvaged into a new segment (SalvagedRecords) before any
	// append into them is acknowledged.
	OrphanedSegments uint64
	// SalvagedRecords counts records copied out of segments that were set
	// aside (orphaned, or damaged) into new segments.
	SalvagedRecords uint64
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
		Commits:             s.commits,
		CommitSizes:         s.commitSizes,
		Dropped:             maps.Clone(s.dropped),
		QuarantinedSegments: s.quarantined,
		OrphanedSegments:    s.orphaned,
		SalvagedRecords:     s.salvagedRecs,
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
