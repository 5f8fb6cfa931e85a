package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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
		if g.orphan || g.db == nil {
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
	s.orphans++
	s.log.Error("SEGMENT FILE LOST ITS NAME: deleted or moved while open (or its directory was); moving its records into a new segment",
		"segment", g.id, "path", g.path(), "cause", cause, "records", g.live())
	err := s.salvageLocked(g, cause)
	if err != nil {
		s.log.Error("salvage failed; the records stay in the open file, and the salvage is tried again every second", "segment", g.id, "err", err)
	}
	return err
}

// retryOrphansLocked tries again to salvage segments whose salvage failed.
func (s *Spool) retryOrphansLocked() {
	for _, g := range slices.Clone(s.segs) {
		if g.orphan && g.db != nil && !g.dropped {
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
}

// salvageLocked copies every live record of g that passes its checksum
// into a new sealed segment of the spool directory (recreated if it was
// removed), named after g so that it keeps g's place in FIFO order, and
// then drops g: its file is closed and forgotten, and its outstanding
// batches are stale (their records were copied: they are handed out
// again, at least once). Records that fail their checksum are quarantined
// and counted as corrupt. On error nothing changed.
func (s *Spool) salvageLocked(g *segment, cause error) error {
	if err := prepareDir(s.dir); err != nil {
		return fmt.Errorf("spool: salvage segment %s: %w", g.id, err)
	}
	recs, bad, err := readLive(g)
	if err != nil {
		return fmt.Errorf("spool: salvage segment %s: read: %w", g.id, err)
	}
	dst, err := createSegmentID(s.dir, salvageID(g.id), s.opts.Clock.Now())
	if err != nil {
		return fmt.Errorf("spool: salvage segment %s: %w", g.id, err)
	}
	dst.active = false
	if err := writeSalvaged(dst, recs); err != nil {
		_ = dst.db.Close()
		_ = os.Remove(dst.path())
		return fmt.Errorf("spool: salvage segment %s: write: %w", g.id, err)
	}
	dst.records, dst.last = int64(len(recs)), uint64(len(recs))
	dst.size = fileSize(dst.path())
	s.insertLocked(dst)
	if err := s.sealLocked(dst); err != nil {
		// dst stays open as an .active file of this process: a drainer
		// here leases from it, another takes it over after an exit.
		s.log.Warn("seal salvaged segment", "segment", dst.id, "err", err)
	}
	for _, b := range bad {
		s.quarantineRecord(g, b.seq, b.val, ErrCorrupt)
	}
	s.addDropLocked(ReasonCorrupt, uint64(len(bad)))
	s.salvagedRecs += uint64(len(recs))
	if g.orphan {
		s.orphans--
	}
	s.forgetLocked(g)
	s.log.Error("segment salvaged", "segment", g.id, "cause", cause, "records_salvaged", len(recs), "records_corrupt", len(bad), "moved_to", dst.id+dst.ext)
	return nil
}

// forgetLocked drops g from the segments held without touching its name
// (which is gone, or another file's): its batches become stale.
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
	s.leased -= int64(g.outstanding)
	g.outstanding = 0
	s.segs = removeSeg(s.segs, g)
}

// readLive returns the live records of g (neither marked nor deleted
// while their deletion waits to be written) that pass their checksum, and
// those that do not.
func readLive(g *segment) (good, bad []salvaged, err error) {
	if g.wedged {
		return nil, nil, fmt.Errorf("%w: segment %s failed an earlier transaction", ErrCorrupt, g.id)
	}
	pending := make(map[uint64]bool, len(g.pendingDel))
	for _, seq := range g.pendingDel {
		pending[seq] = true
	}
	defer func() {
		if r := recover(); r != nil {
			good, bad, err = nil, nil, fmt.Errorf("%w: bbolt panicked reading segment %s: %v", ErrCorrupt, g.id, r)
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
			if g.marks.contains(seq) || pending[seq] {
				continue
			}
			r := salvaged{seq: seq, val: append([]byte(nil), v...)}
			if _, _, derr := decodeRecord(v); derr != nil {
				bad = append(bad, r)
				continue
			}
			if a := att.Get(k); len(a) == 4 {
				r.attempts = binary.BigEndian.Uint32(a)
			}
			good = append(good, r)
		}
		return nil
	})
	return good, bad, err
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
// same creation time (so it keeps id's place in FIFO order), another
// random part.
func salvageID(id string) string {
	stamp, _, _ := cutStamp(id)
	return stamp + newSegmentID(time.Unix(0, 0))[20:]
}

// cutStamp splits a segment id into its creation stamp and random part.
func cutStamp(id string) (stamp, random string, ok bool) {
	if len(id) != 37 || id[20] != '-' {
		return id, "", false
	}
	return id[:20], id[21:], true
}
