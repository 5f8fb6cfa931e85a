package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sealedSpool makes a directory with two sealed segments, the first holding
// records first-0..first-(n-1), the second second-0..second-(n-1), and
// returns the paths of the two segment files.
func sealedSpool(t *testing.T, n int) (dir string, first, second string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "spool")
	for _, name := range []string{"first", "second"} {
		// One segment each, however slow the appends (a loaded machine
		// took over SegmentMaxAge for 2000 single fsyncs).
		s := openTest(t, dir, &Options{SegmentMaxAge: time.Hour})
		for i := range n {
			mustAppend(t, s, []byte(name+"-"+strings.Repeat("v", 50)+string(rune('a'+i%26))))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	files, _ := listSegments(dir)
	if len(files) != 2 {
		t.Fatalf("want 2 segments, got %v", files)
	}
	return dir, filepath.Join(dir, files[0].name()), filepath.Join(dir, files[1].name())
}

// drainAll leases and acks everything, returning the records' contents.
func drainAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var out []string
	for range 10000 {
		b := mustLease(t, s, 100)
		if b == nil {
			return out
		}
		out = append(out, data(b)...)
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("drain does not end")
	return nil
}

func countPrefix(recs []string, prefix string) int {
	n := 0
	for _, r := range recs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func quarantined(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, quarantineDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCorruptSegments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, path string) {
			info, _ := os.Stat(path)
			if err := os.Truncate(path, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated-to-one-page", func(t *testing.T, path string) {
			if err := os.Truncate(path, 4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", func(t *testing.T, path string) {
			junk := make([]byte, 64<<10)
			for i := range junk {
				junk[i] = byte(rand.IntN(256))
			}
			if err := os.WriteFile(path, junk, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta-pages-zeroed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"random-bytes-in-the-middle", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, _ := f.Stat()
			junk := make([]byte, 3000)
			for i := range junk {
				junk[i] = byte(rand.IntN(256))
			}
			if _, err := f.WriteAt(junk, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, first, _ := sealedSpool(t, 200)
			tc.damage(t, first)
			s := openTest(t, dir, nil)
			got := drainAll(t, s)
			// Whatever the damage did to the first segment, the second one
			// flows in full, nothing panics, and the damage is counted.
			if n := countPrefix(got, "second-"); n != 200 {
				t.Fatalf("second segment: %d of 200 delivered", n)
			}
			st := s.Stats()
			lostFirst := 200 - countPrefix(got, "first-")
			if lostFirst > 0 && st.QuarantinedSegments == 0 && st.Dropped[ReasonCorrupt] == 0 {
				t.Fatalf("%d records of the damaged segment vanished uncounted: %+v", lostFirst, st)
			}
			if st.QuarantinedSegments > 0 && len(quarantined(t, dir)) == 0 {
				t.Fatal("segment counted as quarantined but not in quarantine/")
			}
			t.Logf("first segment: %d delivered, quarantined segments %d, corrupt records %d",
				200-lostFirst, st.QuarantinedSegments, st.Dropped[ReasonCorrupt])
		})
	}
}

func TestFlippedByteInRecord(t *testing.T) {
	dir, first, _ := sealedSpool(t, 30)
	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of the payload of the record ending in 'k'.
	target := []byte("first-" + strings.Repeat("v", 50) + "k")
	// Copy-on-write leaves stale copies of pages in the file: flip the
	// byte in every copy, so that the live one is hit too.
	hits := 0
	for off := 0; ; {
		i := bytes.Index(raw[off:], target)
		if i < 0 {
			break
		}
		raw[off+i+10] ^= 0x20
		off += i + len(target)
		hits++
	}
	if hits == 0 {
		t.Fatal("record not found in the file")
	}
	if err := os.WriteFile(first, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, nil)
	got := drainAll(t, s)
	if n := countPrefix(got, "first-"); n != 29 {
		t.Fatalf("first segment: %d delivered, want 29", n)
	}
	if n := countPrefix(got, "second-"); n != 30 {
		t.Fatalf("second segment: %d delivered, want 30", n)
	}
	if d := s.Stats().Dropped[ReasonCorrupt]; d != 1 {
		t.Fatalf("corrupt drops = %d, want 1", d)
	}
	q := quarantined(t, dir)
	if len(q) != 1 || !strings.HasSuffix(q[0], ".record") {
		t.Fatalf("quarantine holds %v, want one .record file", q)
	}
}

func TestStaleTmpAndForeignFilesIgnored(t *testing.T) {
	dir, _, _ := sealedSpool(t, 5)
	for _, name := range []string{"README", "notes.seg", "00000000000000000001-zz.seg"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "00000000000000000001-0000000000000001.tmp")
	if err := os.WriteFile(tmp, []byte("half-made"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, nil)
	if got := drainAll(t, s); len(got) != 10 {
		t.Fatalf("delivered %d, want 10", len(got))
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("stale .tmp file not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Fatalf("a foreign file was touched: %v", err)
	}
}

// A segment whose record count disagrees with its tree (records lost by
// damage that bbolt did not notice) is drained, the difference counted as
// corrupt, and the file set aside instead of staying forever.
func TestRecordCountMismatchQuarantined(t *testing.T) {
	dir, first, _ := sealedSpool(t, 10)
	db, err := bolt.Open(first, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaRecords, binary.BigEndian.AppendUint64(nil, 13))
	})
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, nil)
	if got := drainAll(t, s); len(got) != 20 {
		t.Fatalf("drained %d, want 20", len(got))
	}
	st := s.Stats()
	if st.Dropped[ReasonCorrupt] != 3 || st.QuarantinedSegments != 1 {
		t.Fatalf("stats %+v", st)
	}
	files, _ := listSegments(dir)
	if len(files) != 1 { // only the drainer's own active segment
		t.Fatalf("segments left: %v", files)
	}
}

// A segment found corrupt while a batch from it is being settled: the batch
// must not be counted twice (Stats().Leased went negative, and the drainer
// waited forever for an empty spool), and nothing may touch the closed file.
func TestSettleAfterSegmentQuarantined(t *testing.T) {
	dir, first, _ := sealedSpool(t, 2000)
	s := openTest(t, dir, nil)
	ctx := context.Background()
	out, err := s.Lease(ctx, 10, 1<<20)
	if err != nil || out == nil {
		t.Fatalf("lease: %v %v", out, err)
	}
	// Damage every page of the first segment past the meta pages while
	// it is open: the next read of it fails.
	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, len(raw)-8192)
	for i := range junk {
		junk[i] = byte(rand.IntN(256))
	}
	f, err := os.OpenFile(first, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(junk, 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Settle the outstanding batch while the lease below finds the
	// damage and quarantines the segment.
	settled := make(chan error, 1)
	go func() { settled <- out.Ack(ctx) }()
	for range 100 {
		b, err := s.Lease(ctx, 10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil || strings.HasPrefix(string(b.Records[0].Data), "second-") {
			if b != nil {
				_ = b.Nack(ctx)
			}
			break
		}
		_ = b.Ack(ctx)
	}
	if st := s.Stats(); st.QuarantinedSegments != 1 {
		t.Fatalf("the damaged segment was not quarantined: %+v", st)
	}
	// Depending on the timing the settle was written before the damage
	// was found, failed on the damage, or found its segment quarantined.
	if err := <-settled; err != nil && !errors.Is(err, ErrStaleBatch) && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Ack of a batch of the quarantined segment: %v", err)
	}
	if st := s.Stats(); st.Leased != 0 {
		t.Fatalf("leased = %d after every batch was settled", st.Leased)
	}
}
