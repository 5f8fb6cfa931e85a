package spool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, nil)
	for i := range 5 {
		mustAppend(t, s, rec(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	live := openTest(t, dir, nil) // holds its own active segment
	mustAppend(t, live, rec(99))
	if err := os.WriteFile(filepath.Join(dir, quarantineDir, "x.corrupt"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}

	r, err := Inspect(context.Background(), dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Segments) != 2 {
		t.Fatalf("segments: %+v", r.Segments)
	}
	sealed, active := r.Segments[0], r.Segments[1]
	if sealed.State != "sealed" || sealed.Records != 5 || sealed.InUse || sealed.Oldest.IsZero() {
		t.Errorf("sealed segment: %+v", sealed)
	}
	if active.State != "active" || !active.InUse || active.Records != -1 {
		t.Errorf("live active segment: %+v", active)
	}
	if r.Records != 5 || r.RecordsExact {
		t.Errorf("records %d exact %v", r.Records, r.RecordsExact)
	}
	if len(r.Peek) != 3 || string(r.Peek[0].Data) != string(rec(0)) || string(r.Peek[2].Data) != string(rec(2)) {
		t.Errorf("peek: %+v", r.Peek)
	}
	if len(r.Quarantine) != 1 || r.QuarantineBytes != 4 {
		t.Errorf("quarantine: %v %d", r.Quarantine, r.QuarantineBytes)
	}
	// Inspect changed nothing: the records are all still there.
	d := openTest(t, dir, nil)
	if got := drainAll(t, d); len(got) != 5 {
		t.Fatalf("after inspect, drained %d of the 5 sealed records", len(got))
	}
}

func TestInspectRefusesUnsafeDir(t *testing.T) {
	base := t.TempDir()
	if err := os.Symlink(base, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(context.Background(), filepath.Join(base, "link"), 0); err == nil {
		t.Fatal("Inspect followed a symlink")
	}
	if _, err := Inspect(context.Background(), filepath.Join(base, "missing"), 0); err == nil {
		t.Fatal("Inspect of a missing directory succeeded")
	}
}

func TestDropCountersPersistAcrossProcessesAndCompact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	for round := range 2 { // two "processes", one after the other
		s := openTest(t, dir, nil)
		mustAppend(t, s, rec(1), rec(2), rec(3))
		b := mustLease(t, s, 10)
		if b == nil {
			t.Fatal("nothing leased")
		}
		err := b.Settle(context.Background(), Outcome{Dropped: map[string][]int{"status_400": {0}, "sampled_out": {1, 2}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Inspect(context.Background(), dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(round + 1)
		if r.Dropped["status_400"] != want || r.Dropped["sampled_out"] != 2*want {
			t.Fatalf("round %d: lifetime drops %v", round, r.Dropped)
		}
	}
	// Many events: the file is compacted and the totals kept.
	for range 20000 {
		if err := appendDrop(dir, "expired", 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(filepath.Join(dir, dropsFile))
	if err != nil || info.Size() > dropsCompactBytes+100 {
		t.Fatalf("drops file not compacted: %v %v", info.Size(), err)
	}
	totals, err := readDrops(dir)
	if err != nil || totals["expired"] != 20000 || totals["status_400"] != 2 {
		t.Fatalf("after compaction: %v %v", totals, err)
	}
}
