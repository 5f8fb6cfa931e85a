package spool

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
)

// A raw scan reads a segment file page by page, without bbolt, and picks
// out every record it holds: what the salvage of a damaged segment copies
// when bbolt's tree cannot be walked (a damaged branch page, a header that
// panics bbolt, a file that does not open). It relies on bbolt's page
// layout, which is part of its file format:
//
//	page header  id uint64, flags uint16, count uint16, overflow uint32 (16 bytes)
//	leaf element flags uint32, pos uint32, ksize uint32, vsize uint32 (16 bytes each, after the header)
//
// A leaf element's key is at pos bytes from the element, its value right
// after the key. A bucket small enough is stored inline, as the value of
// its element in the parent's leaf: a bucket header (root page id 0,
// sequence) followed by a page. Integers are in the machine's byte order
// (bbolt casts them in place): little-endian on every platform aispool is
// built for.
//
// Copy-on-write leaves stale copies of pages in the file, so a scan finds
// old versions of records too, among them records already settled (and
// deleted) and the values of transactions that failed: the caller decides
// which sequence numbers are live. Every record found passed its checksum.
const (
	rawPageHeader     = 16
	rawLeafElement    = 16
	rawLeafPageFlag   = 0x02
	rawBucketLeafFlag = 0x01
	rawMetaMagic      = 0xED0CDAED
	// rawMaxOverflow bounds the pages one leaf page may span: a record is
	// at most a few MiB (MaxRecordBytes), so a larger overflow is a
	// damaged header.
	rawMaxOverflow = 4096
)

var le = binary.LittleEndian

// rawScan is what a raw scan found.
type rawScan struct {
	// records holds, by sequence number, the distinct values found that
	// pass their checksum (more than one only if a failed transaction
	// left another value under the same number).
	records map[uint64][][]byte
	// marks holds every version of the settled marks found; marks only
	// grow, so a record is settled if any version contains it.
	marks []seqRanges
	// badMarks is set if a marks value did not parse: which records were
	// settled cannot be told.
	badMarks bool
}

// settled reports whether any version of the marks found contains seq.
func (r *rawScan) settled(seq uint64) bool {
	for _, m := range r.marks {
		if m.contains(seq) {
			return true
		}
	}
	return false
}

// scanRawFile scans the file of size bytes read through f.
func scanRawFile(f io.ReaderAt, size int64) (*rawScan, error) {
	ps := rawPageSize(f)
	r := &rawScan{records: make(map[uint64][][]byte)}
	buf := make([]byte, ps)
	for off := int64(0); off+rawPageHeader <= size; off += int64(ps) {
		n, err := f.ReadAt(buf[:ps], off)
		if err != nil && err != io.EOF {
			return r, err
		}
		page := buf[:n]
		if len(page) < rawPageHeader || le.Uint16(page[8:10])&rawLeafPageFlag == 0 {
			continue
		}
		if over := le.Uint32(page[12:16]); over > 0 && over <= rawMaxOverflow {
			// The page spans overflow more pages: read them too (what the
			// file holds of them).
			span := min(int64(ps)*int64(over+1), size-off)
			big := make([]byte, span)
			n, err := f.ReadAt(big, off)
			if err != nil && err != io.EOF {
				return r, err
			}
			page = big[:n]
		}
		r.leaf(page, 0)
	}
	return r, nil
}

// leaf reads the elements of a leaf page (one of the file's, or an inline
// bucket's), with every bound checked: a damaged page yields what is
// intact in it.
func (r *rawScan) leaf(page []byte, depth int) {
	if len(page) < rawPageHeader || le.Uint16(page[8:10])&rawLeafPageFlag == 0 {
		return
	}
	count := int(le.Uint16(page[10:12]))
	for i := range count {
		e := rawPageHeader + i*rawLeafElement
		if e+rawLeafElement > len(page) {
			return
		}
		flags := le.Uint32(page[e:])
		pos, ksize, vsize := uint64(le.Uint32(page[e+4:])), uint64(le.Uint32(page[e+8:])), uint64(le.Uint32(page[e+12:]))
		start := uint64(e) + pos
		end := start + ksize + vsize
		if end > uint64(len(page)) || end < start {
			continue
		}
		key, val := page[start:start+ksize], page[start+ksize:end]
		if flags&rawBucketLeafFlag != 0 {
			// An inline bucket (root page 0): its page follows its header.
			if len(val) > 16 && le.Uint64(val[0:8]) == 0 && depth < 2 {
				r.leaf(val[16:], depth+1)
			}
			continue
		}
		switch {
		case len(key) == keyLen:
			seq, _ := keySeq(key)
			if _, _, err := decodeRecord(val); err != nil {
				continue
			}
			if !containsValue(r.records[seq], val) {
				r.records[seq] = append(r.records[seq], bytes.Clone(val))
			}
		case bytes.Equal(key, metaSettled):
			m, err := decodeMarks(val)
			if err != nil {
				r.badMarks = true
				continue
			}
			r.marks = append(r.marks, m)
		}
	}
}

func containsValue(vals [][]byte, v []byte) bool {
	for _, x := range vals {
		if bytes.Equal(x, v) {
			return true
		}
	}
	return false
}

// rawPageSize reads the page size from either meta page, or assumes the
// operating system's (bbolt's default) if both are damaged.
func rawPageSize(f io.ReaderAt) int {
	var meta [rawPageHeader + 12]byte
	for _, off := range []int64{0, 4096, 8192, 16384, 65536} {
		if _, err := f.ReadAt(meta[:], off); err != nil {
			continue
		}
		m := meta[rawPageHeader:]
		if le.Uint32(m[0:4]) != rawMetaMagic {
			continue
		}
		ps := int(le.Uint32(m[8:12]))
		if ps >= 1024 && ps <= 1<<20 && ps&(ps-1) == 0 && (off == 0 || off == int64(ps)) {
			return ps
		}
	}
	return os.Getpagesize()
}
