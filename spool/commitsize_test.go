package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

func TestCommitSizeBucket(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 0}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {8, 3}, {9, 4},
		{1000, 10}, {1024, 10}, {1025, 11}, {2048, 11}, {16384, 14}, {16385, 15}, {1 << 30, 15},
	} {
		got := commitSizeBucket(tc.n)
		if got != tc.want {
			t.Errorf("commitSizeBucket(%d) = %d, want %d", tc.n, got, tc.want)
		}
		// The bound of the bucket holds n; the one below does not.
		if b := CommitSizeBound(got); b != 0 && tc.n > b {
			t.Errorf("%d records counted in bucket %d, whose bound is %d", tc.n, got, b)
		}
		if got > 0 && tc.n <= CommitSizeBound(got-1) {
			t.Errorf("%d records counted in bucket %d, but bucket %d (bound %d) holds them", tc.n, got, got-1, CommitSizeBound(got-1))
		}
	}
	if CommitSizeBound(CommitSizeBuckets-1) != 0 || CommitSizeBound(-1) != 0 || CommitSizeBound(0) != 1 || CommitSizeBound(14) != 16384 {
		t.Errorf("CommitSizeBound: last %d, -1 %d, 0 %d, 14 %d; want 0, 0, 1, 16384",
			CommitSizeBound(CommitSizeBuckets-1), CommitSizeBound(-1), CommitSizeBound(0), CommitSizeBound(14))
	}
}

// Stats.Commits and Stats.CommitSizes count the group commits by the
// records they stored, whether one Append makes the group or concurrent
// Appends share it.
func TestStatsCommitSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		// appenders Append perAppend records each: one alone (1) goes in
		// a commit of its own; several are held back by a stalled
		// committer until all have queued, and share one commit.
		appenders, perAppend int
		want                 int // the bucket of the group
	}{
		{"one record", 1, 1, 0},
		{"two records", 1, 2, 1},
		{"three records", 1, 3, 2},
		{"a batch of 2048", 1, 2048, 11},
		{"beyond the last bound", 1, 16385, CommitSizeBuckets - 1},
		{"8 appends of 3", 8, 3, 5},      // 24 records (25 with the stalled one): 17 to 32
		{"4 appends of 100", 4, 100, 9},  // 400 (401): 257 to 512
		{"16 appends of 60", 16, 60, 10}, // 960 (961): 513 to 1024
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
			batch := func(a int) [][]byte {
				recs := make([][]byte, tc.perAppend)
				for i := range recs {
					recs[i] = rec(a*tc.perAppend + i)
				}
				return recs
			}
			stalled := 0
			if tc.appenders == 1 {
				if err := s.Append(context.Background(), batch(0)...); err != nil {
					t.Fatal(err)
				}
			} else {
				// The stalled Append (1 record) commits alone, or, if the
				// committer was slow to take it, with the group: in the
				// same bucket either way, the sizes are chosen so.
				unlock, firstErr := stallCommitter(t, s, []byte("stalled"))
				stalled = 1
				var wg sync.WaitGroup
				errs := make(chan error, tc.appenders)
				for a := range tc.appenders {
					wg.Go(func() { errs <- s.Append(context.Background(), batch(a)...) })
				}
				testkit.Eventually(t, 5*time.Second, "the appends to queue for the committer", func() bool { return len(s.reqs) >= tc.appenders })
				unlock()
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				if err := <-firstErr; err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if want := uint64(tc.appenders*tc.perAppend + stalled); st.Appended != want {
				t.Fatalf("Appended %d, want %d", st.Appended, want)
			}
			var want [CommitSizeBuckets]uint64
			want[tc.want] = 1
			if st.Commits == 2 && stalled == 1 {
				want[0]++ // the stalled append, alone
			}
			if st.Commits != 1 && st.Commits != uint64(1+stalled) {
				t.Errorf("Commits %d, want 1 (or %d with the stalled one alone)", st.Commits, 1+stalled)
			}
			if st.CommitSizes != want {
				t.Errorf("CommitSizes %v, want %v (Commits %d)", st.CommitSizes, want, st.Commits)
			}
			var sum uint64
			for _, n := range st.CommitSizes {
				sum += n
			}
			if sum != st.Commits {
				t.Errorf("CommitSizes sum to %d, Commits is %d", sum, st.Commits)
			}
		})
	}
}

func ExampleCommitSizeBound() {
	for i := range CommitSizeBuckets {
		if b := CommitSizeBound(i); b != 0 {
			fmt.Print(b, " ")
		} else {
			fmt.Println("more")
		}
	}
	// Output: 1 2 4 8 16 32 64 128 256 512 1024 2048 4096 8192 16384 more
}
