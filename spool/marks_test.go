package spool

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aispool/aispool/internal/testkit"
)

func TestSeqRangesWith(t *testing.T) {
	tests := []struct {
		name string
		m    seqRanges
		add  []uint64
		want seqRanges
	}{
		{"empty", nil, nil, seqRanges{}},
		{"one run", nil, []uint64{1, 2, 3}, seqRanges{{1, 3}}},
		{"two runs", nil, []uint64{1, 2, 5, 6, 7}, seqRanges{{1, 2}, {5, 7}}},
		{"joins the range before", seqRanges{{1, 10}}, []uint64{11, 12}, seqRanges{{1, 12}}},
		{"joins the range after", seqRanges{{5, 10}}, []uint64{3, 4}, seqRanges{{3, 10}}},
		{"fills a hole", seqRanges{{1, 4}, {6, 9}}, []uint64{5}, seqRanges{{1, 9}}},
		{"between, apart", seqRanges{{1, 2}, {10, 11}}, []uint64{5, 6}, seqRanges{{1, 2}, {5, 6}, {10, 11}}},
		{"before all", seqRanges{{10, 11}}, []uint64{1}, seqRanges{{1, 1}, {10, 11}}},
		{"after all", seqRanges{{1, 2}}, []uint64{7, 9}, seqRanges{{1, 2}, {7, 7}, {9, 9}}},
		{"out-of-order batches", seqRanges{{11, 20}}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, seqRanges{{1, 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.m)
			got := tt.m.with(tt.add)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("%v.with(%v) = %v, want %v", tt.m, tt.add, got, tt.want)
			}
			if !slices.Equal(tt.m, before) {
				t.Fatalf("with modified its receiver: %v, was %v", tt.m, before)
			}
			if got.count() != tt.m.count()+uint64(len(tt.add)) {
				t.Fatalf("count %d, want %d", got.count(), tt.m.count()+uint64(len(tt.add)))
			}
		})
	}
}

func TestSeqRangesSkipAndContains(t *testing.T) {
	m := seqRanges{{3, 5}, {8, 8}, {10, 20}}
	tests := []struct {
		seq      uint64
		contains bool
		skip     uint64
	}{
		{1, false, 1}, {3, true, 6}, {5, true, 6}, {6, false, 6}, {8, true, 9}, {9, false, 9}, {15, true, 21}, {21, false, 21},
	}
	for _, tt := range tests {
		if got := m.contains(tt.seq); got != tt.contains {
			t.Errorf("contains(%d) = %v, want %v", tt.seq, got, tt.contains)
		}
		if got := m.skip(tt.seq); got != tt.skip {
			t.Errorf("skip(%d) = %d, want %d", tt.seq, got, tt.skip)
		}
	}
}

func TestDecodeMarks(t *testing.T) {
	enc := func(rs ...uint64) []byte { return seqRanges(pairs(rs)).encode() }
	tests := []struct {
		name string
		v    []byte
		want seqRanges
		bad  bool
	}{
		{"absent", nil, seqRanges{}, false},
		{"one", enc(1, 10), seqRanges{{1, 10}}, false},
		{"two", enc(1, 10, 12, 12), seqRanges{{1, 10}, {12, 12}}, false},
		{"ragged length", enc(1, 10)[:15], nil, true},
		{"starts at zero", enc(0, 10), nil, true},
		{"reversed", enc(5, 4), nil, true},
		{"overlapping", enc(1, 10, 10, 12), nil, true},
		{"adjacent", enc(1, 10, 11, 12), nil, true},
		{"out of order", enc(20, 30, 1, 2), nil, true},
		{"after the largest", enc(1, 1<<64-1, 5, 6), nil, true},
		{"ends at the largest", enc(3, 1<<64-1), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMarks(tt.v)
			if tt.bad {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decodeMarks = %v, %v; want ErrCorrupt", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("decodeMarks = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func pairs(rs []uint64) []seqRange {
	var out []seqRange
	for i := 0; i+1 < len(rs); i += 2 {
		out = append(out, seqRange{rs[i], rs[i+1]})
	}
	return out
}

// FuzzDecodeMarks: whatever decodes re-encodes to the same bytes and is a
// well-formed set.
func FuzzDecodeMarks(f *testing.F) {
	f.Add(seqRanges{{1, 10}, {12, 40}}.encode())
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, v []byte) {
		m, err := decodeMarks(v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(m.encode(), v) {
			t.Fatalf("%x decodes to %v, which encodes to %x", v, m, m.encode())
		}
		for i, r := range m {
			if r.lo == 0 || r.lo > r.hi || r.hi == 1<<64-1 || (i > 0 && r.lo-1 <= m[i-1].hi) {
				t.Fatalf("decoded set is malformed: %v", m)
			}
		}
	})
}

// oneSealedSegment appends n records rec(0)..rec(n-1) into one segment, closes
// the spool (sealing it) and opens it again as a drainer would.
func oneSealedSegment(t *testing.T, n int) (*Spool, string) {
	t.Helper()
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	var recs [][]byte
	for i := range n {
		recs = append(recs, rec(i))
	}
	mustAppend(t, s, recs...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := listSegments(dir)
	if err != nil || len(files) != 1 || files[0].ext != extSealed {
		t.Fatalf("want one sealed segment, got %v (%v)", files, err)
	}
	return openTest(t, dir, nil), filepath.Join(dir, files[0].name())
}

// readSegmentFile returns the keys of a segment file's records bucket and
// its stored marks. The file must not be open.
func readSegmentFile(t *testing.T, path string) (keys []uint64, marks seqRanges) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bucketRecords).ForEach(func(k, _ []byte) error {
			seq, _ := keySeq(k)
			keys = append(keys, seq)
			return nil
		})
		var err error
		marks, err = decodeMarks(tx.Bucket(bucketMeta).Get(metaSettled))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, marks
}

// In a sealed segment, settled records are marked, not deleted: the file
// keeps their keys, yet after a restart only the live ones come out, with
// their attempt counts, and Inspect counts only them.
func TestSealedSegmentSettlesAreMarked(t *testing.T) {
	ctx := context.Background()
	s, path := oneSealedSegment(t, 30)
	a := mustLease(t, s, 10) // seqs 1..10
	b := mustLease(t, s, 10) // seqs 11..20
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// Records 0 and 5 of a (seqs 1 and 6) are kept for another try; 9 is
	// dropped.
	if err := a.Settle(ctx, Outcome{Retry: []int{0, 5}, Dropped: map[string][]int{"status_400": {9}}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Records != 12 || st.Leased != 0 {
		t.Fatalf("Stats: %d records, %d leased; want 12, 0", st.Records, st.Leased)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keys, marks := readSegmentFile(t, path)
	if len(keys) != 30 {
		t.Fatalf("the file holds %d keys, want all 30 (settles mark, they do not delete)", len(keys))
	}
	if want := (seqRanges{{2, 5}, {7, 20}}); !slices.Equal(marks, want) {
		t.Fatalf("marks %v, want %v", marks, want)
	}
	r, err := Inspect(ctx, filepath.Dir(path), 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 12 || len(r.Peek) != 3 || string(r.Peek[0].Data) != `{"n":0}` || string(r.Peek[1].Data) != `{"n":5}` || string(r.Peek[2].Data) != `{"n":20}` {
		t.Fatalf("Inspect: %d records, peek %+v", r.Records, r.Peek)
	}

	s2 := openTest(t, filepath.Dir(path), nil)
	c := mustLease(t, s2, 100)
	want := []string{`{"n":0}`, `{"n":5}`}
	for i := 20; i < 30; i++ {
		want = append(want, string(rec(i)))
	}
	if got := data(c); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
	if c.Records[0].Attempts != 1 || c.Records[1].Attempts != 1 || c.Records[2].Attempts != 0 {
		t.Fatalf("attempts %d %d %d, want 1 1 0", c.Records[0].Attempts, c.Records[1].Attempts, c.Records[2].Attempts)
	}
	if err := c.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if files, _ := listSegments(filepath.Dir(path)); len(files) != 1 || files[0].ext != extActive {
		t.Fatalf("after the last ack the segment must be gone: %v", files)
	}
}

// A settle that would split the marks into more than maxMarkRanges ranges
// deletes its records instead; the outcome is the same.
func TestManyRangesFallBackToDeletes(t *testing.T) {
	ctx := context.Background()
	n := 2*maxMarkRanges + 40
	s, path := oneSealedSegment(t, n)
	b := mustLease(t, s, n)
	var retry []int
	for i := 0; i < n; i += 2 {
		retry = append(retry, i)
	}
	if err := b.Settle(ctx, Outcome{Retry: retry}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keys, marks := readSegmentFile(t, path)
	if len(marks) > maxMarkRanges {
		t.Fatalf("%d ranges stored, more than %d", len(marks), maxMarkRanges)
	}
	if len(keys) != n/2 {
		t.Fatalf("the file holds %d keys, want %d (the settled ones deleted)", len(keys), n/2)
	}
	s2 := openTest(t, filepath.Dir(path), nil)
	c := mustLease(t, s2, n)
	if len(c.Records) != n/2 {
		t.Fatalf("after reopen %d records, want %d", len(c.Records), n/2)
	}
	for j, r := range c.Records {
		if string(r.Data) != string(rec(2*j)) || r.Attempts != 1 {
			t.Fatalf("record %d: %s (attempts %d), want %s (1)", j, r.Data, r.Attempts, rec(2*j))
		}
	}
}

// A segment whose stored marks are malformed cannot be trusted to say
// which records are gone: it is quarantined, its records counted as
// corrupt, and the rest of the spool flows.
func TestMalformedMarksQuarantined(t *testing.T) {
	dir, first, _ := sealedSpool(t, 5)
	db, err := bolt.Open(first, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSettled, []byte("not ranges"))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(context.Background(), dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Segments[0].Error == "" || !strings.Contains(r.Segments[0].Error, "settled ranges") || r.RecordsExact || r.Records != 5 {
		t.Fatalf("Inspect: first segment error %q, %d records (exact %v); want the marks named, only the second's 5 counted",
			r.Segments[0].Error, r.Records, r.RecordsExact)
	}
	s := openTest(t, dir, nil)
	got := drainAll(t, s)
	if countPrefix(got, "first-") != 0 || countPrefix(got, "second-") != 5 {
		t.Fatalf("drained %v: want only the second segment's 5 records", got)
	}
	if q := quarantined(t, dir); len(q) != 1 {
		t.Fatalf("quarantine holds %v, want the first segment", q)
	}
}

// A settle whose transaction fails holds in this process (never handed out
// again), is written by Close once writing works, and otherwise comes back
// after a restart (at least once).
func TestDeferredSettleWrittenAtClose(t *testing.T) {
	for _, tt := range []struct {
		name        string
		heals       bool // writing works again before Close
		wantAfter   int  // records handed out after reopening
		wantFirstID int
	}{
		{"written at close", true, 20, 10},
		{"still failing at close", false, 30, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, path := oneSealedSegment(t, 30)
			injected := errors.New("injected I/O error")
			s.mu.Lock()
			s.failPersist = injected
			s.mu.Unlock()
			b := mustLease(t, s, 10)
			if err := b.Ack(ctx); !errors.Is(err, ErrSettleDeferred) || !errors.Is(err, injected) {
				t.Fatalf("Ack = %v, want ErrSettleDeferred wrapping the write error", err)
			}
			if st := s.Stats(); st.Records != 20 || st.Acked != 10 {
				t.Fatalf("Stats: %d records, %d acked; want 20, 10", st.Records, st.Acked)
			}
			c := mustLease(t, s, 100)
			if got := data(c); len(got) != 20 || got[0] != string(rec(10)) {
				t.Fatalf("after a deferred ack, lease = %v: want records 10..29 only", got)
			}
			if err := c.Nack(ctx); !errors.Is(err, ErrSettleDeferred) {
				t.Fatalf("Nack = %v, want ErrSettleDeferred", err)
			}
			if tt.heals {
				s.mu.Lock()
				s.failPersist = nil
				s.mu.Unlock()
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := openTest(t, filepath.Dir(path), nil)
			d := mustLease(t, s2, 100)
			if got := data(d); len(got) != tt.wantAfter || got[0] != string(rec(tt.wantFirstID)) {
				t.Fatalf("after reopen: %v, want %d records from %d", got, tt.wantAfter, tt.wantFirstID)
			}
		})
	}
}

// Drainers settling batches of one sealed segment concurrently, out of
// order and with retries: every record is acknowledged exactly once, and
// nothing comes back after a restart.
func TestConcurrentSettlesOfSealedSegment(t *testing.T) {
	const n = 5000
	ctx := context.Background()
	s, path := oneSealedSegment(t, n)
	var mu sync.Mutex
	acked := make(map[string]int, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := 0; ; round++ {
				b, err := s.Lease(ctx, 1+(w*37+round)%150, 1<<20)
				if err != nil {
					t.Error(err)
					return
				}
				if b == nil {
					return
				}
				var retry []int
				mu.Lock()
				for i, r := range b.Records {
					if (i+round+w)%7 == 0 && r.Attempts < 2 {
						retry = append(retry, i)
						continue
					}
					acked[string(r.Data)]++
				}
				mu.Unlock()
				if err := b.Settle(ctx, Outcome{Retry: retry}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(acked) != n {
		t.Fatalf("%d distinct records acknowledged, want %d", len(acked), n)
	}
	for d, c := range acked {
		if c != 1 {
			t.Fatalf("%s acknowledged %d times", d, c)
		}
	}
	if st := s.Stats(); st.Records != 0 || st.Leased != 0 || st.Acked != n {
		t.Fatalf("Stats: %d records, %d leased, %d acked", st.Records, st.Leased, st.Acked)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, filepath.Dir(path), nil)
	if b := mustLease(t, s2, n); b != nil {
		t.Fatalf("%d records came back after a restart", len(b.Records))
	}
}

// A write transaction that panicked on a damaged file can leave bbolt's
// writer lock held for good (see closeDBLocked): the segment is wedged.
// Neither a later settle nor Close may wait for that lock, nor for a settle
// stuck behind it. An Update that does not return until the test says so
// stands for the lock held for good.
func TestWedgedSegmentBlocksNeitherSettleNorClose(t *testing.T) {
	ctx := context.Background()
	s, _ := oneSealedSegment(t, 30)
	a, b := mustLease(t, s, 10), mustLease(t, s, 10)
	g := a.g
	release := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = g.db.Update(func(*bolt.Tx) error { close(held); <-release; return errors.New("rolled back") })
	}()
	<-held
	aDone := make(chan error, 1)
	go func() { aDone <- a.Ack(ctx) }() // takes the segment's writer lock, then waits for bbolt's
	testkit.Eventually(t, 5*time.Second, "the first settle to start its transaction", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return g.writing > 0
	})
	s.mu.Lock()
	g.wedged = true // what a panicking transaction leaves
	s.mu.Unlock()

	within := func(what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s waits for the wedged segment", what)
			return nil
		}
	}
	if err := within("a settle", func() error { return b.Ack(ctx) }); !errors.Is(err, ErrSettleDeferred) {
		t.Fatalf("Ack on a wedged segment = %v, want ErrSettleDeferred", err)
	}
	if st := s.Stats(); st.Acked != 20 || st.Records != 10 {
		t.Fatalf("Stats: %d acked, %d records; want 20 (both settles hold in this process), 10", st.Acked, st.Records)
	}
	_ = within("Close", s.Close)
	close(release)
	select {
	case <-aDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the first settle did not end once the writer lock was released")
	}
}
