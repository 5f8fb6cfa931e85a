package spool

import (
	"context"
	"encoding/binary"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// heldSegment is what a spool knows of a segment it holds open, for
// [Spool.Inspect].
type heldSegment struct {
	records        int64
	oldest, newest time.Time
	peek           []PeekRecord
}

// Inspect reports what the spool directory holds, as the package-level
// [Inspect] does, but as this process sees it: the segments it holds (its
// active segment, those it drains) are read through its own open files, so
// their records are counted and can be peeked at, where [Inspect] in
// another process finds them locked and reports them in use. A daemon
// serves this to "aispool inspect". Segments other processes hold are
// still reported in use.
func (s *Spool) Inspect(ctx context.Context, peek int) (*Report, error) {
	held, err := s.heldSegments(peek)
	if err != nil {
		return nil, err
	}
	return inspectDir(ctx, s.dir, peek, held)
}

// heldSegments describes the segments this process holds open, by id,
// each with up to peek of its first live records.
func (s *Spool) heldSegments(peek int) (map[string]heldSegment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	held := make(map[string]heldSegment, len(s.segs))
	for _, g := range s.segs {
		if g.db == nil || g.setAside() {
			continue // not open here (or waiting to be salvaged): read from its file
		}
		h := heldSegment{records: max(g.live(), 0)}
		readHeld(g, peek, &h)
		held[g.id] = h
	}
	return held, nil
}

// readHeld fills h's times and peek records from g's open file; a segment
// that cannot be read keeps its count (a damaged one is set aside by the
// drainer, not here).
func readHeld(g *segment, peek int, h *heldSegment) {
	defer func() { _ = recover() }()
	skip := func(seq uint64) bool { return g.marks.contains(seq) || slices.Contains(g.pendingDel, seq) }
	_ = g.db.View(func(tx *bolt.Tx) error {
		b, att := tx.Bucket(bucketRecords), tx.Bucket(bucketAttempts)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := firstLive(c, g.marks, 1); k != nil; k, v = c.Next() {
			seq, ok := keySeq(k)
			if !ok || skip(seq) {
				continue
			}
			t, payload, err := decodeRecord(v)
			if err != nil {
				continue
			}
			if h.oldest.IsZero() {
				h.oldest = t
			}
			if len(h.peek) >= peek {
				break
			}
			pr := PeekRecord{Segment: g.id + g.ext, Seq: seq, Time: t, Data: append([]byte(nil), payload...)}
			if att != nil {
				if a := att.Get(k); len(a) == 4 {
					pr.Attempts = int(binary.BigEndian.Uint32(a))
				}
			}
			h.peek = append(h.peek, pr)
		}
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if seq, ok := keySeq(k); !ok || skip(seq) {
				continue
			}
			if t, _, err := decodeRecord(v); err == nil {
				h.newest = t
				break
			}
		}
		return nil
	})
}
