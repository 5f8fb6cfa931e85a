package spool

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
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

// FuzzParseDrops feeds arbitrary drops files to their parser: it must never
// fail on readable input, and what it sums must survive compaction (written
// back one line per reason and parsed again).
func FuzzParseDrops(f *testing.F) {
	f.Add([]byte("1764000000 full 12\n1764000001 expired 3\n1764000002 full 1\n"))
	f.Add([]byte("1764000000 full 12\n17640000"))                     // torn last line
	f.Add([]byte("1764000000 full -1\nx y\n\x00\x00\x00\n1 a 2 3\n")) // malformed lines
	f.Add([]byte("1 status_400 18446744073709551615\n1 status_400 1\n"))
	f.Fuzz(func(t *testing.T, file []byte) {
		totals, err := parseDrops(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("parseDrops: %v", err)
		}
		var compacted bytes.Buffer
		for reason, n := range totals {
			fmt.Fprintf(&compacted, "%d %s %d\n", 1764000000, reason, n)
		}
		again, err := parseDrops(&compacted)
		if err != nil || !maps.Equal(again, totals) {
			t.Fatalf("after compaction %v (%v), want %v", again, err, totals)
		}
	})
}

// A garbage line longer than any the spool writes is skipped, not an error
// that would hide every counter (and stop compaction for good).
func TestParseDropsSkipsLongLines(t *testing.T) {
	file := "1 full 2\n" + strings.Repeat("x", 3*maxDropsLine) + "\n1 expired 5\n" + strings.Repeat("y", maxDropsLine+1)
	totals, err := parseDrops(strings.NewReader(file))
	if err != nil || totals["full"] != 2 || totals["expired"] != 5 || len(totals) != 2 {
		t.Fatalf("parseDrops = %v, %v; want full 2, expired 5", totals, err)
	}
}
