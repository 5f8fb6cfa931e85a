package spool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// stallCommitter makes the committer take an Append and then wait for the
// spool's lock, which the caller holds until it calls the returned function;
// that Append's error is sent on the returned channel.
func stallCommitter(t *testing.T, s *Spool, first []byte) (unlock func(), firstErr <-chan error) {
	t.Helper()
	s.mu.Lock()
	errc := make(chan error, 1)
	go func() { errc <- s.Append(context.Background(), first) }()
	// Let the committer take it and block on s.mu. (Should it be slower,
	// or busy with its periodic maintenance, the tests still hold: they
	// accept the committer gathering later appends with this one.)
	time.Sleep(10 * time.Millisecond)
	unlock = sync.OnceFunc(s.mu.Unlock)
	t.Cleanup(unlock) // before Close, should the test fail first
	return unlock, errc
}

// Concurrent appenders share one transaction (group commit).
func TestGroupCommitSharesOneTransaction(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
	unlock, firstErr := stallCommitter(t, s, rec(0))
	const appenders = 8
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for i := 1; i <= appenders; i++ {
		wg.Go(func() { errs <- s.Append(context.Background(), rec(i)) })
	}
	testkit.Eventually(t, 5*time.Second, "the appends to queue for the committer", func() bool { return len(s.reqs) >= appenders })
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
	s.mu.Lock()
	commits, appended := s.commits, s.appended
	s.mu.Unlock()
	// Normally 2: the stalled one, then one group (1 if the committer was
	// slow enough to gather them all with the first); one each without group
	// commit.
	if commits > 2 || appended != appenders+1 {
		t.Fatalf("%d appends in %d commits, want %d in at most 2", appended, commits, appenders+1)
	}
}

// An Append whose ctx ends before the committer takes it stores nothing
// and lets go of its records: the caller may reuse them at once.
func TestAppendAbandonedBeforeCommitStoresNothing(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
	unlock, firstErr := stallCommitter(t, s, []byte("first"))
	ctx, cancel := context.WithCancel(context.Background())
	buf := []byte("abandoned")
	errc := make(chan error, 1)
	go func() { errc <- s.Append(ctx, buf) }()
	testkit.Eventually(t, 5*time.Second, "the append to queue for the committer", func() bool { return len(s.reqs) >= 1 })
	cancel()
	want := "[first second]"
	var err error
	select {
	case err = <-errc:
		if err != context.Canceled {
			t.Fatalf("Append = %v, want context.Canceled itself", err)
		}
	case <-time.After(2 * time.Second):
		// On a loaded machine the committer may have gathered it with the
		// first: then it is committed, and Append waits for the copy.
		unlock()
		if err = <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Append = %v, want an error wrapping context.Canceled", err)
		}
		want = "[first abandoned second]"
		t.Log("the committer took both appends in one group")
	}
	copy(buf, "OVERWRITE") // the caller reuses its buffer
	unlock()
	if err := <-firstErr; err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, []byte("second"))
	b := mustLease(t, s, 10)
	if got := fmt.Sprint(data(b)); got != want {
		t.Fatalf("stored %s, want %s", got, want)
	}
}

// Appenders whose ctx ends at random moments overwrite their buffers as
// soon as Append returns: no stored record may change (and -race sees no
// read of a buffer after Append returned).
// The same holds for AppendFramed, whose records are framed and stored in
// place (half the appenders use each).
func TestAppendCancelledCallerReusesBuffers(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
	const appenders, rounds = 8, 40
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			framed := a%2 == 1
			head := 0
			if framed {
				head = FrameHeadroom
			}
			// Framed records share one buffer, as an exporter's do.
			mem := make([]byte, 2*head+512+700)
			bufs := [][]byte{mem[:head+512], mem[head+512:]}
			for i := range rounds {
				for j, b := range bufs {
					clear(b[:head])
					fill(b[head:], byte(a*rounds+i), byte(j))
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
				var err error
				if framed {
					err = s.AppendFramed(ctx, bufs...)
				} else {
					err = s.Append(ctx, bufs...)
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Error(err)
				}
				for _, b := range bufs {
					clear(b) // reuse at once, whatever the outcome
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for {
		b := mustLease(t, s, 1000)
		if b == nil {
			break
		}
		for _, r := range b.Records {
			if !intact(r.Data) {
				t.Fatalf("record %d of %d bytes changed after its Append returned", n, len(r.Data))
			}
			n++
		}
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d records stored of %d appended", n, appenders*rounds*2)
}

// fill writes a self-checking pattern: id, part, then bytes derived from both.
func fill(b []byte, id, part byte) {
	b[0], b[1] = id, part
	for i := 2; i < len(b); i++ {
		b[i] = id ^ part ^ byte(i) | 1
	}
}

func intact(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	for i := 2; i < len(b); i++ {
		if b[i] != b[0]^b[1]^byte(i)|1 {
			return false
		}
	}
	return true
}

// AppendFramed stores what follows each record's headroom, in the same
// group as plain appends, durably: a new process reads the payloads back.
// Records too short or too large for it are refused, naming the record.
func TestAppendFramed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	s := openTest(t, dir, &Options{MaxRecordBytes: 1000})
	frame := func(payloads ...string) [][]byte {
		var mem []byte
		var ends []int
		for _, p := range payloads {
			mem = append(mem, make([]byte, FrameHeadroom)...)
			mem = append(mem, p...)
			ends = append(ends, len(mem))
		}
		out := make([][]byte, len(ends))
		start := 0
		for i, end := range ends {
			out[i] = mem[start:end:end]
			start = end
		}
		return out
	}
	unlock, firstErr := stallCommitter(t, s, []byte("plain-0"))
	errs := make(chan error, 2)
	go func() { errs <- s.AppendFramed(context.Background(), frame("framed-1", "framed-2")...) }()
	testkit.Eventually(t, 5*time.Second, "the framed append to queue", func() bool { return len(s.reqs) >= 1 })
	go func() { errs <- s.Append(context.Background(), []byte("plain-3")) }()
	testkit.Eventually(t, 5*time.Second, "the plain append to queue", func() bool { return len(s.reqs) >= 2 })
	unlock()
	for _, c := range []<-chan error{firstErr, errs, errs} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}

	long := strings.Repeat("x", 1001)
	for _, tc := range []struct {
		name    string
		records [][]byte
		index   int
		want    error
	}{
		{"shorter than the headroom", [][]byte{frame("ok")[0], make([]byte, FrameHeadroom-1)}, 1, ErrEmptyRecord},
		{"headroom only", [][]byte{make([]byte, FrameHeadroom)}, 0, ErrEmptyRecord},
		{"payload too large", frame("ok", long), 1, ErrRecordTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AppendFramed(context.Background(), tc.records...)
			var re *RecordError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Index != tc.index {
				t.Fatalf("AppendFramed = %v, want a RecordError for record %d wrapping %v", err, tc.index, tc.want)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, nil)
	var got []string
	for {
		b := mustLease(t, s, 10)
		if b == nil {
			break
		}
		got = append(got, data(b)...)
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The committer may have gathered the framed append with the first.
	if s := fmt.Sprint(got); s != "[plain-0 framed-1 framed-2 plain-3]" {
		t.Fatalf("stored %s, want [plain-0 framed-1 framed-2 plain-3]", s)
	}
}

// TestCommitArenaNotKeptAfterLargeCall: the committer's reusable copy of
// the records it writes does not stay at the size of the largest call
// ever made (an intake request of tens of MiB): past a bound it is let
// go once written, so that one large request does not hold its size for
// the life of the process.
func TestCommitArenaNotKeptAfterLargeCall(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
	big := make([][]byte, 24) // 24 MiB in one call
	for i := range big {
		big[i] = make([]byte, 1<<20-64)
		big[i][0] = byte(i)
	}
	if err := s.Append(context.Background(), big...); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rec(1)); err != nil {
		t.Fatal(err)
	}
	// Append returns after the committer's last use of its arena.
	if kept := cap(s.arena); kept > 2*maxGroupBytes {
		t.Fatalf("the committer keeps a %d-byte arena after a 24 MiB call (bound %d)", kept, 2*maxGroupBytes)
	}
}
