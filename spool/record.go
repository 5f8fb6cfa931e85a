package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// On-disk record layout, format version 1 (all integers big-endian):
//
//	offset size field
//	0      1    format version (1)
//	1      4    CRC32C (Castagnoli) of bytes 5..end
//	5      8    append time, Unix nanoseconds
//	13     n    payload
//
// The key of a record is its 8-byte big-endian sequence number, so a bbolt
// cursor walks a segment in FIFO order.
const (
	recordVersion   = 1
	recordHeaderLen = 13
	keyLen          = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord writes the stored form of payload, appended at t, into dst,
// which must have room for recordHeaderLen+len(payload) bytes, and returns
// the written slice.
func encodeRecord(dst []byte, payload []byte, t int64) []byte {
	dst = dst[:recordHeaderLen+len(payload)]
	dst[0] = recordVersion
	binary.BigEndian.PutUint64(dst[5:13], uint64(t))
	copy(dst[recordHeaderLen:], payload)
	binary.BigEndian.PutUint32(dst[1:5], crc32.Checksum(dst[5:], castagnoli))
	return dst
}

// frameRecord writes, in place, the header of the stored form of a record
// whose payload follows recordHeaderLen bytes of room in dst, appended at
// t.
func frameRecord(dst []byte, t int64) {
	dst[0] = recordVersion
	binary.BigEndian.PutUint64(dst[5:13], uint64(t))
	binary.BigEndian.PutUint32(dst[1:5], crc32.Checksum(dst[5:], castagnoli))
}

// decodeRecord checks a stored value and returns its append time and
// payload. The payload aliases value.
func decodeRecord(value []byte) (appended time.Time, payload []byte, err error) {
	if len(value) < recordHeaderLen {
		return time.Time{}, nil, fmt.Errorf("%w: record of %d bytes is shorter than its %d-byte header", ErrCorrupt, len(value), recordHeaderLen)
	}
	if value[0] != recordVersion {
		return time.Time{}, nil, fmt.Errorf("%w: unknown record format version %d", ErrCorrupt, value[0])
	}
	want := binary.BigEndian.Uint32(value[1:5])
	if got := crc32.Checksum(value[5:], castagnoli); got != want {
		return time.Time{}, nil, fmt.Errorf("%w: record checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	if len(value) == recordHeaderLen {
		return time.Time{}, nil, fmt.Errorf("%w: record has an empty payload", ErrCorrupt)
	}
	nanos := int64(binary.BigEndian.Uint64(value[5:13]))
	return time.Unix(0, nanos), value[recordHeaderLen:], nil
}

func putKey(dst []byte, seq uint64) []byte {
	dst = dst[:keyLen]
	binary.BigEndian.PutUint64(dst, seq)
	return dst
}

func keySeq(key []byte) (uint64, bool) {
	if len(key) != keyLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(key), true
}
