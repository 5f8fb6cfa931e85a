package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	bucketRecords  = []byte("records")
	bucketAttempts = []byte("attempts")
	bucketMeta     = []byte("meta")
	metaFormat     = []byte("format")
	metaRecords    = []byte("records") // live records, uint64 big-endian, kept in step with every transaction
)

// addRecordCount adds delta to the live-record count in the meta bucket,
// inside the caller's write transaction.
func addRecordCount(tx *bolt.Tx, delta int64) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("%w: missing meta bucket", ErrCorrupt)
	}
	var n int64
	if v := meta.Get(metaRecords); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n = max(n+delta, 0)
	// The value must stay valid until the commit: a fresh slice.
	return meta.Put(metaRecords, binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(n)))
}

// segmentFormat is written into each segment's meta bucket.
const segmentFormat = "aispool-segment-1"

// segment is one bbolt file of the spool, opened by this process. The
// fields after db are guarded by the owning Spool's mu.
type segment struct {
	dir     string
	id      string
	ext     string // current state: extActive or extSealed
	created time.Time
	db      *bolt.DB
	// file is db's file, for checkName, in a segment this process created;
	// nil in one it took over. Valid while db is open.
	file *os.File

	active      bool     // this process appends to it
	next        uint64   // first sequence never handed out by Lease
	last        uint64   // last sequence appended
	retry       []uint64 // released for another try, ascending; handed out first
	outstanding int      // records leased and not yet settled, or waiting for a retry delay
	delayed     int      // of those, waiting for a retry delay (see delay.go)
	due         []uint64 // scratch: delayed records found due, before they join retry
	records     int64    // live records, as written in the file
	size        int64    // file size on disk
	// Settled records (acknowledged or dropped) leave the file in one of
	// two ways (see marks.go): marked in marks (a segment that is not
	// active), or deleted (the active one, and expired or corrupt
	// records). What is decided in memory is written by the segment's next
	// transaction (settleWrite); until then it holds in this process
	// only: never handed out again here, handed out again after a restart.
	marks      seqRanges // marked settled (written or not)
	marksDirty bool      // marks changed since they were last written
	marksNew   int64     // records marked since the marks were last written
	pendingDel []uint64  // settled, to delete from the file: deletions that failed
	unsaved    int64     // settled records the file's count does not reflect yet
	writing    int       // settle transactions in progress (settleWrite)
	// wmu serializes the transactions that write settle decisions, so that
	// they reach the file in the order they were taken.
	wmu sync.Mutex
	// dropped is set when the segment was quarantined while in use: its
	// outstanding batches no longer count as leased.
	dropped bool
	// wedged is set when bbolt panicked in a write transaction on the
	// file: its writer lock may be held for good (see closeDBLocked).
	wedged bool
	// orphan is set when the segment's file lost its name while open
	// (see checkName): it takes no appends, and its records wait to be
	// salvaged into a new segment.
	orphan bool
	// damaged is why the segment's tree cannot be trusted (see
	// damagedLocked): nothing is appended to it or leased from it, and
	// its records wait to be salvaged.
	damaged error
	// dense is set in a segment this process created: the records from
	// next to last are all in its tree, in sequence, so a gap is damage.
	dense bool
	// mapLen is how many bytes bbolt's mapping of db covers at least: the
	// mapping asked for, or the file's size when it was opened (bbolt
	// never maps less, and its mapping only grows).
	mapLen int64
	// opened is when db was opened (monotonic), and lastDrop the time
	// since then of the last dropPages.
	opened   time.Time
	lastDrop atomic.Int64
	// appending is set while the committer writes to the segment.
	appending bool
	// batches are its batches leased and not yet settled (for a salvage).
	batches map[*Batch]struct{}
}

// live is the number of records still to be delivered: those the file
// counts less those settled since it was last written.
func (g *segment) live() int64 { return g.records - g.unsaved }

// dirty reports whether settle decisions of settles that returned are
// waiting to be written.
func (g *segment) dirty() bool { return g.marksDirty || len(g.pendingDel) > 0 }

func (g *segment) path() string { return filepath.Join(g.dir, g.id+g.ext) }

// available reports whether Lease can hand out records from g.
func (g *segment) available() bool { return len(g.retry) > 0 || g.next <= g.last }

// setAside reports whether g waits to be salvaged (see salvageLocked).
func (g *segment) setAside() bool { return g.orphan || g.damaged != nil }

// drained reports whether g is sealed and holds nothing, so it can go.
func (g *segment) drained() bool { return !g.active && g.live() <= 0 && g.outstanding == 0 }

func boltOptions() *bolt.Options {
	return &bolt.Options{
		// Never wait for another process's lock: a held segment belongs to a
		// live producer or drainer, and the caller moves on.
		Timeout: time.Nanosecond,
		// A queue churns pages: the map freelist is faster. The freelist
		// is persisted (no NoFreelistSync): otherwise opening a file walks
		// its whole tree in a goroutine of bbolt's own, where a corrupt page
		// panics beyond any recover and kills the process.
		FreelistType: bolt.FreelistMapType,
		// InitialMmapSize is left to appendMapping: only the active
		// segment needs a mapping larger than its file.
	}
}

// appendMapping sizes bbolt's mapping of a segment this process appends
// to: large enough for segMax and the one group that may overshoot it, or
// 0 (bbolt's default: it maps the file as it grows).
//
// Left alone, bbolt maps a file at 32 KiB and doubles the mapping each
// time a commit needs more: every step unmaps and maps the file again,
// copies the write transaction's nodes off the old mapping and faults its
// pages back in (about a tenth of the exporter path's CPU). So the active
// segment is mapped once, at its creation. The mapping is address space,
// not memory: only the pages read through it count (see dropPages).
//
// A mapping larger than the file changes how bbolt grows the file: while
// the mapping is at most bbolt's AllocSize (16 MiB by default) it
// truncates the file to the whole mapping, which would make the segment
// look full at its first commit (fullness and the MaxBytes accounting
// read the file's size); beyond, it grows the file to what a commit needs
// plus AllocSize. The segment's write transactions set AllocSize
// (growStep) so that the file keeps step with what it holds.
//
// On Windows bbolt sizes the file to the mapping when it opens it: there
// the mapping grows as before.
func appendMapping(segMax int64) int {
	if segMax <= 0 || runtime.GOOS == "windows" {
		return 0
	}
	return int(min(segMax+min(segMax, 2*maxGroupBytes), maxAppendMapping))
}

// maxAppendMapping bounds the mapping appendMapping asks for (address
// space on 32-bit systems); a segment that outgrows it is mapped again by
// bbolt as it grows.
const maxAppendMapping = 1 << 30

// growStep is the AllocSize for a write transaction on a segment of size
// bytes with a mapping from appendMapping: bbolt grows the file to what the
// commit needs plus this. The file doubles while small, as it did with
// bbolt's own mapping, then grows 1 MiB at a time: it stays within 1 MiB
// of what it holds (the doubling left a 16 MiB segment up to half empty),
// and a 16 MiB segment grows about 20 times (each growth syncs the file
// once more). Never 0: that would grow, and sync, at every commit.
func growStep(size int64) int {
	return int(min(max(size, 32<<10), 1<<20))
}

// setGrowStep sets bbolt's AllocSize for the write transaction tx on g.
// Every write transaction sets it, on every segment: one opened by
// another process or for draining keeps bbolt's mapping, which bbolt
// sizes to a power of two above the file, and with bbolt's default step
// (16 MiB) a settle that needs a page past the file's end would grow a
// 17 MiB file by 16 MiB. AllocSize is read under bbolt's writer lock,
// which tx holds.
func (g *segment) setGrowStep(tx *bolt.Tx) {
	tx.DB().AllocSize = growStep(tx.Size())
}

// createSegment creates a new active segment. The file is initialised under
// a .tmp name and renamed only once bbolt has written and synced its meta
// pages, so that a crash during initialisation never leaves a half-made
// .active file behind.
// segMax is the segment's SegmentMaxBytes, for its mapping (see
// appendMapping).
func createSegment(dir string, now time.Time, segMax int64) (*segment, error) {
	return createSegmentID(dir, newSegmentID(now), now, segMax)
}

// createSegmentID is createSegment with the segment's id given; segMax 0
// for a segment written once (a salvage's): bbolt maps it as it grows.
func createSegmentID(dir, id string, now time.Time, segMax int64) (*segment, error) {
	g := &segment{dir: dir, id: id, ext: extTmp, created: now, active: true, next: 1, dense: true, opened: time.Now()}
	tmp := g.path()
	o := boltOptions()
	o.InitialMmapSize = appendMapping(segMax)
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		g.file = f // bbolt's own: for checkName while the db is open
		return f, err
	}
	db, err := bolt.Open(tmp, 0o600, o)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("spool: create segment %s: %w", tmp, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		g.setGrowStep(tx)
		for _, name := range [][]byte{bucketRecords, bucketAttempts, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(metaFormat, []byte(segmentFormat)); err != nil {
			return err
		}
		return addRecordCount(tx, 0)
	})
	if err == nil {
		g.ext = extActive
		err = os.Rename(tmp, g.path())
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = db.Close()
		_ = os.Remove(tmp)
		_ = os.Remove(g.path())
		return nil, fmt.Errorf("spool: create segment in %s: %w", dir, err)
	}
	g.db = db
	g.size = fileSize(g.path())
	g.mapLen = int64(o.InitialMmapSize)
	return g, nil
}

// dropInterval is the least time between two dropPages of a segment.
const dropInterval = 10 * time.Millisecond

// dropPages takes the pages of g's mapping out of the process's resident
// set, if it has not done so for dropInterval; tx is a transaction on g,
// in which bbolt cannot remap the file. Every transaction on a segment
// calls it.
//
// A page read through the mapping stays resident while the file is
// mapped, and the kernel maps up to 16 neighbouring pages with each
// fault: the leases (which copy records out of the mapping), the deletes
// of settled records and the commits, scattered over the file as it reuses
// freed pages, keep most of an active segment resident: up to 16 MiB, in
// the process's peak RSS and its container's memory, of pages the page
// cache holds anyway. Dropping them at most every 10 ms keeps a segment's
// share to what it touches in that time. The pages still needed (meta,
// branches, the right edge) are mapped again from the page cache at their
// next read, a minor fault each.
//
// now drops without waiting out dropInterval: a lease that has read a
// batch of records through the mapping (and copied them out). A batch's
// leaf pages lie scattered over the file (bbolt reuses freed pages), so
// with fault-around (whatever the madvise advice) reading them makes up to
// 16 times their size resident, up to the whole file, and peak RSS grew
// with the sender's batch size. (A settle's commit reads the header of
// each page it frees too, but dropping after each settle cost more CPU
// than it saved memory in the exporter benchmark: it waits the interval.)
// A drop put off into the future (lastDrop ahead of now) stays put off.
func (g *segment) dropPages(tx *bolt.Tx, now bool) {
	at := int64(time.Since(g.opened))
	last := g.lastDrop.Load()
	if last > at || (!now && at-last < int64(dropInterval)) || !g.lastDrop.CompareAndSwap(last, at) {
		return
	}
	// Never past the mapping: beyond it may lie the process's own memory,
	// which the advice would zero. tx.Size() is within it (bbolt reads
	// every page below it through the mapping); mapLen is what the mapping
	// is known to cover, against a meta page gone wrong.
	n := min(tx.Size(), g.mapLen)
	if n <= 0 {
		return
	}
	// Only an optimisation: a failure leaves the pages where they were.
	_ = dropMapping(tx.DB().Info().Data, uintptr(n))
}

// openSegment takes over an existing segment file: a sealed one, or the
// active one of a process that died. It returns an error wrapping ErrLocked
// if a live process holds the file, and one wrapping ErrCorrupt if the file
// is truncated, has a damaged tree, or panics bbolt.
func openSegment(dir string, f segmentFile, segMax int64) (g *segment, err error) {
	g = &segment{dir: dir, id: f.id, ext: f.ext, next: 1, opened: time.Now()}
	path := g.path()
	defer func() {
		if r := recover(); r != nil {
			if g.db != nil {
				_ = g.db.Close()
			} else if g.file != nil {
				// bbolt panicked inside Open: its file, and the flock on
				// it, would stay held until the process exits.
				_ = g.file.Close()
			}
			g, err = nil, fmt.Errorf("%w: segment %s: bbolt panicked: %v", ErrCorrupt, f.name(), r)
		}
	}()
	// A truncated or garbled file can make bbolt touch mmapped memory past
	// the end of the file; turn that fault into a recoverable panic.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	o := boltOptions()
	// The file may have gone since it was listed (drained and removed by
	// another drainer): never create it anew.
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := openNoCreate(name, flag, perm)
		g.file = f // bbolt's own: for checkName while the db is open
		return f, err
	}
	db, err := bolt.Open(path, 0o600, o)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, f.name())
	case isIOError(err):
		return nil, fmt.Errorf("spool: open segment %s: %w", f.name(), err)
	case err != nil:
		return nil, fmt.Errorf("%w: segment %s: %v", ErrCorrupt, f.name(), err)
	}
	g.db = db
	size := fileSize(path)
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Size() > size {
			return fmt.Errorf("file is %d bytes but its meta page says %d: truncated", size, tx.Size())
		}
		meta := tx.Bucket(bucketMeta)
		recs := tx.Bucket(bucketRecords)
		if meta == nil || recs == nil || tx.Bucket(bucketAttempts) == nil {
			return errors.New("missing buckets")
		}
		if v := meta.Get(metaFormat); string(v) != segmentFormat {
			return fmt.Errorf("unknown segment format %q", v)
		}
		if v := meta.Get(metaSettled); v != nil {
			m, err := decodeMarks(v)
			if err != nil {
				return err
			}
			g.marks = m
		}
		// The first and last keys give the range; the live count is kept
		// in the meta bucket, so a claim touches a few pages, not the
		// whole file (a drainer can hold many segments). Damage deeper in
		// the tree shows when records are read, where the panic or fault
		// is recovered and the segment quarantined.
		c := recs.Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		seq := recs.Sequence()
		if first == nil {
			g.next, g.last = seq+1, seq
			return nil
		}
		var ok1, ok2 bool
		g.next, ok1 = keySeq(first)
		lastSeq, ok2 := keySeq(last)
		if !ok1 || !ok2 || lastSeq < g.next || seq < lastSeq {
			return fmt.Errorf("malformed record keys %x..%x (sequence %d)", first, last, seq)
		}
		g.last = lastSeq
		g.next = g.marks.skip(g.next)
		if v := meta.Get(metaRecords); len(v) == 8 {
			g.records = int64(binary.BigEndian.Uint64(v))
			return nil
		}
		// No count (a segment that never committed one): walk the keys.
		g.records = countLive(c, g.marks)
		return nil
	})
	if err != nil {
		_ = db.Close()
		g.db = nil
		return nil, fmt.Errorf("%w: segment %s: %v", ErrCorrupt, f.name(), err)
	}
	g.size = size
	g.mapLen = size
	return g, nil
}

// openNoCreate opens an existing file for bbolt, which otherwise creates a
// missing one when it opens for writing.
func openNoCreate(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag&^os.O_CREATE, perm)
}

// peekRecordCount reads the live-record count of a segment file that this
// process does not hold, through a brief read-only open (a shared lock:
// a drainer that tries to take the file meanwhile finds it busy and tries
// again at its next scan). Only the meta pages and the meta bucket are
// read. It returns an error wrapping ErrLocked if a process holds the file,
// one wrapping ErrCorrupt if it cannot be read, and an I/O error (such as
// fs.ErrNotExist) as is.
func peekRecordCount(path string, size int64) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("%w: %s: bbolt panicked: %v", ErrCorrupt, filepath.Base(path), r)
		}
	}()
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				// bbolt panicked inside Open: its file, and the lock on
				// it, would stay held until the process exits.
				_ = file.Close()
			}
			panic(r) // to the recover above
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	o := boltOptions()
	o.ReadOnly = true
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	db, err := bolt.Open(path, 0o600, o)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return 0, fmt.Errorf("%w: %s", ErrLocked, filepath.Base(path))
	case isIOError(err):
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(path), err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Size() > size {
			return fmt.Errorf("%w: %s is %d bytes but its meta page says %d", ErrCorrupt, filepath.Base(path), size, tx.Size())
		}
		meta, recs := tx.Bucket(bucketMeta), tx.Bucket(bucketRecords)
		if meta == nil || recs == nil {
			return fmt.Errorf("%w: %s lacks its buckets", ErrCorrupt, filepath.Base(path))
		}
		if v := meta.Get(metaRecords); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
			return nil
		}
		// No count (a segment that never committed one): walk the keys.
		marks, err := decodeMarks(meta.Get(metaSettled))
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		n = countLive(recs.Cursor(), marks)
		return nil
	})
	return n, err
}

// countLive counts the keys of a records cursor that are not marked.
func countLive(c *bolt.Cursor, marks seqRanges) int64 {
	var n int64
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if seq, ok := keySeq(k); !ok || !marks.contains(seq) {
			n++
		}
	}
	return n
}

// firstLive positions c on the first record at or after seq that is not
// marked and returns it (nil at the end).
func firstLive(c *bolt.Cursor, marks seqRanges, seq uint64) (k, v []byte) {
	var key [keyLen]byte
	k, v = c.Seek(putKey(key[:], marks.skip(seq)))
	for k != nil {
		// decodeMarks refuses a range ending at the largest uint64, so
		// skip always moves forward.
		s, ok := keySeq(k)
		if !ok || !marks.contains(s) {
			return k, v
		}
		after := marks.skip(s)
		if after <= s {
			return nil, nil // marked up to the last sequence number there is
		}
		k, v = c.Seek(putKey(key[:], after))
	}
	return nil, nil
}

// isIOError tells an operating-system failure (permissions, too many open
// files, disk errors) from a verdict on the file's contents.
func isIOError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}
