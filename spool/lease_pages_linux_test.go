package spool

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// A lease drops the pages it read through the segment's mapping from the
// process's resident set, however recent the last drop: reading a batch
// maps 16 pages of the page cache around each page read. The records stay
// intact.
func TestBatchPagesDropped(t *testing.T) {
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
	const most = 256 // KiB: meta and branch pages read after the drop
	// A drop just now: an unforced dropPages would wait dropInterval.
	g.lastDrop.Store(int64(time.Since(g.opened)))
	b, err := s.Lease(ctx, total, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil || len(b.Records) != total {
		t.Fatalf("lease: %v", b)
	}
	for i, r := range b.Records {
		if !bytes.Equal(r.Data, dropRecord(i)) {
			t.Fatalf("record %d differs", i)
		}
	}
	if kib := mappedKiB(t, g.path()); kib > most {
		t.Fatalf("%d KiB of the segment resident after a lease of 8 MiB, want at most %d", kib, most)
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
