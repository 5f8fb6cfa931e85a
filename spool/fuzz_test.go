package spool

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds arbitrary stored values to the record decoder: it
// must never panic, must reject anything whose checksum does not hold, and
// must round-trip whatever encodeRecord writes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(make([]byte, 64), []byte(`{"name":"x"}`), time.Unix(1700000000, 5).UnixNano()))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 20))
	f.Fuzz(func(t *testing.T, value []byte) {
		ts, payload, err := decodeRecord(value)
		if err == nil {
			// A value that decodes re-encodes to itself.
			again := encodeRecord(make([]byte, recordHeaderLen+len(payload)), payload, ts.UnixNano())
			if !bytes.Equal(again, value) {
				t.Fatalf("decode/encode is not the identity")
			}
		}
		if len(value) > 0 {
			// Any payload round-trips.
			enc := encodeRecord(make([]byte, recordHeaderLen+len(value)), value, 42)
			ts2, p2, err := decodeRecord(enc)
			if err != nil || !bytes.Equal(p2, value) || ts2.UnixNano() != 42 {
				t.Fatalf("round trip failed: %v", err)
			}
			// A flipped bit anywhere is detected.
			for _, i := range []int{0, 1, 5, len(enc) - 1} {
				bad := bytes.Clone(enc)
				bad[i] ^= 0x10
				if _, _, err := decodeRecord(bad); err == nil {
					t.Fatalf("flipped bit at %d not detected", i)
				}
			}
		}
	})
}
