package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// damageFile writes n runs of size random bytes at random offsets of the
// file at path (past its two meta pages, which bbolt checks with a
// checksum of their own), through a descriptor of its own, as a failing
// disk or a stray writer would, while the spool has it open.
func damageFile(t *testing.T, path string, rng *rand.Rand, n, size int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, size)
	for range n {
		for i := range junk {
			junk[i] = byte(rng.UintN(256))
		}
		off := 2*int64(os.Getpagesize()) + rng.Int64N(info.Size()-2*int64(os.Getpagesize())-int64(size))
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
}

// damageRecord is record id of the damage tests: about 700 bytes, so that
// 3,000 of them make a 2 MiB segment.
func damageRecord(id uint64) []byte {
	r := make([]byte, 700)
	binary.BigEndian.PutUint64(r, id)
	for i := 8; i < len(r); i++ {
		r[i] = byte(id) ^ byte(i)
	}
	return r
}

// TestDamagedActiveSegment writes 20 × 64 random bytes into a 2 MiB active
// segment holding 3,000 records, appends 1,000 more, and drains without
// another append: only records that were damaged may be lost (counted
// "corrupt"), every record appended after the damage is delivered, and
// the drain never stops with records left.
func TestDamagedActiveSegment(t *testing.T) {
	var worst int
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			corrupt := damagedActiveRun(t, seed)
			worst = max(worst, corrupt)
		})
	}
	t.Logf("at most %d of 4,000 records lost to 20 × 64 bytes of damage", worst)
}

func damagedActiveRun(t *testing.T, seed uint64) int {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := Open(ctx, dir, &Options{SegmentMaxBytes: 8 << 20, SegmentMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acked := map[uint64]bool{}
	appendIDs := func(first, n uint64) {
		for id := first; id < first+n; id += 20 {
			recs := make([][]byte, 20)
			for i := range recs {
				recs[i] = damageRecord(id + uint64(i))
			}
			if err := s.Append(ctx, recs...); err != nil {
				continue // refused: not acknowledged
			}
			for i := range recs {
				acked[id+uint64(i)] = true
			}
		}
	}
	appendIDs(0, 3000)
	s.mu.Lock()
	path := s.active.path()
	s.mu.Unlock()
	damageFile(t, path, rand.New(rand.NewPCG(seed, 1)), 20, 64)
	appendIDs(3000, 1000)

	seen := map[uint64]bool{}
	dups := 0
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := s.Lease(ctx, 200, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			st := s.Stats()
			if st.Records == 0 && st.Leased == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the drain stalled with %d records left (%+v)", st.Records, st)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, r := range b.Records {
			id := binary.BigEndian.Uint64(r.Data)
			if string(r.Data) != string(damageRecord(id)) {
				t.Fatalf("record %d handed out with wrong contents", id)
			}
			if seen[id] {
				dups++
			}
			seen[id] = true
		}
		if err := b.Ack(ctx); err != nil && !errors.Is(err, ErrStaleBatch) && !errors.Is(err, ErrSettleDeferred) {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	var lost, lostAfter int
	for id := range acked {
		if !seen[id] {
			lost++
			if id >= 3000 {
				lostAfter++
			}
		}
	}
	t.Logf("%d acknowledged, %d delivered (%d twice), %d lost (%d of them appended after the damage); dropped %v, %d salvaged, %d segments quarantined",
		len(acked), len(seen), dups, lost, lostAfter, st.Dropped, st.SalvagedRecords, st.QuarantinedSegments)
	if lostAfter > 0 {
		t.Errorf("%d records appended after the damage were lost", lostAfter)
	}
	if uint64(lost) > st.Dropped[ReasonCorrupt] {
		t.Errorf("%d records lost, only %d counted corrupt", lost, st.Dropped[ReasonCorrupt])
	}
	// 20 runs of 64 bytes touch at most 40 records where they hit record
	// values; a run that hits a page's header or element array makes the
	// page's records unreadable in place, but the salvage still reads the
	// records whose bytes are intact.
	if lost > 100 {
		t.Errorf("%d records lost to 20 × 64 bytes of damage", lost)
	}
	return lost
}
