package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string, o *Options) *Spool {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rec(i int) []byte { return []byte(fmt.Sprintf(`{"n":%d}`, i)) }

func mustAppend(t *testing.T, s *Spool, recs ...[]byte) {
	t.Helper()
	if err := s.Append(context.Background(), recs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func mustLease(t *testing.T, s *Spool, n int) *Batch {
	t.Helper()
	b, err := s.Lease(context.Background(), n, 1<<30)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return b
}

func data(b *Batch) []string {
	if b == nil {
		return nil
	}
	var out []string
	for _, r := range b.Records {
		out = append(out, string(r.Data))
	}
	return out
}

func TestAppendLeaseAckFIFO(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	for i := range 10 {
		mustAppend(t, s, rec(i))
	}
	b := mustLease(t, s, 4)
	if got := strings.Join(data(b), ","); got != `{"n":0},{"n":1},{"n":2},{"n":3}` {
		t.Fatalf("first lease = %s", got)
	}
	b2 := mustLease(t, s, 100)
	if len(b2.Records) != 6 || string(b2.Records[0].Data) != `{"n":4}` {
		t.Fatalf("second lease = %v", data(b2))
	}
	if b3 := mustLease(t, s, 100); b3 != nil {
		t.Fatalf("leased records were handed out again: %v", data(b3))
	}
	if err := b.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(context.Background()); !errors.Is(err, ErrStaleBatch) {
		t.Fatalf("second Ack = %v, want ErrStaleBatch", err)
	}
	if err := b2.Nack(context.Background()); err != nil {
		t.Fatal(err)
	}
	b4 := mustLease(t, s, 100)
	if len(b4.Records) != 6 || b4.Records[0].Attempts != 1 {
		t.Fatalf("after Nack: %v attempts %d", data(b4), b4.Records[0].Attempts)
	}
	st := s.Stats()
	if st.Records != 6 || st.Leased != 6 || st.Acked != 4 || st.Retried != 6 || st.Appended != 10 {
		t.Fatalf("stats = %+v", st)
	}
	if st.Oldest.IsZero() {
		t.Fatal("Oldest is zero with records stored")
	}
}

func TestSettlePartialOutcome(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	for i := range 6 {
		mustAppend(t, s, rec(i))
	}
	b := mustLease(t, s, 6)
	err := b.Settle(context.Background(), Outcome{
		Retry:   []int{1, 4},
		Dropped: map[string][]int{ReasonRejected: {2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b2 := mustLease(t, s, 10)
	if got := strings.Join(data(b2), ","); got != `{"n":1},{"n":4}` {
		t.Fatalf("kept for retry = %s", got)
	}
	for _, r := range b2.Records {
		if r.Attempts != 1 {
			t.Fatalf("attempts = %d, want 1", r.Attempts)
		}
	}
	st := s.Stats()
	if st.Dropped[ReasonRejected] != 1 || st.Acked != 3 || st.Records != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSettleRejectsBadOutcome(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	mustAppend(t, s, rec(1), rec(2))
	b := mustLease(t, s, 2)
	for _, o := range []Outcome{
		{Retry: []int{2}},
		{Retry: []int{-1}},
		{Retry: []int{0}, Dropped: map[string][]int{"x": {0}}},
		{Dropped: map[string][]int{"": {1}}},
	} {
		if err := b.Settle(context.Background(), o); err == nil {
			t.Fatalf("Settle(%+v) = nil, want an error", o)
		}
	}
	if err := b.Ack(context.Background()); err != nil {
		t.Fatalf("a refused outcome must leave the batch usable: %v", err)
	}
}

func TestReopenRedeliversUnacked(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	for i := range 5 {
		mustAppend(t, s, rec(i))
	}
	b := mustLease(t, s, 2)
	if err := b.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = mustLease(t, s, 2) // leased, never settled
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rec(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Lease(context.Background(), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lease after Close = %v", err)
	}
	s2 := openTest(t, dir, nil)
	b2 := mustLease(t, s2, 10)
	if got := strings.Join(data(b2), ","); got != `{"n":2},{"n":3},{"n":4}` {
		t.Fatalf("after reopen = %s", got)
	}
	if err := b2.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := mustLease(t, s2, 10); b != nil {
		t.Fatalf("acked records came back: %v", data(b))
	}
}

func TestBadRecordsRefused(t *testing.T) {
	s := openTest(t, t.TempDir(), &Options{MaxRecordBytes: 100})
	err := s.Append(context.Background(), rec(1), nil)
	var re *RecordError
	if !errors.As(err, &re) || re.Index != 1 || !errors.Is(err, ErrEmptyRecord) {
		t.Fatalf("empty record: %v", err)
	}
	err = s.Append(context.Background(), bytes.Repeat([]byte("x"), 101))
	if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "100") {
		t.Fatalf("large record: %v", err)
	}
	mustAppend(t, s, rec(7))
	if got := data(mustLease(t, s, 10)); len(got) != 1 || got[0] != `{"n":7}` {
		t.Fatalf("refused records leaked in, or good one lost: %v", got)
	}
}

func TestLeaseByteLimit(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	big := bytes.Repeat([]byte("a"), 1000)
	for range 5 {
		mustAppend(t, s, big)
	}
	b, err := s.Lease(context.Background(), 100, 2500)
	if err != nil || len(b.Records) != 2 {
		t.Fatalf("lease by bytes: %v, %d records", err, len(b.Records))
	}
	b, err = s.Lease(context.Background(), 100, 10)
	if err != nil || len(b.Records) != 1 {
		t.Fatalf("a lease always takes one record: %v %v", err, b)
	}
}

func TestExpiredRecordsDropped(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openTest(t, t.TempDir(), &Options{MaxAge: time.Hour, Clock: clockFunc(clock)})
	mustAppend(t, s, rec(1), rec(2))
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	mustAppend(t, s, rec(3))
	got := data(mustLease(t, s, 10))
	if len(got) != 1 || got[0] != `{"n":3}` {
		t.Fatalf("lease = %v", got)
	}
	if d := s.Stats().Dropped[ReasonExpired]; d != 2 {
		t.Fatalf("expired = %d, want 2", d)
	}
}

func TestUnsafeDirRefused(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{link, "symlink"},
		{open, "chmod 700"},
		{file, "not a directory"},
	} {
		_, err := Open(context.Background(), tc.dir, nil)
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want ErrUnsafeDir mentioning %q", tc.dir, err, tc.want)
		}
	}
}

func TestDirAndFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "spool")
	s := openTest(t, dir, nil)
	mustAppend(t, s, rec(1))
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v", info.Mode(), err)
	}
	files, _ := listSegments(dir)
	if len(files) != 1 {
		t.Fatalf("segments = %v", files)
	}
	fi, err := os.Stat(filepath.Join(dir, files[0].name()))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode = %v, %v", fi.Mode(), err)
	}
}

func TestSecondOpenerOfActiveSegment(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	mustAppend(t, s, rec(1))
	files, _ := listSegments(dir)
	done := make(chan error, 1)
	go func() {
		_, err := openSegment(dir, files[0], DefaultSegmentMaxBytes)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second opener: %v, want ErrLocked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second opener hangs")
	}
	// A second Spool on the same directory works on its own segment and,
	// draining, cannot take the first one's active segment.
	s2 := openTest(t, dir, nil)
	if b := mustLease(t, s2, 10); b != nil {
		t.Fatalf("second spool leased a live process's active segment: %v", data(b))
	}
}

func TestSealedSegmentsDrainedAndDeleted(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 64 << 20}
	s := openTest(t, dir, o)
	payload := bytes.Repeat([]byte("z"), 4000)
	for range 300 { // ~1.2 MB: several segments
		mustAppend(t, s, payload)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := listSegments(dir)
	if len(files) < 3 {
		t.Fatalf("expected several sealed segments, got %d", len(files))
	}
	for _, f := range files {
		if f.ext != extSealed {
			t.Fatalf("after Close, %s is not sealed", f.name())
		}
	}
	d := openTest(t, dir, o)
	n := 0
	for {
		b := mustLease(t, d, 50)
		if b == nil {
			break
		}
		n += len(b.Records)
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 300 {
		t.Fatalf("drained %d, want 300", n)
	}
	files, _ = listSegments(dir)
	if len(files) != 1 || files[0].ext != extActive {
		t.Fatalf("after full drain: %v (want only the drainer's active segment)", files)
	}
}

func TestDropOldestWhenFull(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 4 * minSegmentBytes}
	s := openTest(t, dir, o)
	payload := bytes.Repeat([]byte("q"), 4000)
	for i := range 1000 {
		if err := s.Append(context.Background(), payload); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.Bytes > o.MaxBytes {
		t.Fatalf("bytes %d over MaxBytes %d", st.Bytes, o.MaxBytes)
	}
	if st.Dropped[ReasonFull] == 0 {
		t.Fatal("nothing counted as dropped for full")
	}
	// Conservation: what is left plus what was dropped is what was appended.
	n := 0
	for {
		b := mustLease(t, s, 500)
		if b == nil {
			break
		}
		n += len(b.Records)
		_ = b.Ack(context.Background())
	}
	if uint64(n)+s.Stats().Dropped[ReasonFull] != 1000 {
		t.Fatalf("left %d + dropped %d != 1000", n, s.Stats().Dropped[ReasonFull])
	}
}

func TestRejectNewWhenFull(t *testing.T) {
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 4 * minSegmentBytes, Policy: RejectNew}
	s := openTest(t, t.TempDir(), o)
	payload := bytes.Repeat([]byte("q"), 4000)
	var full error
	for i := range 1000 {
		if err := s.Append(context.Background(), payload); err != nil {
			full = err
			break
		}
		_ = i
	}
	if !errors.Is(full, ErrFull) {
		t.Fatalf("want ErrFull, got %v", full)
	}
	if s.Stats().Dropped[ReasonFull] != 0 {
		t.Fatal("RejectNew dropped records")
	}
}

// Under RejectNew a full spool is not ready from the refusal on, and ready
// again by itself once draining freed space, without an append.
func TestRejectNewReadyAgainAfterDrain(t *testing.T) {
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 4 * minSegmentBytes, Policy: RejectNew, SegmentMaxAge: time.Hour}
	s := openTest(t, t.TempDir(), o)
	payload := bytes.Repeat([]byte("q"), 4000)
	appended := 0
	for range 1000 {
		if err := s.Append(context.Background(), payload); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatal(err)
			}
			break
		}
		appended++
	}
	if err := s.Ready(); !errors.Is(err, ErrFull) {
		t.Fatalf("Ready of a full spool under RejectNew = %v, want ErrFull", err)
	}
	drained := len(drainAll(t, s))
	if drained != appended {
		t.Fatalf("drained %d of %d", drained, appended)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready after the drain = %v", err)
	}
	mustAppend(t, s, payload)
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []Options{
		{MaxBytes: -1},
		{MaxAge: -time.Second},
		{Policy: 7},
		{MaxBytes: 1 << 20, SegmentMaxBytes: 1 << 20},
	} {
		if _, err := Open(context.Background(), t.TempDir(), &o); err == nil {
			t.Errorf("Open with %+v succeeded", o)
		}
	}
}

func TestConcurrentAppendersAndReader(t *testing.T) {
	s := openTest(t, t.TempDir(), &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 1 << 30})
	const writers, per = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Append(context.Background(), []byte(fmt.Sprintf("%d-%d", w, i))); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	seen := make(map[string]bool)
	lastPer := make(map[string]int)
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < writers*per && time.Now().Before(deadline) {
		b, err := s.Lease(context.Background(), 64, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			select {
			case <-s.Notify():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		for _, r := range b.Records {
			k := string(r.Data)
			if seen[k] {
				t.Fatalf("duplicate %s", k)
			}
			seen[k] = true
			var w, i int
			fmt.Sscanf(k, "%d-%d", &w, &i)
			if p, ok := lastPer[fmt.Sprint(w)]; ok && i <= p {
				t.Fatalf("writer %d out of order: %d after %d", w, i, p)
			}
			lastPer[fmt.Sprint(w)] = i
		}
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(seen) != writers*per {
		t.Fatalf("read %d of %d", len(seen), writers*per)
	}
}

// A producer and a drainer share one directory, as an application and the
// daemon do: the drainer receives everything, in order, while the producer
// keeps appending, and takes over the producer's last segment once the
// producer has closed.
func TestProducerAndDrainerShareDirectory(t *testing.T) {
	dir := t.TempDir()
	prod := openTest(t, dir, &Options{SegmentMaxAge: 50 * time.Millisecond})
	drain := openTest(t, dir, nil)
	const total = 300
	go func() {
		for i := range total {
			if err := prod.Append(context.Background(), rec(i)); err != nil {
				t.Errorf("append: %v", err)
				return
			}
			if i%50 == 0 {
				time.Sleep(60 * time.Millisecond) // let segments seal by age
			}
		}
	}()
	next := 0
	deadline := time.Now().Add(20 * time.Second)
	for next < total && time.Now().Before(deadline) {
		b := mustLease(t, drain, 100)
		if b == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, r := range b.Records {
			if string(r.Data) != string(rec(next)) {
				t.Fatalf("got %s, want %s", r.Data, rec(next))
			}
			next++
		}
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if next != total {
		t.Fatalf("drained %d of %d", next, total)
	}
	if err := prod.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := listSegments(dir)
	if len(files) != 1 {
		t.Fatalf("after the drain: %v, want only the drainer's active segment", files)
	}
}

func TestReady(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Close = %v", err)
	}
}
