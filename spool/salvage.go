package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Salvage: moving the live records of a segment that cannot stay where it
// is into a new segment file, before the old one goes.
//
// An active segment whose file lost its name (deleted, or its directory
// moved or removed, while this process holds it open) would take appends
// that nothing on disk keeps: after the process exits, the file is gone.
// The committer checks the file's name after each commit, before it
// answers, and on each tick; when the name is gone the records the open
// file still holds are written to a new segment and only then are the
// appends acknowledged.

// checkName reports why g's open file no longer has the name g.path():
// it was deleted (no link left), moved away, or the name now points to
// another file. It costs one fstat and one stat. The caller holds s.mu.
func (g *segment) checkName() error {
	if g.file == nil || g.db == nil {
		return nil
	}
	var open, named syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(int(g.file.Fd()), &open) }); err != nil {
		return fmt.Errorf("fstat of the open file: %w", err)
	}
	if open.Nlink == 0 {
		return errors.New("the file was deleted")
	}
	if err := ignoringEINTR(func() error { return syscall.Stat(g.path(), &named) }); err != nil {
		return fmt.Errorf("the file is no longer at its name (moved, or its directory moved or removed): %w", err)
	}
	if named.Dev != open.Dev || named.Ino != open.Ino {
		return errors.New("its name now points to another file")
	}
	return nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// checkActiveLocked checks the active segment's name and, if it is gone,
// moves its records to a new segment (orphanLocked). It returns the error
// of a salvage that failed.
func (s *Spool) checkActiveLocked() error {
	if g := s.active; g != nil {
		if cause := g.checkName(); cause != nil {
			return s.orphanLocked(g, cause)
		}
	}
	return nil
}

// checkNamesLocked checks the name of every segment this process holds
// (each tick): a sealed segment being drained whose file was deleted, or
// whose directory was moved or removed, is salvaged as the active one is.
func (s *Spool) checkNamesLocked() {
	for _, g := range slices.Clone(s.segs) {
		if g.setAside() || g.db == nil {
			continue
		}
		if cause := g.checkName(); cause != nil {
			err := s.orphanLocked(g, cause)
			if err != nil && g == s.active {
				s.lastAppendErr = err
			}
		}
	}
}

// orphanLocked handles a segment g whose file lost its name: it stops
// appending to it, counts the event, and salvages its records into a new
// segment. If that fails, g stays open (its records can still be leased
// from the open file, and nothing is acknowledged into it any more) and
// maintainLocked tries again.
func (s *Spool) orphanLocked(g *segment, cause error) error {
	if s.active == g {
		s.active = nil
	}
	g.active = false
	g.orphan = true
	s.orphaned++
	s.log.Error("SEGMENT FILE LOST ITS NAME: deleted or moved while open (or its directory was); moving its records into a new segment",
		"segment", g.id, "path", g.path(), "cause", cause, "records", g.live())
	err := s.salvageLocked(g, cause)
	if err != nil {
		s.log.Error("salvage failed; the records stay in the open file, and the salvage is tried again every second", "segment", g.id, "err", err)
	}
	return err
}

// damagedLocked handles a segment g whose tree is damaged (bbolt panicked
// on it, or records it holds are missing from its tree): nothing is
// appended to it or leased from it any more, every live record that
// passes its checksum is copied into a new segment, and the file is moved
// to quarantine/. If the committer is writing to g now, it does this once
// its transaction ends, so that the records it writes are copied too. If
// the copy fails, the file stays and maintainLocked tries again.
func (s *Spool) damagedLocked(g *segment, cause error) error {
	if g.damaged == nil {
		s.log.Error("segment damaged: copying out every record that passes its checksum, then quarantining it",
			"segment", g.id, "cause", cause, "records", g.live())
	}
	g.damaged = cause
	if s.active == g {
		s.active = nil
	}
	g.active = false
	if g.appending {
		return nil
	}
	err := s.salvageLocked(g, cause)
	if err != nil {
		s.log.Error("salvage failed; tried again every second", "segment", g.id, "err", err)
	}
	return err
}

// retryPendingLocked tries again to salvage segments whose salvage failed.
func (s *Spool) retryPendingLocked() {
	for _, g := range slices.Clone(s.segs) {
		if g.setAside() && g.db != nil && !g.dropped && !g.appending {
			if err := s.salvageLocked(g, errors.New("salvage retried")); err != nil {
				s.log.Warn("salvage failed again", "segment", g.id, "err", err)
			}
		}
	}
}

// salvaged is a record copied out of a segment that is set aside.
type salvaged struct {
	seq      uint64
	val      []byte // the stored value: format version, CRC, time, payload
	attempts uint32
	due      time.Time // when it may be handed out again, if it waits for a retry delay
}

// salvageLocked copies every live record of g that passes its checksum
// into a new sealed segment of the spool directory (recreated if it was
// removed), named after g so that it keeps g's place in FIFO order, and
// then drops g: its file is closed and forgotten (moved to quarantine/
// first if it was damaged). Its batches leased and not being settled move
// to the new segment with their records (taken from the batches), held
// there until settled; records waiting for a retry delay keep waiting in
// the new segment. A settle being written to g meanwhile holds as decided:
// the records it acknowledged or dropped are not copied, those it released
// are, with their attempt counts and delays.
//
// Which records are live is decided by what this process knows, never by
// the tree alone (see liveFilter): a damaged tree can keep records whose
// deletion it was asked for (a leaf whose keys are out of order makes
// bbolt's search miss them), and copying those would deliver them twice
// and hide real losses from the count of corrupt records.
//
// The records are read through bbolt's tree and, if that fails or the
// file is damaged, from its pages directly (scanRawFile), which finds
// records the tree no longer reaches and intact older copies of damaged
// ones. Live records not found intact are counted as corrupt. On error
// nothing changed.
func (s *Spool) salvageLocked(g *segment, cause error) error {
	if err := prepareDir(s.dir); err != nil {
		return fmt.Errorf("spool: salvage segment %s: %w", g.id, err)
	}
	live := g.liveFilter(s.delayedSeqsLocked(g))
	var found []salvaged
	bad, lerr := readTree(g, func(r salvaged) {
		if live(r.seq) {
			found = append(found, r)
		}
	})
	if lerr != nil || g.damaged != nil {
		raw, rerr := scanSegmentFile(g)
		if rerr != nil && lerr != nil {
			return fmt.Errorf("spool: salvage segment %s: read: %w", g.id, errors.Join(lerr, rerr))
		}
		if raw != nil {
			found = mergeRaw(found, raw, live)
		}
	}
	found = settlingRetries(g, found)
	slices.SortStableFunc(found, func(a, b salvaged) int { return cmpSeq(a.seq, b.seq) })
	// Records of batches leased and not settled go first, taken from the
	// batches (intact whatever the file's state), and are held in the new
	// segment for those batches, which move there: settling them settles
	// the copies, and nothing is handed out twice. Records waiting for a
	// retry delay come next, held there until due; then the rest.
	leased := leasedRecords(g)
	waits := s.retryDuesLocked(g)
	recs := make([]salvaged, 0, len(leased.recs)+len(found))
	recs = append(recs, leased.recs...)
	var rest []salvaged
	for _, r := range found {
		if _, ok := leased.at[r.seq]; ok {
			continue
		}
		if w, ok := waits[r.seq]; ok {
			if w.attempts > 0 {
				r.attempts = w.attempts
			}
			if !w.due.IsZero() {
				r.due = w.due
				recs = append(recs, r)
				continue
			}
		}
		rest = append(rest, r)
	}
	recs = append(recs, rest...)
	dst, err := s.writeSalvageLocked(g.id, recs, leased.batches)
	if err != nil {
		return fmt.Errorf("spool: salvage segment %s: %w", g.id, err)
	}
	g.outstanding -= len(leased.recs) // moved with their batches
	lost := max(g.live()-countSeqs(found)-int64(len(leased.recs)-countFound(found, leased.at)), 0)
	copied := make(map[uint64]bool, len(found)+len(leased.at))
	for _, r := range found {
		copied[r.seq] = true
	}
	for seq := range leased.at {
		copied[seq] = true
	}
	for _, b := range bad {
		if !copied[b.seq] {
			s.quarantineRecord(g, b.seq, b.val, ErrCorrupt)
		}
	}
	if g.damaged != nil && !g.orphan {
		s.forgetLocked(g)
		s.quarantineLocked(g.id+g.ext, lost, cause)
	} else {
		s.forgetLocked(g)
		s.addDropLocked(ReasonCorrupt, uint64(lost))
	}
	s.armDelayLocked()
	s.salvagedRecs += uint64(len(recs))
	s.log.Error("segment salvaged", "segment", g.id, "cause", cause, "records_salvaged", len(recs), "records_lost", lost, "moved_to", dst)
	return nil
}

// leased is what leasedRecords returns.
type leased struct {
	recs    []salvaged     // the records of the batches, in batch order
	at      map[uint64]int // their old sequence numbers, to their index in recs
	batches []*Batch       // the batches, whose records are recs in order
}

// leasedRecords returns the records of g's batches leased and not being
// settled, from the batches' own copies.
func leasedRecords(g *segment) leased {
	l := leased{at: make(map[uint64]int)}
	for b := range g.batches {
		if b.settled {
			continue // being settled: its outcome is being written to g
		}
		l.batches = append(l.batches, b)
	}
	slices.SortFunc(l.batches, func(a, b *Batch) int { return cmpSeq(a.seqs[0], b.seqs[0]) })
	for _, b := range l.batches {
		for i, seq := range b.seqs {
			r := b.Records[i]
			val := encodeRecord(make([]byte, recordHeaderLen+len(r.Data)), r.Data, r.Time.UnixNano())
			l.at[seq] = len(l.recs)
			l.recs = append(l.recs, salvaged{seq: seq, val: val, attempts: uint32(r.Attempts)})
		}
	}
	return l
}

// settlingRetries adds to found the records that settles being written to
// g released for another try and that found lacks (the file lost or
// damaged them), from the batches' own copies, which stay valid until
// their Settle returns.
func settlingRetries(g *segment, found []salvaged) []salvaged {
	var have map[uint64]bool
	for b := range g.batches {
		if !b.settled || len(b.retries) == 0 {
			continue
		}
		if have == nil {
			have = make(map[uint64]bool, len(found))
			for _, r := range found {
				have[r.seq] = true
			}
		}
		retried := make(map[uint64]bool, len(b.retries))
		for _, r := range b.retries {
			retried[r.seq] = true
		}
		for i, seq := range b.seqs {
			if !retried[seq] || have[seq] || i >= len(b.Records) {
				continue
			}
			r := b.Records[i]
			val := encodeRecord(make([]byte, recordHeaderLen+len(r.Data)), r.Data, r.Time.UnixNano())
			found = append(found, salvaged{seq: seq, val: val})
			have[seq] = true
		}
	}
	return found
}

// retryWait is what a salvage keeps of a record released for another try:
// its attempt count, if a settle being written decided it, and when it is
// due, if it waits for a retry delay.
type retryWait struct {
	attempts uint32
	due      time.Time
}

// retryDuesLocked returns the records of g waiting for a retry delay, and
// those released by settles being written to g, by sequence number.
func (s *Spool) retryDuesLocked(g *segment) map[uint64]retryWait {
	waits := make(map[uint64]retryWait)
	if g.delayed > 0 {
		for _, d := range s.delays {
			if d.g == g {
				waits[d.seq] = retryWait{due: d.due}
			}
		}
	}
	now := s.opts.Clock.Now()
	for b := range g.batches {
		if !b.settled {
			continue
		}
		for _, r := range b.retries {
			w := retryWait{attempts: r.attempts}
			if r.delay > 0 {
				w.due = now.Add(r.delay)
			}
			waits[r.seq] = w
		}
	}
	return waits
}

// countFound counts the sequence numbers of at found in recs (sorted).
func countFound(recs []salvaged, at map[uint64]int) int {
	n := 0
	for seq := range at {
		if hasSeq(recs, seq) {
			n++
		}
	}
	return n
}

// writeSalvageLocked writes recs into a new sealed segment whose id keeps
// the creation stamp of id, and returns its file name ("" if recs is
// empty: no file is made). The first records are those of batches, in
// order: the batches move to the new segment, their records held there.
// The records with a due time come next: they wait for it there, held as
// delayed records are.
func (s *Spool) writeSalvageLocked(id string, recs []salvaged, batches []*Batch) (string, error) {
	if len(recs) == 0 {
		return "", nil
	}
	dst, err := createSegmentID(s.dir, salvageID(id), s.opts.Clock.Now(), 0)
	if err != nil {
		return "", err
	}
	dst.active = false
	if err := writeSalvaged(dst, recs); err != nil {
		_ = dst.db.Close()
		_ = os.Remove(dst.path())
		return "", fmt.Errorf("write: %w", err)
	}
	dst.records, dst.last = int64(len(recs)), uint64(len(recs))
	dst.size = fileSize(dst.path())
	seq := uint64(0)
	for _, b := range batches {
		for i := range b.seqs {
			seq++
			b.seqs[i] = seq
		}
		b.g = dst
		if dst.batches == nil {
			dst.batches = make(map[*Batch]struct{})
		}
		dst.batches[b] = struct{}{}
		dst.outstanding += len(b.seqs)
	}
	for seq < uint64(len(recs)) && !recs[seq].due.IsZero() {
		seq++
		dst.outstanding++ // waits, held (see delay.go)
		s.delayLocked(dst, seq, recs[seq-1].due)
	}
	dst.next = seq + 1
	s.insertLocked(dst)
	name := dst.id + dst.ext
	if err := s.sealLocked(dst); err != nil {
		// dst stays open as an .active file of this process: a drainer
		// here leases from it, another takes it over after an exit.
		s.log.Warn("seal salvaged segment", "segment", dst.id, "err", err)
	} else {
		name = dst.id + dst.ext
	}
	return name, nil
}

// salvageFileLocked copies the records of a segment file that bbolt cannot
// open (or whose tree fails its checks) that pass their checksum and are
// not marked settled into a new segment, then moves the file to
// quarantine/. A file whose marks do not parse is only quarantined: which
// of its records were delivered cannot be told. It takes no lock: the
// claim that found the file corrupt held bbolt's (a bbolt that panicked
// while opening can leave its lock held by this process for good, through
// its mapping of the file).
func (s *Spool) salvageFileLocked(f segmentFile, cause error) {
	path := filepath.Join(s.dir, f.name())
	fd, err := os.Open(path)
	if err != nil {
		s.quarantineLocked(f.name(), 0, cause)
		return
	}
	defer fd.Close()
	var found []salvaged
	if info, err := fd.Stat(); err == nil {
		raw, rerr := scanRawFile(fd, info.Size())
		if rerr == nil && !raw.badMarks {
			found = mergeRaw(nil, raw, func(seq uint64) bool { return !raw.settled(seq) })
			slices.SortStableFunc(found, func(a, b salvaged) int { return cmpSeq(a.seq, b.seq) })
		}
	}
	if err := prepareDir(s.dir); err != nil {
		s.log.Error("salvage of a damaged segment file failed", "segment", f.name(), "err", err)
		return
	}
	dst, err := s.writeSalvageLocked(f.id, found, nil)
	if err != nil {
		s.log.Error("salvage of a damaged segment file failed; tried again at the next scan", "segment", f.name(), "err", err)
		return
	}
	s.salvagedRecs += uint64(len(found))
	if len(found) > 0 {
		s.log.Error("damaged segment file salvaged", "segment", f.name(), "cause", cause, "records_salvaged", len(found), "moved_to", dst)
	}
	s.quarantineLocked(f.name(), 0, cause)
}

// liveFilter returns whether a record of g, found through its tree or by
// a raw scan, is live: to be copied by a salvage. What this process knows
// decides, not what the file holds: records settled in this process are
// not live (marked, deleted with the deletion not written yet, or decided
// by a settle being written), nor numbers past the last committed append.
// Every record before the lease position (g.next) was handed out by this
// process, or was not in the tree when the lease walked past it (deleted
// by the process that wrote the file before this one took it over), so of
// those only the ones leased now, released for a retry (by a settle that
// returned or one being written) or waiting for a retry delay (delayed)
// are live: finding one of the others in the file means its deletion did
// not reach the tree (a damaged leaf makes bbolt's search miss keys) or,
// in a raw scan, a stale copy of a deleted record. Past the lease
// position, a raw scan of a segment this process did not create (not
// dense) can still find stale copies of records its writer deleted there
// out of order: those are copied (at least once).
func (g *segment) liveFilter(delayed []uint64) func(uint64) bool {
	gone := make(map[uint64]bool, len(g.pendingDel))
	for _, seq := range g.pendingDel {
		gone[seq] = true
	}
	held := make(map[uint64]bool, len(g.retry)+len(delayed))
	for _, seq := range g.retry {
		held[seq] = true
	}
	for _, seq := range delayed {
		held[seq] = true
	}
	for b := range g.batches {
		if !b.settled {
			for _, seq := range b.seqs {
				held[seq] = true
			}
			continue
		}
		// Being settled: its outcome holds, written or not.
		for _, seq := range b.done {
			gone[seq] = true
		}
		for _, r := range b.retries {
			held[r.seq] = true
		}
	}
	return func(seq uint64) bool {
		switch {
		case seq == 0 || seq > g.last || g.marks.contains(seq) || gone[seq]:
			return false
		}
		return seq >= g.next || held[seq]
	}
}

// mergeRaw adds to found the records of a raw scan that live accepts and
// that found lacks (every distinct value of each).
func mergeRaw(found []salvaged, raw *rawScan, live func(uint64) bool) []salvaged {
	have := make(map[uint64]bool, len(found))
	for _, r := range found {
		have[r.seq] = true
	}
	for seq, vals := range raw.records {
		if have[seq] || !live(seq) {
			continue
		}
		for _, v := range vals {
			found = append(found, salvaged{seq: seq, val: v})
		}
	}
	return found
}

// scanSegmentFile scans g's file through bbolt's descriptor (which works
// after the name is gone), or by its name.
func scanSegmentFile(g *segment) (*rawScan, error) {
	f := g.file
	if f == nil {
		var err error
		if f, err = os.Open(g.path()); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return scanRawFile(f, info.Size())
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// countSeqs counts the distinct sequence numbers of recs (sorted).
func countSeqs(recs []salvaged) int64 {
	var n int64
	for i, r := range recs {
		if i == 0 || recs[i-1].seq != r.seq {
			n++
		}
	}
	return n
}

func hasSeq(recs []salvaged, seq uint64) bool {
	_, ok := slices.BinarySearchFunc(recs, seq, func(r salvaged, seq uint64) int { return cmpSeq(r.seq, seq) })
	return ok
}

// forgetLocked drops g from the segments held without touching its name
// (which is gone, another file's, or quarantined next): its batches become
// stale.
func (s *Spool) forgetLocked(g *segment) {
	if g == s.active {
		s.active = nil
	}
	g.active = false
	if g.db != nil && !g.wedged {
		// Close waits for a transaction in progress on another goroutine
		// (a settle): do not wait for it holding mu.
		go func(db *bolt.DB) { _ = db.Close() }(g.db)
	}
	g.db, g.file = nil, nil
	g.dropped = true
	s.forgetDelaysLocked(g)
	s.leased -= int64(g.outstanding)
	g.outstanding = 0
	s.segs = removeSeg(s.segs, g)
}

// readTree walks g's records through bbolt, handing each one that passes
// its checksum to keep, and returns those that do not. A damaged tree
// (bbolt panics, a key is malformed) ends the walk with an error; what it
// found until then is kept.
func readTree(g *segment, keep func(salvaged)) (bad []salvaged, err error) {
	if g.wedged || g.db == nil {
		return nil, fmt.Errorf("%w: segment %s failed an earlier transaction", ErrCorrupt, g.id)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked reading segment %s: %v", ErrCorrupt, g.id, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	err = g.db.View(func(tx *bolt.Tx) error {
		recs, att := tx.Bucket(bucketRecords), tx.Bucket(bucketAttempts)
		if recs == nil || att == nil {
			return fmt.Errorf("%w: segment %s lacks its buckets", ErrCorrupt, g.id)
		}
		c := recs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seq, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: segment %s has a malformed key", ErrCorrupt, g.id)
			}
			r := salvaged{seq: seq, val: bytes.Clone(v)}
			if _, _, derr := decodeRecord(v); derr != nil {
				bad = append(bad, r)
				continue
			}
			if a := att.Get(k); len(a) == 4 {
				r.attempts = binary.BigEndian.Uint32(a)
			}
			keep(r)
		}
		return nil
	})
	return bad, err
}

// writeSalvaged stores recs in the new segment dst, in order, in one
// synced transaction: their stored values as they are (with their append
// times and checksums) under new sequence numbers, with their attempt
// counts.
func writeSalvaged(dst *segment, recs []salvaged) error {
	if len(recs) == 0 {
		return nil
	}
	// bbolt keeps keys and values until the commit: each gets its own bytes.
	keys := make([]byte, len(recs)*keyLen)
	counts := make([]byte, len(recs)*4)
	return dst.db.Update(func(tx *bolt.Tx) error {
		dst.setGrowStep(tx)
		b, att := tx.Bucket(bucketRecords), tx.Bucket(bucketAttempts)
		b.FillPercent = 1.0
		for i, r := range recs {
			key := putKey(keys[i*keyLen:], uint64(i+1))
			if err := b.Put(key, r.val); err != nil {
				return err
			}
			if r.attempts > 0 {
				n := counts[i*4 : i*4+4]
				binary.BigEndian.PutUint32(n, r.attempts)
				if err := att.Put(key, n); err != nil {
					return err
				}
			}
		}
		if err := addRecordCount(tx, int64(len(recs))); err != nil {
			return err
		}
		return b.SetSequence(uint64(len(recs)))
	})
}

// salvageID names the segment that takes the records of segment id: the
// same creation stamp (so that it keeps id's place in FIFO order), another
// random part.
func salvageID(id string) string {
	stamp := id
	if len(id) > 20 && id[20] == '-' {
		stamp = id[:20]
	}
	return stamp + newSegmentID(time.Unix(0, 0))[20:]
}
