package spool

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestInvalidOptionsListEveryProblem: every invalid option is named in one
// error, which wraps ErrInvalidConfig.
func TestInvalidOptionsListEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string
		o    Options
		want []string
	}{
		{"negatives", "d", Options{MaxBytes: -1, MaxAge: -time.Second, MaxRecordBytes: -2, SegmentMaxBytes: -3, SegmentMaxAge: -time.Minute},
			[]string{"MaxBytes -1", "MaxAge -1s", "MaxRecordBytes -2", "SegmentMaxBytes -3", "SegmentMaxAge -1m0s"}},
		{"policy and sizes", "d", Options{Policy: 7, MaxBytes: 1 << 20, SegmentMaxBytes: 1 << 20, MaxRecordBytes: 1 << 20},
			[]string{"Policy FullPolicy(7)", "at least twice SegmentMaxBytes", "at most half of SegmentMaxBytes"}},
		{"empty dir and a bad option", "", Options{MaxAge: -time.Second}, []string{"empty directory path", "MaxAge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			s, err := Open(context.Background(), dir, &tc.o)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open with %+v succeeded", tc.o)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Open = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if dir != "" {
				if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("Open with invalid options created %s", dir)
				}
			}
		})
	}
}

// countdownCtx is a context whose Err turns to Canceled at its n-th call:
// it ends Open at each of its checks in turn.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestOpenHonoursContext ends Open's context at each point where Open
// checks it (before, between steps and before each segment file it looks
// at): Open returns an error wrapping ctx.Err() and leaves nothing open and
// no new file behind. With enough budget it opens.
func TestOpenHonoursContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	for range 5 { // five sealed segments, one per Close
		s := openTest(t, dir, nil)
		mustAppend(t, s, rec(1))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	before := segmentNames(t, dir)
	if len(before) != 5 {
		t.Fatalf("%d segment files, want 5", len(before))
	}
	opened := false
	for n := int64(0); n < 100 && !opened; n++ {
		ctx := &countdownCtx{Context: context.Background()}
		ctx.left.Store(n)
		s, err := Open(ctx, dir, &Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			opened = true
			if n < int64(len(before)) {
				t.Fatalf("Open succeeded after %d checks of its context; it checks each of the %d files", n, len(before))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Open with its context ending at check %d = %v, want context.Canceled", n, err)
		}
		after := segmentNames(t, dir)
		if strings.Join(after, ",") != strings.Join(before, ",") {
			t.Fatalf("Open cut short at check %d left files %v, had %v", n, after, before)
		}
		for _, name := range after {
			if locked, err := isLocked(filepath.Join(dir, name)); err != nil || locked {
				t.Fatalf("Open cut short at check %d left %s open (locked %v, %v)", n, name, locked, err)
			}
		}
	}
	if !opened {
		t.Fatal("Open never succeeded")
	}
}

func segmentNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.name())
	}
	return out
}
