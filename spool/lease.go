package spool

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Record is one leased record.
type Record struct {
	// Data is a private copy of the record, valid until its batch is
	// settled: then the spool reuses the memory (copy what you keep).
	Data []byte
	// Time is when the record was appended.
	Time time.Time
	// Attempts counts how many times the record was released for another
	// try ([Batch.Nack], or [Outcome.Retry]) before this lease.
	Attempts int
}

// Batch is a set of leased records, all from one segment, so that settling
// it is one atomic step. Leased records are not handed out again until the
// batch is settled, or the process restarts.
type Batch struct {
	Records []Record

	s       *Spool
	g       *segment
	seqs    []uint64
	arena   *[]byte // holds the records' data; recycled when settled
	settled bool
	// done and retries are the outcome of the settle whose transaction is
	// being written: a salvage of the segment meanwhile honours them.
	done    []uint64
	retries []retryRec
}

// getArena returns memory for n bytes of leased records, recycled from
// settled batches when possible.
func (s *Spool) getArena(n int) *[]byte {
	p, _ := s.arenas.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	*p = (*p)[:n]
	return p
}

// release recycles a settled batch's memory; its Records are gone.
func (b *Batch) release() {
	if b.arena != nil {
		b.s.arenas.Put(b.arena)
		b.arena = nil
	}
	b.Records = nil
}

// Outcome tells Settle what became of each record of a batch, by index into
// [Batch].Records. Every index that is neither retried nor dropped is
// acknowledged: deleted for good.
type Outcome struct {
	// Retry lists records to keep and hand out again; their attempt count
	// is incremented.
	Retry []int
	// Dropped lists records to delete undelivered, by reason; each is
	// counted in [Stats].Dropped under its reason.
	Dropped map[string][]int
	// RetryDelay, if not empty, holds for each record of Retry (at the same
	// position) how long it waits before it is handed out again; 0 hands
	// it out again at once. The delay is kept in memory only: a restart
	// hands the record out at once. Records waiting are counted in
	// Stats.Delayed.
	RetryDelay []time.Duration
}

// Lease hands out up to maxRecords records and about maxBytes bytes of
// payload (always at least one record, whatever its size), oldest first,
// from one segment. It returns (nil, nil) when nothing is available now;
// wait on Notify, or poll, and lease again.
//
// Records older than MaxAge are dropped (reason "expired") instead of being
// handed out; records that fail their checksum are moved to quarantine/
// (reason "corrupt"). A segment that bbolt cannot read is quarantined and
// the next one is tried.
func (s *Spool) Lease(ctx context.Context, maxRecords, maxBytes int) (*Batch, error) {
	if maxRecords <= 0 {
		return nil, fmt.Errorf("spool: lease of %d records: must be positive", maxRecords)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.reader {
		s.reader = true
		s.lastScan = time.Time{}
	}
	s.promoteDueLocked()
	if time.Since(s.lastScan) >= scanInterval {
		if err := s.scanContextLocked(ctx); err != nil {
			return nil, err
		}
	} else {
		s.fillWindowLocked()
	}
	b, err := s.leaseLocked(maxRecords, maxBytes)
	for b == nil && err == nil && len(s.others) > 0 {
		// Nothing in the segments held: take over more of the directory
		// (files freed or sealed since the last scan, or more than the
		// window) before saying so, for as long as that takes over
		// something.
		claims := s.claims
		if err := s.scanContextLocked(ctx); err != nil {
			return nil, err
		}
		if s.claims == claims {
			break
		}
		b, err = s.leaseLocked(maxRecords, maxBytes)
	}
	return b, err
}

func (s *Spool) leaseLocked(maxRecords, maxBytes int) (*Batch, error) {
	for i := 0; i < len(s.segs); i++ {
		g := s.segs[i]
		if g.damaged != nil || g.db == nil {
			continue // waits for its salvage
		}
		if !g.available() && g.outstanding == 0 && g.live() > 0 && !g.appending {
			// Everything was handed out and settled, yet the count says
			// records are left: the tree lost them. Copy out what can be
			// found and set the file aside rather than keep it forever.
			_ = s.damagedLocked(g, fmt.Errorf("%w: %d records counted but not found in the tree", ErrCorrupt, g.live()))
			i = -1
			continue
		}
		if !g.available() {
			if g.drained() {
				if err := s.removeLocked(g); err != nil {
					s.log.Warn("remove drained segment", "err", err)
				}
				i--
			}
			continue
		}
		if s.takeOlderLocked(g.id) {
			// A free file older than g was waiting: it goes first.
			i = -1
			continue
		}
		b, err := s.readLocked(g, maxRecords, maxBytes)
		if errors.Is(err, ErrCorrupt) {
			// Records are unreadable in place: copy out every one that
			// passes its checksum, and set the file aside.
			_ = s.damagedLocked(g, err)
			i = -1
			continue
		}
		if err != nil {
			return nil, err
		}
		if b != nil {
			return b, nil
		}
		// Everything available was expired or corrupt and is dropped now.
		if g.drained() {
			if err := s.removeLocked(g); err != nil {
				s.log.Warn("remove drained segment", "err", err)
			}
			i--
		}
	}
	return nil, nil
}

func removeSeg(segs []*segment, g *segment) []*segment {
	for i, x := range segs {
		if x == g {
			return append(segs[:i], segs[i+1:]...)
		}
	}
	return segs
}

// maxLeasePrealloc bounds the records readLocked makes room for at once.
const maxLeasePrealloc = 4096

// leaseRoom is how many records a lease of g makes room for up front:
// at most the records g can give now (those released for a retry and
// those never handed out, some of which may be marked settled or gone),
// maxRecords and maxLeasePrealloc (a batch limited by bytes grows beyond),
// and twice what maxBytes holds at the segment's average size on disk
// (which exceeds the records'): no doubling as they are taken, and no
// room for thousands of records in a batch that holds hundreds.
func leaseRoom(g *segment, maxRecords, maxBytes int) int {
	avail := uint64(len(g.retry))
	if g.last >= g.next {
		avail += g.last - g.next + 1
	}
	n := int(min(avail, maxLeasePrealloc, uint64(max(maxRecords, 0))))
	if n <= 0 || g.records <= 0 || g.size <= 0 {
		return n
	}
	per := g.size / g.records
	if per <= 0 {
		return n
	}
	// maxBytes may be anything (a negative one takes one record): q < n
	// keeps 2*q+1 from overflowing.
	if q := max(int64(maxBytes), 0) / per; q < int64(n) {
		return int(min(int64(n), 2*q+1))
	}
	return n
}

// readLocked reads the next batch of g. It returns (nil, nil) if every
// available record was expired or corrupt (and is now dropped).
func (s *Spool) readLocked(g *segment, maxRecords, maxBytes int) (b *Batch, err error) {
	cutoff := s.opts.Clock.Now().Add(-s.opts.MaxAge)
	type bad struct {
		seq uint64
		raw []byte
		err error
	}
	var (
		expired   []uint64
		corrupt   []bad
		views     [][]byte
		total     int
		retryUsed int
	)
	b = &Batch{s: s, g: g}
	if n := leaseRoom(g, maxRecords, maxBytes); n > 0 {
		b.Records = make([]Record, 0, n)
		b.seqs = make([]uint64, 0, n)
	}
	views = s.views[:0]
	defer func() {
		// views point into the mapping: none kept once read.
		clear(views)
		s.views = views[:0]
	}()
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%w: bbolt panicked reading segment %s: %v", ErrCorrupt, g.id, r)
		}
	}()
	// A damaged file can make bbolt touch memory past its end: turn the
	// fault into a panic recovered above.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	next := g.next
	err = g.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		att := tx.Bucket(bucketAttempts)
		if recs == nil || att == nil {
			return fmt.Errorf("%w: segment %s lacks its buckets", ErrCorrupt, g.id)
		}
		hasAttempts, _ := att.Cursor().First()
		// take considers one stored record; it reports false when the batch
		// is full and the record was not taken.
		take := func(seq uint64, key, val []byte) bool {
			if len(b.seqs) >= maxRecords || (len(b.seqs) > 0 && total+len(val)-recordHeaderLen > maxBytes) {
				return false
			}
			t, payload, derr := decodeRecord(val)
			switch {
			case derr != nil:
				corrupt = append(corrupt, bad{seq, append([]byte(nil), val...), derr})
				return true
			case t.Before(cutoff):
				expired = append(expired, seq)
				return true
			}
			r := Record{Time: t}
			if hasAttempts != nil {
				if v := att.Get(key); len(v) == 4 {
					r.Attempts = int(binary.BigEndian.Uint32(v))
				}
			}
			b.Records = append(b.Records, r)
			b.seqs = append(b.seqs, seq)
			views = append(views, payload)
			total += len(payload)
			return true
		}
		var key [keyLen]byte
		for retryUsed < len(g.retry) {
			seq := g.retry[retryUsed]
			val := recs.Get(putKey(key[:], seq))
			if val == nil {
				// Released for a retry, so never deleted: the tree lost it.
				return fmt.Errorf("%w: segment %s lost record %d (released for a retry) from its tree", ErrCorrupt, g.id, seq)
			}
			if !take(seq, key[:], val) {
				break
			}
			retryUsed++
		}
		if retryUsed == len(g.retry) {
			c := recs.Cursor()
			k, v := firstLive(c, g.marks, next)
			// In a segment this process created, the records from next
			// to last are all in the tree, in sequence: a gap is damage
			// (a lost or misdirected page), not records deleted.
			expect := uint64(0)
			if g.dense {
				expect = next
			}
			for {
				if k == nil {
					if next <= g.last && !g.marks.contains(g.last) {
						// The last record was appended and not handed out,
						// so not deleted: the tree lost it.
						return fmt.Errorf("%w: segment %s lost records from %d to its last, %d, from its tree", ErrCorrupt, g.id, next, g.last)
					}
					next = max(next, g.last+1) // the rest is marked
					break
				}
				seq, ok := keySeq(k)
				switch {
				case !ok:
					return fmt.Errorf("%w: segment %s has a malformed key", ErrCorrupt, g.id)
				case seq < next:
					return fmt.Errorf("%w: segment %s: its tree gives record %d after %d", ErrCorrupt, g.id, seq, next)
				case expect != 0 && expect <= g.last && seq != expect:
					return fmt.Errorf("%w: segment %s lost record %d from its tree (found %d instead)", ErrCorrupt, g.id, expect, seq)
				case seq > g.last && !g.active && !g.appending:
					// Nothing appends to it: no record can be past its last.
					return fmt.Errorf("%w: segment %s holds record %d past its last, %d", ErrCorrupt, g.id, seq, g.last)
				}
				if seq > g.last {
					// Appended by a commit not counted yet.
					next = max(next, g.last+1)
					break
				}
				if g.marks.contains(seq) {
					// Settled and marked (met after a reopen).
					k, v = firstLive(c, g.marks, seq)
					expect = 0
					continue
				}
				if !take(seq, k, v) {
					next = max(next, seq) // what lies between is gone
					break
				}
				next = seq + 1
				if expect != 0 {
					expect = next
				}
				k, v = c.Next()
			}
		}
		// Copy the payloads out of the mmap before the transaction ends.
		b.arena = s.getArena(total)
		arena := *b.arena
		off := 0
		for i, v := range views {
			b.Records[i].Data = arena[off : off+len(v) : off+len(v)]
			off += copy(arena[off:], v)
		}
		g.dropPages(tx, true)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if next > g.next {
		g.next = next
	}
	g.retry = g.retry[retryUsed:]
	if len(expired) > 0 || len(corrupt) > 0 {
		del := expired
		for _, c := range corrupt {
			s.quarantineRecord(g, c.seq, c.raw, c.err)
			del = append(del, c.seq)
		}
		slices.Sort(del)
		var derr error
		if g.wedged {
			// bbolt may hold the file's writer lock for good (see
			// closeDBLocked): a transaction would wait forever.
			derr = fmt.Errorf("%w: segment %s failed an earlier transaction", ErrCorrupt, g.id)
		} else {
			derr = deleteSeqs(g, del)
		}
		if derr != nil {
			if errors.Is(derr, ErrCorrupt) {
				g.wedged = true // bbolt panicked in the transaction
			}
			// Dropped all the same; the deletion is written later.
			g.pendingDel = append(g.pendingDel, del...)
			g.unsaved += int64(len(del))
			s.log.Warn("delete expired or corrupt records", "segment", g.id, "err", derr)
		} else {
			g.records -= int64(len(del))
		}
		s.addDropLocked(ReasonExpired, uint64(len(expired)))
		s.addDropLocked(ReasonCorrupt, uint64(len(corrupt)))
	}
	if len(b.seqs) == 0 {
		return nil, nil
	}
	g.outstanding += len(b.seqs)
	s.leased += int64(len(b.seqs))
	if g.batches == nil {
		g.batches = make(map[*Batch]struct{})
	}
	g.batches[b] = struct{}{}
	return b, nil
}

// Ack acknowledges every record of the batch: they are deleted for good.
func (b *Batch) Ack(ctx context.Context) error { return b.Settle(ctx, Outcome{}) }

// Nack releases every record of the batch for another try, incrementing
// their attempt counts.
func (b *Batch) Nack(ctx context.Context) error {
	all := make([]int, len(b.Records))
	for i := range all {
		all[i] = i
	}
	return b.Settle(ctx, Outcome{Retry: all})
}

// Settle applies an outcome to the batch in one atomic, synced
// transaction: acknowledged and dropped records leave the spool, retried
// ones are released with their attempt count incremented. A batch is
// settled once; later calls return [ErrStaleBatch].
//
// The outcome holds in this process from the moment Settle is called:
// settled records are never handed out again by it. If the transaction
// cannot be written (a full disk, an I/O error, the spool closed while the
// settle waited to write), Settle returns an error
// wrapping [ErrSettleDeferred] and the outcome is written by the segment's
// next transaction; only a restart before that hands the records out
// again.
func (b *Batch) Settle(ctx context.Context, o Outcome) error {
	const (
		ack = iota
		retry
		drop
	)
	n := len(b.Records)
	kind := make([]uint8, n)
	mark := func(i int, k uint8, what string) error {
		if i < 0 || i >= n {
			return fmt.Errorf("spool: settle: %s index %d is outside the batch of %d", what, i, n)
		}
		if kind[i] != ack {
			return fmt.Errorf("spool: settle: index %d is given two outcomes", i)
		}
		kind[i] = k
		return nil
	}
	for _, i := range o.Retry {
		if err := mark(i, retry, "retry"); err != nil {
			return err
		}
	}
	for reason, idx := range o.Dropped {
		if reason == "" {
			return errors.New("spool: settle: empty drop reason")
		}
		for _, i := range idx {
			if err := mark(i, drop, "dropped"); err != nil {
				return err
			}
		}
	}
	if len(o.RetryDelay) > 0 && len(o.RetryDelay) != len(o.Retry) {
		return fmt.Errorf("spool: settle: %d retry delays for %d retries", len(o.RetryDelay), len(o.Retry))
	}
	var delay []time.Duration // by index into the batch
	for j, d := range o.RetryDelay {
		if d > 0 {
			if delay == nil {
				delay = make([]time.Duration, n)
			}
			delay[o.Retry[j]] = d
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := b.s
	if s == nil {
		return ErrStaleBatch
	}
	s.mu.Lock()
	g := b.g // a salvage moves a batch to the segment that took its records
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case b.settled:
		s.mu.Unlock()
		return ErrStaleBatch
	case g.db == nil || g.dropped:
		b.settled = true
		s.mu.Unlock()
		return fmt.Errorf("%w: its segment was quarantined", ErrStaleBatch)
	}
	b.settled = true
	defer b.release()
	var (
		settled = make([]uint64, 0, len(b.seqs)) // acknowledged or dropped
		retries []retryRec
		acked   int
	)
	for i, seq := range b.seqs {
		switch kind[i] {
		case ack:
			acked++
			settled = append(settled, seq)
		case retry:
			r := retryRec{seq: seq, attempts: uint32(min(int64(b.Records[i].Attempts)+1, 1<<31))}
			if delay != nil {
				r.delay = delay[i]
			}
			retries = append(retries, r)
		default:
			settled = append(settled, seq)
		}
	}
	slices.Sort(settled)
	slices.SortFunc(retries, func(x, y retryRec) int { return cmp.Compare(x.seq, y.seq) })
	b.done, b.retries = settled, retries

	// Decide in memory first: from here on, this process never hands the
	// settled records out again.
	del := settled // to delete, unless marked
	if len(settled) > 0 && !g.active && !s.deleteSettled {
		if m := g.marks.with(settled); len(m) <= maxMarkRanges {
			g.marks, g.marksDirty = m, true
			g.marksNew += int64(len(settled))
			del = nil
		}
	}
	g.unsaved += int64(len(settled))
	for reason, idx := range o.Dropped {
		s.addDropLocked(reason, uint64(len(idx)))
	}
	s.acked += uint64(acked)
	s.retried += uint64(len(retries))
	var w *settleWrite
	if g.dirty() && !g.wedged {
		// Marks, or deletions that failed before, are written by one
		// transaction at a time, in the order they were decided (g.wmu),
		// and the transaction that writes them writes everything decided
		// so far: a settle that finds its marks written by another's
		// transaction writes nothing more.
		s.mu.Unlock()
		g.wmu.Lock()
		defer g.wmu.Unlock()
		s.mu.Lock()
	}
	w = s.settleWriteLocked(g, del, retries)
	s.mu.Unlock()

	err := w.write()

	s.mu.Lock()
	defer s.mu.Unlock()
	w.doneLocked(err)
	if g.dropped {
		// Salvaged while this settle was written: the salvage honoured
		// the outcome (acknowledged and dropped records were not copied,
		// retried ones were, with their delays), and its records no
		// longer count as leased.
		return nil
	}
	g.outstanding -= n
	s.leased -= int64(n)
	delete(g.batches, b)
	if len(retries) > 0 && g.db != nil {
		seqs := make([]uint64, 0, len(retries))
		now := s.opts.Clock.Now()
		for _, r := range retries {
			if r.delay > 0 {
				g.outstanding++ // waits, still held (see delay.go)
				s.delayLocked(g, r.seq, now.Add(r.delay))
				continue
			}
			seqs = append(seqs, r.seq)
		}
		g.retry = mergeSorted(g.retry, seqs)
		s.armDelayLocked()
		s.signal()
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) && g.db != nil {
			g.wedged = true // bbolt panicked in the transaction
		}
		// Not written (a full disk, an I/O error, the spool closed under
		// it): the outcome holds in this process all the same.
		// Re-sending what the service already has, over and over while
		// the disk stays full, would be a retry storm of duplicates.
		s.log.Warn("settle not written; kept in memory until it can be", "segment", g.id, "records", len(settled), "err", err)
		return fmt.Errorf("spool: settle: %w: %w", ErrSettleDeferred, err)
	}
	if g.drained() && !s.closed {
		if err := s.removeLocked(g); err != nil {
			s.log.Warn("remove drained segment", "err", err)
		}
	}
	return nil
}

// retryRec is a record released for another try, with its new attempt
// count.
type retryRec struct {
	seq      uint64
	attempts uint32
	delay    time.Duration // before it is handed out again (memory only)
}

// settleWrite is one transaction writing settle decisions of a segment:
// the deletion of del (a settle's records, in a segment that deletes), the
// attempt counts of retries, and whatever earlier settles decided that is
// not written yet: the marks (with the count of records they settle) and
// deletions that failed before.
type settleWrite struct {
	g       *segment
	db      *bolt.DB
	err     error // why it cannot be written at all
	del     []uint64
	old     []uint64 // g.pendingDel[:len(old)] when taken
	retries []retryRec
	marks   seqRanges // to store; nil: unchanged
	marked  int64     // records the marks settle that the count does not reflect
	fail    error     // Spool.failPersist
	counted bool      // counted in g.writing
}

// settleWriteLocked takes what is to be written. The caller holds s.mu,
// and g.wmu (until doneLocked) if g is dirty: without it, only del and
// retries, which belong to the caller, are taken.
func (s *Spool) settleWriteLocked(g *segment, del []uint64, retries []retryRec) *settleWrite {
	w := &settleWrite{g: g, db: g.db, del: del, retries: retries, fail: s.failPersist}
	switch {
	case len(del) == 0 && len(retries) == 0 && !g.dirty():
		// Nothing to write: another settle's transaction wrote this one's
		// marks (or there were none).
		return w
	case s.closed:
		w.err = ErrClosed
		return w
	case g.db == nil || g.dropped:
		w.err = errors.New("segment closed")
		return w
	case g.wedged:
		// bbolt may hold the file's writer lock for good (see
		// closeDBLocked): a transaction would wait forever.
		w.err = fmt.Errorf("%w: segment %s failed an earlier transaction", ErrCorrupt, g.id)
		return w
	}
	w.old = g.pendingDel[:len(g.pendingDel):len(g.pendingDel)]
	if g.marksDirty {
		w.marks = g.marks
		g.marksDirty = false
	}
	w.marked = g.marksNew
	g.marksNew = 0
	w.counted = !w.empty()
	if w.counted {
		g.writing++
	}
	return w
}

// empty reports whether the write has nothing to write.
func (w *settleWrite) empty() bool {
	return len(w.del) == 0 && len(w.old) == 0 && len(w.retries) == 0 && w.marks == nil && w.marked == 0
}

// write runs the transaction. The caller holds no lock but g.wmu, and that
// only if the write took decisions of earlier settles.
func (w *settleWrite) write() (err error) {
	if w.err != nil || w.empty() {
		return w.err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked settling in segment %s: %v", ErrCorrupt, w.g.id, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return w.db.Update(func(tx *bolt.Tx) error {
		w.g.setGrowStep(tx)
		recs := tx.Bucket(bucketRecords)
		att := tx.Bucket(bucketAttempts)
		meta := tx.Bucket(bucketMeta)
		if recs == nil || att == nil || meta == nil {
			return fmt.Errorf("%w: segment %s lacks its buckets", ErrCorrupt, w.g.id)
		}
		if w.fail != nil {
			return w.fail
		}
		// bbolt keeps the key and value of a Put until the commit, so
		// each Put gets its own bytes.
		if len(w.retries) > 0 {
			arena := make([]byte, 0, len(w.retries)*(keyLen+4))
			for _, r := range w.retries {
				off := len(arena)
				arena = binary.BigEndian.AppendUint64(arena, r.seq)
				arena = binary.BigEndian.AppendUint32(arena, r.attempts)
				if err := att.Put(arena[off:off+keyLen], arena[off+keyLen:]); err != nil {
					return err
				}
			}
		}
		// The count goes down by what this transaction changes in the
		// file, not by what was decided: a transaction that reported a
		// failure may have been written all the same (its fsync failed),
		// and what it did must not be counted twice.
		var delta int64
		for _, seqs := range [2][]uint64{w.del, w.old} {
			n, err := deleteKeys(recs, att, seqs)
			if err != nil {
				return err
			}
			delta += n
		}
		if w.marks != nil {
			stored, err := decodeMarks(meta.Get(metaSettled))
			if err != nil {
				return err
			}
			delta += int64(w.marks.count()) - int64(stored.count())
			if err := meta.Put(metaSettled, w.marks.encode()); err != nil {
				return err
			}
		}
		w.g.dropPages(tx, false)
		if delta != 0 {
			return addRecordCount(tx, -delta)
		}
		return nil
	})
}

// deleteKeys deletes the records of seqs (ascending) that are still in the
// file, with their attempt counts, and returns how many there were.
func deleteKeys(recs, att *bolt.Bucket, seqs []uint64) (int64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	hasAttempts, _ := att.Cursor().First()
	c := recs.Cursor()
	var key [keyLen]byte
	var n int64
	for _, seq := range seqs {
		k := putKey(key[:], seq)
		if got, _ := c.Seek(k); !bytes.Equal(got, k) {
			continue
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
		if hasAttempts != nil {
			if err := att.Delete(k); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// doneLocked records the outcome of write: on success the file reflects
// the decisions; on failure they wait for the next write. The caller holds
// s.mu.
func (w *settleWrite) doneLocked(err error) {
	g := w.g
	if w.counted {
		g.writing--
	}
	if err != nil {
		if w.marks != nil {
			g.marksDirty = true
		}
		g.marksNew += w.marked
		g.pendingDel = append(g.pendingDel, w.del...)
		return
	}
	g.pendingDel = slices.Delete(g.pendingDel, 0, len(w.old))
	delta := int64(len(w.del)+len(w.old)) + w.marked
	g.unsaved -= delta
	g.records -= delta
}

// flushSettles writes what settles of g decided that is not written yet
// (after ErrSettleDeferred). The caller holds no lock.
func (s *Spool) flushSettles(g *segment) error {
	s.mu.Lock()
	wedged := g.wedged
	s.mu.Unlock()
	if wedged {
		// Its writer lock may be held for good: so may g.wmu.
		return fmt.Errorf("%w: segment %s failed an earlier transaction", ErrCorrupt, g.id)
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	s.mu.Lock()
	w := s.settleWriteLocked(g, nil, nil)
	s.mu.Unlock()
	err := w.write()
	s.mu.Lock()
	w.doneLocked(err)
	s.mu.Unlock()
	return err
}

func deleteSeqs(g *segment, seqs []uint64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked deleting in segment %s: %v", ErrCorrupt, g.id, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return g.db.Update(func(tx *bolt.Tx) error {
		g.setGrowStep(tx)
		n, err := deleteKeys(tx.Bucket(bucketRecords), tx.Bucket(bucketAttempts), seqs)
		if err != nil {
			return err
		}
		return addRecordCount(tx, -n)
	})
}

// mergeSorted merges two ascending slices of distinct sequence numbers.
func mergeSorted(a, b []uint64) []uint64 {
	if len(b) == 0 {
		return a
	}
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
