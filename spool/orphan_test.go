package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// orphanChild appends 1,000 records, then takes its active segment away
// (mode "rm-active": deletes the file; "mv-dir": renames the spool
// directory; "rm-dir": removes the directory and everything in it), then
// appends 1,000 more, reporting what Append acknowledged, and waits to be
// killed.
func orphanChild(dir, mode string) {
	ctx := context.Background()
	o := childOptions()
	o.SegmentMaxAge = time.Hour // one active segment throughout
	o.SegmentMaxBytes = 4 << 20
	s, err := Open(ctx, dir, o)
	if err != nil {
		fmt.Printf("open-error %v\n", err)
		os.Exit(3)
	}
	appendRange := func(first, last uint64) {
		for id := first; id <= last; id += 10 {
			recs := make([][]byte, 10)
			for i := range recs {
				recs[i] = crashRecord(id + uint64(i))
			}
			if err := s.Append(ctx, recs...); err != nil {
				fmt.Printf("append-error %v\n", err)
				os.Exit(3)
			}
			fmt.Printf("appended %d %d\n", id, id+9)
		}
	}
	appendRange(0, 999)
	s.mu.Lock()
	active := s.active.path()
	s.mu.Unlock()
	switch mode {
	case "rm-active":
		err = os.Remove(active)
	case "mv-dir":
		err = os.Rename(dir, dir+".moved")
	case "rm-dir":
		err = os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Printf("append-error %s: %v\n", mode, err)
		os.Exit(3)
	}
	appendRange(1000, 1999)
	st := s.Stats()
	fmt.Printf("stats orphaned %d salvaged %d records %d\n", st.OrphanedSegments, st.SalvagedRecords, st.Records)
	fmt.Printf("ready\n")
	time.Sleep(time.Minute) // killed before
}

// TestActiveSegmentTakenAway deletes the active segment, moves the spool
// directory or removes it while the spool appends, then kills the process
// with SIGKILL: every acknowledged record must be in the spool directory
// (the records of the file that lost its name were salvaged into a new
// segment before more appends were acknowledged), none twice.
func TestActiveSegmentTakenAway(t *testing.T) {
	for _, mode := range []string{"rm-active", "mv-dir", "rm-dir"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			cmd, sc := startChild(t, dir, 0, childEnvMode+"=orphan-"+mode)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if sc.Text() == "ready" {
					break
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			out := strings.Join(lines, "\n")
			var orphaned, salvaged, records int
			for _, l := range lines {
				if strings.HasPrefix(l, "stats ") {
					fmt.Sscanf(l, "stats orphaned %d salvaged %d records %d", &orphaned, &salvaged, &records)
				}
			}
			l := newLedger()
			l.read(t, bufio.NewScanner(strings.NewReader(out)))
			if len(l.appended) != 2000 {
				t.Fatalf("the child acknowledged %d appends, want 2000:\n%s", len(l.appended), out)
			}
			// Salvaged: the 1,000 in the file, and the 10 of the append
			// that found its name gone (unless a tick found it first).
			if orphaned != 1 || salvaged < 1000 || salvaged > 1010 || salvaged+records != 2000 {
				t.Fatalf("child stats: orphaned %d, salvaged %d, records in the new active segment %d; want 1, 1000..1010, 2000 in all", orphaned, salvaged, records)
			}
			n := verifySpool(t, dir, l)
			if n != 2000 {
				t.Fatalf("%d records in the spool after the kill, want the 2000 acknowledged", n)
			}
			t.Logf("%s: 2000 acknowledged, %d salvaged from the file that lost its name, 2000 found after SIGKILL", mode, salvaged)
		})
	}
}

// TestOrphanedSealedSegmentSalvaged: a sealed segment a drainer holds is
// deleted from under it; the next tick salvages its records. The batches
// leased from it move to the new segment: acknowledging one there is
// final, releasing one hands its records out again, and nothing else is
// handed out twice.
func TestOrphanedSealedSegmentSalvaged(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	p := openTest(t, dir, nil)
	for i := range 100 {
		mustAppend(t, p, rec(i))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, &Options{SegmentMaxAge: 200 * time.Millisecond})
	acked := mustLease(t, s, 10) // takes the sealed segment over
	nacked := mustLease(t, s, 10)
	files := segmentNames(t, dir)
	var sealed string
	for _, f := range files {
		if strings.HasSuffix(f, extSealed) {
			sealed = f
		}
	}
	if sealed == "" {
		t.Fatalf("no sealed segment among %v", files)
	}
	if err := os.Remove(filepath.Join(dir, sealed)); err != nil {
		t.Fatal(err)
	}
	if !testkit.Poll(10*time.Second, 10*time.Millisecond, func() bool { return s.Stats().OrphanedSegments > 0 }) {
		t.Fatal("the deleted sealed segment was never noticed")
	}
	if st := s.Stats(); st.SalvagedRecords != 100 || st.Leased != 20 || st.Records != 100 {
		t.Fatalf("after the salvage: %+v; want 100 salvaged, 20 leased, 100 records", st)
	}
	if err := acked.Ack(ctx); err != nil {
		t.Fatalf("Ack of a batch moved by the salvage: %v", err)
	}
	if err := nacked.Nack(ctx); err != nil {
		t.Fatalf("Nack of a batch moved by the salvage: %v", err)
	}
	got := map[string]int{}
	for _, d := range drainAll(t, s) {
		got[d]++
	}
	for i := range 100 {
		want := 1
		if i < 10 {
			want = 0 // acknowledged before
		}
		if got[string(rec(i))] != want {
			t.Fatalf("record %d handed out %d times after the salvage, want %d", i, got[string(rec(i))], want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing comes back after a restart.
	s = openTest(t, dir, nil)
	if left := drainAll(t, s); len(left) != 0 {
		t.Fatalf("%d records came back after a restart", len(left))
	}
}

// TestParentWritableByOthersRefused: a spool directory under a directory
// that others can write (without the sticky bit) could be moved away and
// replaced by another user: Open refuses it and says how to fix it.
func TestParentWritableByOthersRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode os.FileMode
		ok   bool
	}{
		{"world-writable", 0o777, false},
		{"group-writable", 0o770, false},
		{"sticky world-writable", 0o777 | os.ModeSticky, true},
		{"private", 0o700, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			if err := os.Mkdir(parent, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(parent, tc.mode); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), filepath.Join(parent, "spool"), &Options{Logger: slog.New(slog.DiscardHandler)})
			if tc.ok {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				_ = s.Close()
				return
			}
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "chmod go-w "+parent) {
				t.Fatalf("Open = %v, want ErrUnsafeDir saying how to fix it", err)
			}
		})
	}
}
