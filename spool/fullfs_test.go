package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// TestSettleOnFullFilesystem fills a real file system (a 1 MiB tmpfs) to
// ENOSPC, then drains the spool while it is full: settles that cannot be
// written are deferred (ErrSettleDeferred), the records are never handed
// out again (no resend storm), the drained file is removed, which gives the
// space back, and appends work again.
func TestSettleOnFullFilesystem(t *testing.T) {
	root := testkit.SmallFS(t, "1m")
	dir := filepath.Join(root, "spool")
	ctx := context.Background()
	s, err := Open(ctx, dir, &Options{MaxBytes: 64 << 20, SegmentMaxBytes: 32 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appended := 0
	var fullErr error
	for id := uint64(0); appended < 1_000_000; id++ {
		if err := s.Append(ctx, crashRecord(id)); err != nil {
			fullErr = err
			break
		}
		appended++
	}
	if fullErr == nil || !isNoSpace(fullErr) {
		t.Fatalf("after %d appends: %v, want ENOSPC", appended, fullErr)
	}
	if s.Ready() == nil {
		t.Fatal("Ready() is nil right after ENOSPC")
	}
	// Drain while full: the first time a record with an odd id is
	// handed out it is kept for retry (its attempt count must be written:
	// that needs new pages), every other time acknowledged.
	leased := make(map[uint64]int, appended)
	acked, deferred := 0, 0
	for range 100_000 {
		b, err := s.Lease(ctx, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		var retry []int
		for i, r := range b.Records {
			id := binary.BigEndian.Uint64(r.Data)
			leased[id]++
			switch {
			case leased[id] > 2 || (leased[id] == 2 && id%2 == 0):
				t.Fatalf("record %d handed out again after it was acknowledged", id)
			case leased[id] == 1 && id%2 == 1:
				retry = append(retry, i)
			default:
				acked++
			}
		}
		switch err := b.Settle(ctx, Outcome{Retry: retry}); {
		case errors.Is(err, ErrSettleDeferred):
			deferred++
		case err != nil:
			t.Fatal(err)
		}
	}
	st := s.Stats()
	t.Logf("%d records filled 1 MiB (%v); drained with %d deferred settles; %d left, %d segments", appended, fullErr, deferred, st.Records, st.Segments)
	if acked != appended || st.Records != 0 {
		t.Fatalf("acknowledged %d of %d, %d left", acked, appended, st.Records)
	}
	if deferred == 0 {
		t.Fatal("no settle was deferred: the file system was never full while draining")
	}
	if err := s.Append(ctx, crashRecord(1<<40)); err != nil {
		t.Fatalf("append after the drain gave the space back: %v", err)
	}
	if st.Segments > 1 {
		t.Fatalf("%d segment files after the drain, want at most the new active one", st.Segments)
	}
}

// fillFileSystem writes a file at path until the file system is full, so
// that not even a new segment can be created.
func fillFileSystem(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(chunk); err != nil {
			if !isNoSpace(err) {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the file system never filled up")
}

// TestOpenOnFullFilesystem: a spool whose file system is full (its own
// segments and another file took every block) opens all the same, says it
// is not ready and refuses appends, drains what it holds (deleting drained
// segments gives space back), and becomes ready again by itself, without
// an append, once a segment can be created.
func TestOpenOnFullFilesystem(t *testing.T) {
	root := testkit.SmallFS(t, "1m")
	dir := filepath.Join(root, "spool")
	ctx := context.Background()
	o := &Options{MaxBytes: 64 << 20, SegmentMaxBytes: 32 << 20, Logger: slog.New(slog.DiscardHandler)}
	s, err := Open(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	appended := 0
	for id := uint64(0); appended < 1_000_000; id++ {
		if err := s.Append(ctx, crashRecord(id)); err != nil {
			if !isNoSpace(err) {
				t.Fatal(err)
			}
			break
		}
		appended++
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fillFileSystem(t, filepath.Join(root, "filler"))

	// The restart, on a full disk.
	s, err = Open(ctx, dir, o)
	if err != nil {
		t.Fatalf("Open on a full file system: %v", err)
	}
	defer s.Close()
	if err := s.Ready(); err == nil || !isNoSpace(err) {
		t.Fatalf("Ready on a full file system = %v, want the no-space error", err)
	}
	if err := s.Append(ctx, crashRecord(1<<40)); err == nil || !isNoSpace(err) {
		t.Fatalf("Append on a full file system = %v, want the no-space error", err)
	}
	seen := make(map[uint64]bool, appended)
	deferred := 0
	for range 100_000 {
		b, err := s.Lease(ctx, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		for _, r := range b.Records {
			id := crashID(t, r.Data)
			if seen[id] {
				t.Fatalf("record %d handed out twice", id)
			}
			seen[id] = true
		}
		switch err := b.Ack(ctx); {
		case errors.Is(err, ErrSettleDeferred):
			deferred++
		case err != nil:
			t.Fatal(err)
		}
	}
	if len(seen) != appended {
		t.Fatalf("drained %d of %d records", len(seen), appended)
	}
	start := time.Now()
	for s.Ready() != nil {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("still not ready 10 s after the drain gave space back: %v", s.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d records drained on a full file system (%d settles deferred); ready again by itself %v after the drain",
		appended, deferred, time.Since(start).Round(time.Millisecond))
	if err := s.Append(ctx, crashRecord(1<<41)); err != nil {
		t.Fatalf("append once ready again: %v", err)
	}
}
