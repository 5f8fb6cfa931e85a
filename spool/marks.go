package spool

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Settled records of a segment that is not active are not deleted from its
// file one key at a time (bbolt's per-key deletes, with the rebalancing they
// cause, were a third of a drainer's CPU): they are marked, as ranges of
// sequence numbers kept in the segment's meta bucket (metaSettled), written
// in the same transaction as the record count. A record is gone when its
// key is absent or its sequence number is marked; the file goes as a whole
// once nothing in it is live. The active segment, which this process keeps
// appending to, deletes its keys instead, so that bbolt reuses their pages
// and the file stays small.

// seqRange is an inclusive range of sequence numbers.
type seqRange struct{ lo, hi uint64 }

// seqRanges is a set of sequence numbers: ascending, disjoint ranges, no
// two of them adjacent.
type seqRanges []seqRange

// maxMarkRanges bounds the ranges a segment's marks may hold (16 bytes
// each, rewritten by every settle). Settles that would exceed it delete
// their keys instead. Ranges split around records still live (leased or
// waiting for a retry) and around records deleted rather than marked
// (settled while the segment was active, expired, corrupt, or by this
// fallback), so the bound is reached when many records of a segment are
// retried while their neighbours are settled.
const maxMarkRanges = 512

// metaSettled is the meta-bucket key of a segment's marks.
var metaSettled = []byte("settled")

// find returns the index of the range holding seq, or -1.
func (m seqRanges) find(seq uint64) int {
	i, _ := slices.BinarySearchFunc(m, seq, func(r seqRange, s uint64) int {
		switch {
		case r.hi < s:
			return -1
		case r.lo > s:
			return 1
		}
		return 0
	})
	if i < len(m) && m[i].lo <= seq && seq <= m[i].hi {
		return i
	}
	return -1
}

// contains reports whether seq is marked. Lease asks for every record it
// reads, and while a segment drains every mark lies below the records
// still to read: one comparison says no.
func (m seqRanges) contains(seq uint64) bool {
	if len(m) == 0 || seq > m[len(m)-1].hi || seq < m[0].lo {
		return false
	}
	return m.find(seq) >= 0
}

// skip returns the first sequence number at or after seq that is not
// marked.
func (m seqRanges) skip(seq uint64) uint64 {
	if i := m.find(seq); i >= 0 {
		return m[i].hi + 1
	}
	return seq
}

// with returns the set with seqs (ascending, distinct, none already
// marked) added. m is not modified.
func (m seqRanges) with(seqs []uint64) seqRanges {
	out := make(seqRanges, 0, len(m)+1)
	push := func(r seqRange) {
		if n := len(out); n > 0 && r.lo-1 <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			return
		}
		out = append(out, r)
	}
	i := 0
	for j := 0; j < len(seqs); {
		// The next run of consecutive sequence numbers.
		lo, hi := seqs[j], seqs[j]
		for j++; j < len(seqs) && seqs[j] == hi+1; j++ {
			hi++
		}
		for i < len(m) && m[i].lo < lo {
			push(m[i])
			i++
		}
		push(seqRange{lo, hi})
	}
	for ; i < len(m); i++ {
		push(m[i])
	}
	return out
}

// count is how many sequence numbers the set holds.
func (m seqRanges) count() uint64 {
	var n uint64
	for _, r := range m {
		n += r.hi - r.lo + 1
	}
	return n
}

// encode returns the stored form: each range as two big-endian uint64s.
func (m seqRanges) encode() []byte {
	out := make([]byte, 0, 16*len(m))
	for _, r := range m {
		out = binary.BigEndian.AppendUint64(out, r.lo)
		out = binary.BigEndian.AppendUint64(out, r.hi)
	}
	return out
}

// decodeMarks parses the stored form of a segment's marks. It returns an
// error wrapping ErrCorrupt if the value is not a whole number of ranges,
// or its ranges are empty, out of order, overlapping or adjacent.
func decodeMarks(v []byte) (seqRanges, error) {
	if len(v)%16 != 0 {
		return nil, fmt.Errorf("%w: settled ranges of %d bytes, not a multiple of 16", ErrCorrupt, len(v))
	}
	m := make(seqRanges, 0, len(v)/16)
	for off := 0; off < len(v); off += 16 {
		r := seqRange{binary.BigEndian.Uint64(v[off:]), binary.BigEndian.Uint64(v[off+8:])}
		switch {
		case r.lo == 0 || r.lo > r.hi || r.hi == math.MaxUint64:
			// Sequence numbers start at 1 and never reach the largest
			// uint64 (skip could not step past it).
			return nil, fmt.Errorf("%w: settled range %d..%d is empty or outside 1..2^64-2", ErrCorrupt, r.lo, r.hi)
		case len(m) > 0 && r.lo-1 <= m[len(m)-1].hi:
			return nil, fmt.Errorf("%w: settled range %d..%d does not follow %d..%d", ErrCorrupt, r.lo, r.hi, m[len(m)-1].lo, m[len(m)-1].hi)
		}
		m = append(m, r)
	}
	return m, nil
}
