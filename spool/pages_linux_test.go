package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// mappedKiB is the resident size of this process's mappings of path, from
// /proc/self/smaps.
func mappedKiB(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if fields := strings.Fields(l); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == path
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			k, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// dropRecord is record i of TestDropPagesKeepsRecords: its number, then a
// filler that depends on it.
func dropRecord(i int) []byte {
	r := make([]byte, 2000)
	binary.BigEndian.PutUint64(r, uint64(i))
	for j := 8; j < len(r); j++ {
		r[j] = byte(i + j)
	}
	return r
}

// The pages a lease read through the active segment's mapping leave the
// process's resident set when dropPages runs, and the records read again
// afterwards (mapped again from the page cache) are intact.
func TestDropPagesKeepsRecords(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), &Options{})
	const total = 4000 // about 8 MiB
	for i := 0; i < total; i += 500 {
		var recs [][]byte
		for j := i; j < i+500; j++ {
			recs = append(recs, dropRecord(j))
		}
		mustAppend(t, s, recs...)
	}
	s.mu.Lock()
	g := s.active
	s.mu.Unlock()
	check := func(b *Batch) {
		t.Helper()
		if b == nil || len(b.Records) != total {
			t.Fatalf("lease: %v", b)
		}
		for i, r := range b.Records {
			if !bytes.Equal(r.Data, dropRecord(i)) {
				t.Fatalf("record %d differs after the pages were dropped", i)
			}
		}
	}
	// Reading every record maps the file's pages: about 8 MiB resident
	// (the lease's own drop, once every dropInterval, may have run first).
	g.lastDrop.Store(int64(^uint64(0) >> 1))
	b, err := s.Lease(ctx, total, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	before := mappedKiB(t, g.path())
	if before < 4<<10 {
		t.Fatalf("%d KiB of the segment resident after reading every record, want several MiB", before)
	}
	g.lastDrop.Store(-int64(dropInterval))
	if err := g.db.View(func(tx *bolt.Tx) error { g.dropPages(tx, false); return nil }); err != nil {
		t.Fatal(err)
	}
	after := mappedKiB(t, g.path())
	if after > 256 {
		t.Fatalf("%d KiB of the segment resident after dropPages (%d before), want almost none", after, before)
	}
	t.Logf("segment resident: %d KiB after a lease of every record, %d KiB after dropPages", before, after)
	if err := b.Nack(ctx); err != nil {
		t.Fatal(err)
	}
	b, err = s.Lease(ctx, total, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
