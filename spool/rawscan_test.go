package spool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRawScanFindsEveryRecord: a raw scan of a healthy segment finds every
// record with its stored value, whether the records bucket is stored
// inline (a few small records) or in pages of its own, and records larger
// than a page (overflow pages).
func TestRawScanFindsEveryRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		size int
	}{
		{"inline bucket", 3, 20},
		{"pages", 300, 700},
		{"overflow pages", 20, 3 * os.Getpagesize()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			s := openTest(t, dir, nil)
			var want [][]byte
			for i := range tc.n {
				r := bytes.Repeat([]byte{byte('a' + i%26)}, tc.size)
				want = append(want, r)
				mustAppend(t, s, r)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files := segmentNames(t, dir)
			if len(files) != 1 {
				t.Fatalf("segments %v", files)
			}
			f, err := os.Open(filepath.Join(dir, files[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, _ := f.Stat()
			r, err := scanRawFile(f, info.Size())
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				vals := r.records[uint64(i+1)]
				if len(vals) != 1 {
					t.Fatalf("record %d: %d values found", i+1, len(vals))
				}
				if _, payload, err := decodeRecord(vals[0]); err != nil || !bytes.Equal(payload, w) {
					t.Fatalf("record %d: %v, payload %q", i+1, err, payload[:min(len(payload), 10)])
				}
			}
			if len(r.records) != tc.n {
				t.Fatalf("%d records found, want %d", len(r.records), tc.n)
			}
		})
	}
}

// TestSalvageSegmentBboltCannotOpen: a sealed segment whose meta pages are
// gone cannot be opened by bbolt, but its records are intact: every one is
// copied into a new segment and delivered, and the file is quarantined.
func TestSalvageSegmentBboltCannotOpen(t *testing.T) {
	dir, first, _ := sealedSpool(t, 200)
	f, err := os.OpenFile(first, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 2*os.Getpagesize()), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := openTest(t, dir, nil)
	got := drainAll(t, s)
	if n := countPrefix(got, "first-"); n != 200 {
		t.Fatalf("%d of the 200 records of the damaged segment delivered", n)
	}
	if n := countPrefix(got, "second-"); n != 200 {
		t.Fatalf("%d of the 200 records of the healthy segment delivered", n)
	}
	st := s.Stats()
	if st.SalvagedRecords != 200 || st.QuarantinedSegments != 1 || len(quarantined(t, dir)) != 1 {
		t.Fatalf("salvaged %d, quarantined %d (%v); want 200 and the file", st.SalvagedRecords, st.QuarantinedSegments, quarantined(t, dir))
	}
}

// TestSalvageKeepsSettledRecordsOut: a damaged sealed segment half
// acknowledged (marked settled) is salvaged without its settled records.
func TestSalvageKeepsSettledRecordsOut(t *testing.T) {
	dir, first, _ := sealedSpool(t, 200)
	s := openTest(t, dir, nil)
	b := mustLease(t, s, 100)
	if err := b.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(first, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 2*os.Getpagesize()), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = openTest(t, dir, nil)
	got := drainAll(t, s)
	if n := countPrefix(got, "first-"); n != 100 {
		t.Fatalf("%d records of the damaged segment delivered, want the 100 not acknowledged", n)
	}
}

// FuzzRawScan feeds arbitrary files to the raw scanner: it must never
// panic, and everything it returns must pass its checksum.
func FuzzRawScan(f *testing.F) {
	page := make([]byte, os.Getpagesize())
	le.PutUint16(page[8:], rawLeafPageFlag)
	le.PutUint16(page[10:], 1)
	rec := encodeRecord(make([]byte, 64), []byte("x"), 1)
	le.PutUint32(page[rawPageHeader+4:], rawLeafElement)
	le.PutUint32(page[rawPageHeader+8:], keyLen)
	le.PutUint32(page[rawPageHeader+12:], uint32(len(rec)))
	copy(page[rawPageHeader+rawLeafElement+keyLen:], rec)
	f.Add(page)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 3*os.Getpagesize()))
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := scanRawFile(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatalf("scanRawFile: %v", err)
		}
		for seq, vals := range r.records {
			for _, v := range vals {
				if _, _, err := decodeRecord(v); err != nil {
					t.Fatalf("record %d returned though it fails its check: %v", seq, err)
				}
			}
		}
	})
}
