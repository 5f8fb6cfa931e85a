package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestSpoolInspectCountsWhatItHolds: Inspect in another process (or
// through another file, as here) sees the segments a spool holds as in use;
// the spool's own Inspect counts their records exactly and peeks at them,
// leased, acknowledged and retried records included.
func TestSpoolInspectCountsWhatItHolds(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 30 {
		if err := s.Append(ctx, []byte(fmt.Sprintf("rec-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	outside, err := Inspect(ctx, dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if outside.RecordsExact || len(outside.Peek) != 0 {
		t.Fatalf("Inspect through another file saw the held segment: %+v", outside)
	}

	// Acknowledge 10, lease 5 more and keep them in flight.
	b, err := s.Lease(ctx, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	inFlight, err := s.Lease(ctx, 5, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inFlight.Nack(ctx) }()

	r, err := s.Inspect(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !r.RecordsExact || r.Records != 20 {
		t.Fatalf("Spool.Inspect: %d records (exact %v), want 20: %+v", r.Records, r.RecordsExact, r.Segments)
	}
	for _, seg := range r.Segments {
		if seg.InUse {
			t.Errorf("segment %s reported in use by its own holder", seg.Name)
		}
	}
	if len(r.Peek) != 3 || string(r.Peek[0].Data) != "rec-10" || r.Oldest.IsZero() {
		t.Fatalf("peek: %d records, first %q, oldest %v", len(r.Peek), r.Peek[0].Data, r.Oldest)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inspect(ctx, 0); err == nil {
		t.Fatal("Inspect of a closed spool succeeded")
	}
}
