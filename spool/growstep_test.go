package spool

import (
	"encoding/binary"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestGrowStepOnEveryWrite: a segment this process did not map for
// appending (one taken over, drained, or a salvage's target: bbolt maps
// it at a power of two above its size) still grows its file in steps of
// at most 1 MiB past what it holds, not to the whole mapping or by
// bbolt's default 16 MiB, so that MaxBytes reads what the spool holds.
func TestGrowStepOnEveryWrite(t *testing.T) {
	g, err := createSegment(t.TempDir(), time.Now(), 0) // 0: bbolt's own mapping
	if err != nil {
		t.Fatal(err)
	}
	defer g.db.Close()
	val := make([]byte, 1000)
	var seq uint64
	for round := range 8 {
		err := g.db.Update(func(tx *bolt.Tx) error {
			g.setGrowStep(tx)
			b := tx.Bucket(bucketRecords)
			for range 1000 {
				seq++
				if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var held int64
		if err := g.db.View(func(tx *bolt.Tx) error { held = tx.Size(); return nil }); err != nil {
			t.Fatal(err)
		}
		if size := fileSize(g.path()); size > held+1<<20+64<<10 {
			t.Fatalf("round %d: file %d bytes for %d held: more than 1 MiB ahead", round, size, held)
		}
	}
}
