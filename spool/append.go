package spool

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// appendReq is one Append call waiting for the committer.
type appendReq struct {
	records [][]byte
	size    int64 // estimated bytes on disk
	done    chan error
	// framed is set for AppendFramed: each record holds FrameHeadroom bytes
	// for its key and header before its payload, and is stored in place.
	framed bool

	// state hands the request over: the committer claims it before reading
	// records, and an Append whose ctx ends first abandons it, so that a
	// caller that got ctx.Err() back can reuse its buffers at once.
	state atomic.Int32
	// copied is closed by the committer once it holds its own copy of the
	// records of a claimed request (set before the claim).
	copied chan struct{}
}

// States of an appendReq.
const (
	reqPending   int32 = iota // waiting for the committer
	reqAbandoned              // Append returned ctx.Err(); never stored
	reqClaimed                // the committer owns it
)

// Append stores records durably, in order. It returns nil only after every
// record is committed to disk and fsynced: then they survive a crash of the
// process or of the machine, and will be handed out by [Spool.Lease] until settled.
//
// Concurrent calls share one transaction and one fsync (group commit); no
// call waits on a timer. A call is refused as a whole, with an error naming
// the record, if one record is empty ([ErrEmptyRecord]) or larger than
// [Options.MaxRecordBytes] ([ErrRecordTooLarge]); other calls are not
// affected. When the spool is full, Append returns [ErrFull] under the
// [RejectNew] policy, or evicts the oldest segments under [DropOldest].
//
// If ctx ends before the committer takes the call, Append returns ctx.Err()
// and nothing is stored. If it ends while the commit is under way, Append
// returns an error wrapping ctx.Err(), and the records may or may not be
// stored: retrying may then duplicate them, which at-least-once delivery
// allows.
//
// Append keeps no reference to records after it returns, whatever it
// returns: the caller may reuse their memory at once.
func (s *Spool) Append(ctx context.Context, records ...[]byte) error {
	return s.append(ctx, records, false)
}

// FrameHeadroom is how many bytes [Spool.AppendFramed] takes before the
// payload of each record, for the record's key and header.
const FrameHeadroom = keyLen + recordHeaderLen

// AppendFramed is [Spool.Append] for records that leave room for the
// spool's framing: each of records is FrameHeadroom bytes of scratch space
// followed by the payload, records[i][FrameHeadroom:], which is what is
// stored. The spool writes the record's key and header into that space and
// hands the record to the segment as it is, without the copy Append makes:
// a caller that builds its records in one buffer (as the exporters do)
// saves the memory and the time of a second copy of each group.
//
// The records' memory is the spool's until AppendFramed returns: unlike
// Append, if ctx ends once the commit has taken the call, AppendFramed
// waits for the commit's outcome (which takes as long as its fsync) and
// returns it. It keeps no reference to records after it returns.
func (s *Spool) AppendFramed(ctx context.Context, records ...[]byte) error {
	return s.append(ctx, records, true)
}

// append is Append, or AppendFramed if framed.
func (s *Spool) append(ctx context.Context, records [][]byte, framed bool) error {
	if len(records) == 0 {
		return nil
	}
	head := 0
	if framed {
		head = FrameHeadroom
	}
	var size int64
	for i, r := range records {
		n := len(r) - head
		switch {
		case framed && n < 0:
			return &RecordError{Index: i, Size: 0, Err: fmt.Errorf("%w: a framed record of %d bytes is shorter than its %d bytes of headroom", ErrEmptyRecord, len(r), FrameHeadroom)}
		case n == 0:
			return &RecordError{Index: i, Size: 0, Err: ErrEmptyRecord}
		case n > s.opts.MaxRecordBytes:
			return &RecordError{Index: i, Size: n, Err: fmt.Errorf("%w: limit is %d bytes", ErrRecordTooLarge, s.opts.MaxRecordBytes)}
		}
		size += int64(n) + recordOverhead
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &appendReq{records: records, size: size, done: make(chan error, 1), framed: framed}
	s.closeMu.RLock()
	if s.closing {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqAbandoned) {
			return ctx.Err() // the committer will skip it
		}
		if framed {
			// The segment reads the records in place until the commit
			// ends: every claimed request is answered.
			return <-req.done
		}
		// Claimed: the committer reads records until it has copied them,
		// which takes no I/O.
		<-req.copied
		select {
		case err := <-req.done: // known by now after all
			return err
		default:
			return fmt.Errorf("spool: append outcome unknown: %w", ctx.Err())
		}
	}
}

// commitLoop is the single writer of the active segment. It takes every
// request that is waiting, commits them in one transaction, and answers
// each; requests that arrive meanwhile form the next group.
func (s *Spool) commitLoop() {
	defer close(s.done)
	tick := time.NewTicker(min(s.opts.SegmentMaxAge/2, time.Second))
	defer tick.Stop()
	group := make([]*appendReq, 0, 64)
	for {
		select {
		case req := <-s.reqs:
			group = append(group[:0], req)
			size := req.size
		gather:
			for size < maxGroupBytes {
				select {
				case r := <-s.reqs:
					group = append(group, r)
					size += r.size
				default:
					break gather
				}
			}
			s.commitGroup(group)
			clear(group)
		case <-tick.C:
			s.mu.Lock()
			s.checkNamesLocked()
			s.maintainLocked()
			s.mu.Unlock()
		case <-s.stop:
			for {
				select {
				case r := <-s.reqs:
					r.done <- ErrClosed
				default:
					return
				}
			}
		}
	}
}

// maintainLocked seals the active segment when it is due and refreshes the
// view of the directory.
func (s *Spool) maintainLocked() {
	if time.Since(s.lastScan) >= scanInterval {
		if err := s.scanLocked(); err != nil {
			s.log.Warn("scan spool directory", "err", err)
		}
	}
	if !s.closed && time.Since(s.lastSalvage) >= probeInterval {
		s.lastSalvage = time.Now()
		s.retryPendingLocked()
	}
	if s.active == nil && s.lastAppendErr != nil && !s.closed && time.Since(s.lastProbe) >= probeInterval {
		// Appends failed and no segment takes them (the disk was full, or
		// the active segment could not be salvaged): try again, so that
		// Ready recovers by itself once the cause is gone rather than when
		// a client happens to append.
		s.lastProbe = time.Now()
		if err := s.newActiveLocked(); err != nil {
			s.lastAppendErr = err
		} else {
			s.log.Info("appends possible again: created a new active segment", "segment", s.active.id)
			s.lastAppendErr = nil
		}
	}
	g := s.active
	if g == nil {
		return
	}
	now := s.opts.Clock.Now()
	if g.size >= s.opts.SegmentMaxBytes || (g.records > 0 && now.Sub(g.created) >= s.opts.SegmentMaxAge) {
		if err := s.sealLocked(g); err != nil {
			s.log.Error("seal active segment", "err", err)
		} else if s.reader && !s.closed {
			// A drainer keeps it open: close it again (it is taken back
			// in turn) if it makes the window exceed drainWindow.
			s.trimLocked("")
		}
	}
}

// commitGroup admits the requests of a group against the limits, writes the
// admitted ones in one transaction, and answers every request.
func (s *Spool) commitGroup(group []*appendReq) {
	// copied is closed once no request's records are read any more.
	copied := make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(copied)
		}
	}
	defer release()
	claimed := group[:0:0]
	for _, r := range group {
		r.copied = copied
		if r.state.CompareAndSwap(reqPending, reqClaimed) {
			claimed = append(claimed, r)
		}
	}
	if len(claimed) == 0 {
		return
	}
	s.mu.Lock()
	s.maintainLocked()
	if s.active == nil {
		if err := s.newActiveLocked(); err != nil {
			s.lastAppendErr = err
			s.mu.Unlock()
			for _, r := range claimed {
				r.done <- err
			}
			return
		}
	}
	g := s.active
	admitted := claimed[:0:0]
	var pending int64
	for _, r := range claimed {
		if err := s.admitLocked(pending + r.size); err != nil {
			r.done <- err
			continue
		}
		pending += r.size
		admitted = append(admitted, r)
	}
	if len(admitted) > 0 {
		g.appending = true
	}
	s.mu.Unlock()
	if len(admitted) == 0 {
		return
	}

	frames := encodeGroup(admitted, s.opts.Clock.Now().UnixNano(), &s.arena, s.frames[:0])
	release()
	n, last, err := writeRecords(g, frames)
	clear(frames) // framed records are the callers' memory
	s.frames = frames[:0]
	if cap(s.arena) > 2*maxGroupBytes {
		// A call larger than a group (an intake request of tens of MiB)
		// does not keep its copy's size for the life of the spool.
		s.arena = nil
	}

	s.mu.Lock()
	g.appending = false
	switch {
	case err == nil:
		s.fullAt = 0
		g.last = last
		g.records += int64(n)
		g.size = fileSize(g.path())
		s.appended += uint64(n)
		s.commits++
		s.commitSizes[commitSizeBucket(n)]++
		if g.damaged != nil {
			// A reader found the file damaged while this transaction ran:
			// copy its records, these ones too, before answering.
			if serr := s.salvageLocked(g, g.damaged); serr != nil {
				err = fmt.Errorf("active segment %s is damaged (%v) and its records could not be copied to a new segment: %w", g.id, g.damaged, serr)
			}
		} else if cause := g.checkName(); cause != nil {
			// Never acknowledge into a file without a name: after an exit
			// nothing would keep it. Its records go to a new segment first.
			if serr := s.orphanLocked(g, cause); serr != nil {
				err = fmt.Errorf("active segment %s lost its name (%v) and its records could not be moved to a new segment: %w", g.id, cause, serr)
			}
		}
	case errors.Is(err, ErrCorrupt):
		// bbolt panicked on our own file: its writer lock may be held for
		// good. Copy out what passes its checksum, set the file aside, and
		// append to a new one. This group was not written.
		g.wedged = true
		_ = s.damagedLocked(g, err)
	case g.damaged != nil:
		// The write failed on a file a reader found damaged meanwhile.
		_ = s.damagedLocked(g, g.damaged)
	case isNoSpace(err):
		// The file cannot grow: seal it, so that it goes as a whole once
		// drained (removing a file needs no space; an empty one goes at
		// once), and append to a new one when there is room
		// (maintainLocked tries to create it every tick).
		s.lastProbe = time.Now()
		if serr := s.sealLocked(g); serr != nil {
			s.log.Error("seal full active segment", "segment", g.id, "err", serr)
		}
	}
	s.lastAppendErr = err
	s.mu.Unlock()
	if err == nil {
		s.signal()
	} else {
		err = fmt.Errorf("spool: append: %w", err)
	}
	for _, r := range admitted {
		r.done <- err
	}
}

// admitLocked makes room for size more bytes, or says why it cannot.
func (s *Spool) admitLocked(size int64) error {
	over := func() bool { return s.diskBytesLocked()+size > s.opts.MaxBytes }
	if !over() {
		return nil
	}
	if s.opts.Policy == RejectNew {
		s.fullAt = s.diskBytesLocked()
		return fmt.Errorf("%w: %d bytes on disk, limit %d (policy %v)", ErrFull, s.diskBytesLocked(), s.opts.MaxBytes, s.opts.Policy)
	}
	for over() {
		if !s.evictOldestLocked() {
			s.fullAt = s.diskBytesLocked()
			return fmt.Errorf("%w: %d bytes on disk, limit %d, and no segment can be evicted (the oldest are in use by another process or leased)", ErrFull, s.diskBytesLocked(), s.opts.MaxBytes)
		}
	}
	return nil
}

// evictOldestLocked deletes the oldest segment that nobody is using,
// counting its records as dropped with reason "full". It reports whether it
// freed anything.
func (s *Spool) evictOldestLocked() bool {
	// Candidates, oldest first: segments of this process that are not
	// leased from, and files of other processes that turn out to be free.
	for len(s.others) > 0 || len(s.segs) > 0 {
		var mine *segment
		for _, g := range s.segs {
			if g != s.active && g.outstanding == 0 {
				mine = g
				break
			}
		}
		if mine == nil && len(s.others) == 0 {
			// Every sealed segment holds records: if some only hold records
			// waiting a retry delay (none in flight), the oldest goes, delays
			// and all, rather than the policy turning into a refusal.
			for _, g := range s.segs {
				if g != s.active && g.delayed > 0 && g.outstanding == g.delayed {
					mine = g
					break
				}
			}
		}
		if len(s.others) > 0 && (mine == nil || s.others[0].id < mine.id) {
			f := s.others[0]
			s.others = s.others[1:]
			g, err := openSegment(s.dir, f, s.opts.SegmentMaxBytes)
			switch {
			case errors.Is(err, ErrCorrupt):
				s.quarantineLocked(f.name(), 0, err)
				return true
			case err != nil:
				// Held by a live process: skip it for this round; the next
				// scan lists it again.
				continue
			}
			mine = g
			s.insertLocked(g)
		}
		if mine == nil {
			// Only the active segment is left: seal it so that it can go.
			g := s.active
			if g == nil || g.live() <= 0 || g.outstanding > g.delayed {
				return false
			}
			if err := s.sealLocked(g); err != nil {
				s.log.Error("seal active segment for eviction", "err", err)
				return false
			}
			if err := s.newActiveLocked(); err != nil {
				s.log.Error("create active segment", "err", err)
				return false
			}
			if g.db == nil { // a producer released it: take it back to delete it
				continue
			}
			mine = g
		}
		lost := mine.live()
		s.forgetDelaysLocked(mine)
		if err := s.removeLocked(mine); err != nil {
			s.log.Error("evict segment", "segment", mine.id, "err", err)
			return false
		}
		s.addDropLocked(ReasonFull, uint64(lost))
		s.log.Warn("spool full: evicted oldest segment", "segment", mine.id, "records_dropped", lost, "max_bytes", s.opts.MaxBytes)
		return true
	}
	return false
}

// encodeGroup frames the records of reqs, in order, and returns them, each
// as its key's room followed by its value, appended to frames. Framed
// records (AppendFramed) are framed in place; the others are copied into
// the committer's reusable arena *buf. After it returns, the records of
// requests that are not framed are not read again.
func encodeGroup(reqs []*appendReq, now int64, buf *[]byte, frames [][]byte) [][]byte {
	total := 0
	for _, r := range reqs {
		if r.framed {
			continue
		}
		for _, rec := range r.records {
			total += FrameHeadroom + len(rec)
		}
	}
	if cap(*buf) < total {
		*buf = make([]byte, total)
	}
	arena := (*buf)[:total]
	off := 0
	for _, r := range reqs {
		for _, rec := range r.records {
			if r.framed {
				frameRecord(rec[keyLen:], now)
				frames = append(frames, rec)
				continue
			}
			n := keyLen + len(encodeRecord(arena[off+keyLen:], rec, now))
			frames = append(frames, arena[off:off+n:off+n])
			off += n
		}
	}
	return frames
}

// writeRecords appends the records framed by encodeGroup to g in one synced
// transaction. It returns how many were written and the last sequence
// number. bbolt keeps references to keys and values until the commit, and
// none after, so one arena serves every transaction and framed records are
// the callers' again once it returns.
func writeRecords(g *segment, frames [][]byte) (n int, last uint64, err error) {
	n = len(frames)
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("%w: bbolt panicked writing segment %s: %v", ErrCorrupt, g.id, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	err = g.db.Update(func(tx *bolt.Tx) error {
		g.setGrowStep(tx)
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return fmt.Errorf("%w: segment %s has no records bucket", ErrCorrupt, g.id)
		}
		b.FillPercent = 1.0 // keys only ever grow: pack pages full
		seq := b.Sequence()
		for _, f := range frames {
			seq++
			if err := b.Put(putKey(f, seq), f[keyLen:]); err != nil {
				return err
			}
		}
		last = seq
		g.dropPages(tx, false)
		if err := addRecordCount(tx, int64(n)); err != nil {
			return err
		}
		return b.SetSequence(seq)
	})
	if err != nil {
		return 0, 0, err
	}
	return n, last, nil
}

// isNoSpace reports a write that failed for lack of space: the disk is
// full (ENOSPC), a quota is used up (EDQUOT), or the file hit the process's size limit (EFBIG, with
// SIGXFSZ ignored, as the Go runtime does).
//
// bbolt formats the errors of growing a file (its truncate and fsync)
// with %s, which loses the error number: those are recognised by the
// number's text, so that a file that cannot grow is sealed like one whose
// write failed.
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	errnos := [...]syscall.Errno{syscall.ENOSPC, syscall.EFBIG, syscall.EDQUOT}
	for _, no := range errnos {
		if errors.Is(err, no) {
			return true
		}
	}
	msg := err.Error()
	for _, grow := range [...]string{"file resize error: ", "file sync error: "} {
		i := strings.Index(msg, grow)
		if i < 0 {
			continue
		}
		for _, no := range errnos {
			if strings.Contains(msg[i:], no.Error()) {
				return true
			}
		}
	}
	return false
}
