package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// rewriteKey replaces, in every leaf page of the segment file at path, the
// key of record from with the key of record to, through a descriptor of
// its own (as damage would), and returns how many elements it changed. The
// leaf's keys are then out of order: bbolt's binary search (Seek, Get)
// stops at the changed element for every key between from and to.
func rewriteKey(t *testing.T, path string, from, to uint64) int {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ps := rawPageSize(f)
	var want, repl [keyLen]byte
	putKey(want[:], from)
	putKey(repl[:], to)
	page := make([]byte, ps)
	changed := 0
	for off := int64(0); off+int64(ps) <= info.Size(); off += int64(ps) {
		if _, err := f.ReadAt(page, off); err != nil {
			t.Fatal(err)
		}
		if le.Uint16(page[8:10])&rawLeafPageFlag == 0 {
			continue
		}
		for i := range int(le.Uint16(page[10:12])) {
			e := rawPageHeader + i*rawLeafElement
			if e+rawLeafElement > len(page) {
				break
			}
			pos, ksize := int(le.Uint32(page[e+4:])), int(le.Uint32(page[e+8:]))
			start := e + pos
			if le.Uint32(page[e:]) != 0 || ksize != keyLen || start+keyLen > len(page) || !bytes.Equal(page[start:start+keyLen], want[:]) {
				continue
			}
			if _, err := f.WriteAt(repl[:], off+int64(start)); err != nil {
				t.Fatal(err)
			}
			changed++
		}
	}
	return changed
}

// smallRecord is record id of the salvage tests: 16 bytes, so that a leaf
// page holds dozens.
func smallRecord(id uint64) []byte {
	r := make([]byte, 16)
	binary.BigEndian.PutUint64(r, id)
	binary.BigEndian.PutUint64(r[8:], ^id)
	return r
}

// TestSalvageSkipsAcknowledgedLeftInDamagedTree: a damaged leaf (one key
// rewritten, so the leaf's keys are out of order) makes bbolt's Seek miss
// the records an acknowledgement deletes: they stay in the tree although
// this process settled them. When the damage is then found and the segment
// salvaged, those records must not be copied as live: they would be
// delivered twice, and, counted as found, they would hide records that are
// really lost from the count of corrupt ones. (The daemon's damaged-segment
// test met this as "1 duplicate" and "10 lost, only 9 counted corrupt".)
func TestSalvageSkipsAcknowledgedLeftInDamagedTree(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := Open(ctx, dir, &Options{SegmentMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 60
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = smallRecord(uint64(i + 1))
	}
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	lease := func(max int) *Batch {
		t.Helper()
		b, err := s.Lease(ctx, max, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			for _, r := range b.Records {
				seen[binary.BigEndian.Uint64(r.Data)]++
			}
		}
		return b
	}
	first := lease(30) // records 1 to 30
	if first == nil || len(first.Records) != 30 {
		t.Fatalf("first lease: %v", first)
	}
	s.mu.Lock()
	path := s.active.path()
	s.mu.Unlock()
	// Record 9's key becomes one past the last: every Seek from 9 on in
	// its leaf stops there.
	if rewriteKey(t, path, 9, n+1000) == 0 {
		t.Fatal("record 9 not found in the file")
	}
	if err := first.Ack(ctx); err != nil && !errors.Is(err, ErrSettleDeferred) {
		t.Fatal(err)
	}
	// More damage: record 50's key goes the same way, so that record 50 is
	// lost (its key is past the last) and the next lease meets the damage:
	// the segment is salvaged, and what is live drains from the copy.
	if rewriteKey(t, path, 50, n+1000) == 0 {
		t.Fatal("record 50 not found in the file")
	}
	for range 100 {
		b := lease(100)
		if b == nil {
			break
		}
		if err := b.Ack(ctx); err != nil && !errors.Is(err, ErrSettleDeferred) && !errors.Is(err, ErrStaleBatch) {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	var dups []uint64
	lost := 0
	for id := uint64(1); id <= n; id++ {
		switch {
		case seen[id] > 1:
			dups = append(dups, id)
		case seen[id] == 0:
			lost++
		}
	}
	t.Logf("salvaged %d, corrupt %d, lost %d, delivered twice %v", st.SalvagedRecords, st.Dropped[ReasonCorrupt], lost, dups)
	if st.SalvagedRecords == 0 {
		t.Fatal("the damage was not found: no salvage")
	}
	if len(dups) > 0 {
		t.Errorf("acknowledged records handed out again after the salvage: %v", dups)
	}
	if uint64(lost) > st.Dropped[ReasonCorrupt] {
		t.Errorf("%d records lost, only %d counted corrupt", lost, st.Dropped[ReasonCorrupt])
	}
	if st.Records != 0 || st.Leased != 0 {
		t.Errorf("stats after the drain: %+v", st)
	}
}

// TestSalvageDuringSettleWrite: a segment is salvaged while a settle's
// transaction on it is being written (the settle decided, released the
// lock, and waits for bbolt's writer lock). The settle's outcome holds in
// this process from the moment Settle is called: the records it
// acknowledged must not be copied (handed out again), and the records it
// released for a retry with a delay wait for their delay in the copy,
// taken from the batch where the file's copies are damaged.
func TestSalvageDuringSettleWrite(t *testing.T) {
	for _, damaged := range []bool{false, true} {
		t.Run(fmt.Sprint("damaged=", damaged), func(t *testing.T) { salvageDuringSettleWrite(t, damaged) })
	}
}

// corruptValue flips a byte of the payload of record seq in every leaf
// page of the segment file at path, and returns how many copies it hit.
func corruptValue(t *testing.T, path string, seq uint64) int {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ps := rawPageSize(f)
	var want [keyLen]byte
	putKey(want[:], seq)
	page := make([]byte, ps)
	hit := 0
	for off := int64(0); off+int64(ps) <= info.Size(); off += int64(ps) {
		if _, err := f.ReadAt(page, off); err != nil {
			t.Fatal(err)
		}
		if le.Uint16(page[8:10])&rawLeafPageFlag == 0 {
			continue
		}
		for i := range int(le.Uint16(page[10:12])) {
			e := rawPageHeader + i*rawLeafElement
			if e+rawLeafElement > len(page) {
				break
			}
			pos, ksize, vsize := int(le.Uint32(page[e+4:])), int(le.Uint32(page[e+8:])), int(le.Uint32(page[e+12:]))
			start := e + pos
			if le.Uint32(page[e:]) != 0 || ksize != keyLen || vsize <= recordHeaderLen || start+keyLen+vsize > len(page) || !bytes.Equal(page[start:start+keyLen], want[:]) {
				continue
			}
			last := off + int64(start+keyLen+vsize-1)
			if _, err := f.WriteAt([]byte{^page[start+keyLen+vsize-1]}, last); err != nil {
				t.Fatal(err)
			}
			hit++
		}
	}
	return hit
}

func salvageDuringSettleWrite(t *testing.T, damaged bool) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	now := time.Unix(1_700_000_000, 0)
	var clock struct {
		sync.Mutex
		t time.Time
	}
	clock.t = now
	s, err := Open(ctx, dir, &Options{SegmentMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Clock: clockFunc(func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.t })})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := make([][]byte, 20)
	for i := range recs {
		recs[i] = smallRecord(uint64(i + 1))
	}
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	b, err := s.Lease(ctx, 10, 1<<20) // records 1 to 10
	if err != nil || b == nil || len(b.Records) != 10 {
		t.Fatalf("lease: %v, %v", b, err)
	}
	s.mu.Lock()
	g := s.active
	s.mu.Unlock()
	// Hold bbolt's writer lock: the settle decides, then waits to write.
	tx, err := g.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	settled := make(chan error, 1)
	go func() {
		// 1 and 2 retried after a minute, 3 dropped, the rest acknowledged.
		settled <- b.Settle(ctx, Outcome{Retry: []int{0, 1}, RetryDelay: []time.Duration{time.Minute, time.Minute},
			Dropped: map[string][]int{"test": {2}}})
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.mu.Lock()
		writing := g.writing
		s.mu.Unlock()
		if writing > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the settle never started its write")
		}
		time.Sleep(time.Millisecond)
	}
	if damaged && corruptValue(t, g.path(), 1) == 0 {
		t.Fatal("record 1 not found in the file")
	}
	s.mu.Lock()
	err = s.damagedLocked(g, errors.New("test: set aside during a settle"))
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	if err := <-settled; err != nil {
		t.Errorf("settle during the salvage = %v, want nil: its outcome holds", err)
	}
	seen := map[uint64]int{}
	drain := func() {
		for range 100 {
			b, err := s.Lease(ctx, 100, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				return
			}
			for _, r := range b.Records {
				seen[binary.BigEndian.Uint64(r.Data)]++
			}
			if err := b.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain()
	for id := uint64(1); id <= 20; id++ {
		want := 0
		if id > 10 {
			want = 1
		}
		if seen[id] != want {
			t.Errorf("record %d handed out %d times before the delay passed, want %d", id, seen[id], want)
		}
	}
	if st := s.Stats(); st.Delayed != 2 || st.Records != 2 || st.Leased != 0 {
		t.Errorf("stats while 2 records wait: %+v", st)
	}
	clock.Lock()
	clock.t = clock.t.Add(time.Minute)
	clock.Unlock()
	drain()
	for id := uint64(1); id <= 2; id++ {
		if seen[id] != 1 {
			t.Errorf("record %d handed out %d times after its delay, want 1", id, seen[id])
		}
	}
	if st := s.Stats(); st.Delayed != 0 || st.Records != 0 || st.Leased != 0 || st.Dropped["test"] != 1 {
		t.Errorf("stats after the drain: %+v", st)
	}
}

// TestSalvageKeepsRetryDelays: records waiting for a retry delay when
// their segment is salvaged (here its file is deleted while open) wait
// for the rest of their delay in the copy, counted in Stats.Delayed, and
// the records leased meanwhile move with their batch.
func TestSalvageKeepsRetryDelays(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	var clock struct {
		sync.Mutex
		t time.Time
	}
	clock.t = time.Unix(1_700_000_000, 0)
	advance := func(d time.Duration) {
		clock.Lock()
		clock.t = clock.t.Add(d)
		clock.Unlock()
	}
	s, err := Open(ctx, dir, &Options{SegmentMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Clock: clockFunc(func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.t })})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := make([][]byte, 30)
	for i := range recs {
		recs[i] = smallRecord(uint64(i + 1))
	}
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	ids := func(b *Batch) []uint64 {
		var out []uint64
		for _, r := range b.Records {
			out = append(out, binary.BigEndian.Uint64(r.Data))
		}
		return out
	}
	a, err := s.Lease(ctx, 10, 1<<20) // 1 to 10: 1 to 5 wait a minute, 6 to 10 ten minutes
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	delays := []time.Duration{time.Minute, time.Minute, time.Minute, time.Minute, time.Minute,
		10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if err := a.Settle(ctx, Outcome{Retry: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, RetryDelay: delays}); err != nil {
		t.Fatal(err)
	}
	held, err := s.Lease(ctx, 5, 1<<20) // 11 to 15, held across the salvage
	if err != nil || held == nil {
		t.Fatal(held, err)
	}
	s.mu.Lock()
	path := s.active.path()
	s.mu.Unlock()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.checkNamesLocked()
	s.mu.Unlock()
	if st := s.Stats(); st.SalvagedRecords != 30 || st.Delayed != 10 || st.Leased != 5 || st.Records != 30 {
		t.Fatalf("stats after the salvage: %+v", st)
	}
	var got []uint64
	for {
		b, err := s.Lease(ctx, 100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		got = append(got, ids(b)...)
		if err := b.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 15 || got[0] != 16 {
		t.Errorf("before any delay passed, handed out %v; want 16 to 30", got)
	}
	if err := held.Ack(ctx); err != nil {
		t.Errorf("ack of the batch moved by the salvage: %v", err)
	}
	advance(time.Minute)
	b, err := s.Lease(ctx, 100, 1<<20)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	if got := ids(b); len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Errorf("after a minute, handed out %v; want 1 to 5", got)
	}
	for _, r := range b.Records {
		if r.Attempts != 1 {
			t.Errorf("attempts after the salvage = %d, want 1", r.Attempts)
		}
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Delayed != 5 || st.Records != 5 || st.Leased != 0 || !st.NextDue.Equal(clock.t.Add(9*time.Minute)) {
		t.Errorf("stats while 5 wait: %+v", st)
	}
	advance(9 * time.Minute)
	b, err = s.Lease(ctx, 100, 1<<20)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	if got := ids(b); len(got) != 5 || got[0] != 6 {
		t.Errorf("after ten minutes, handed out %v; want 6 to 10", got)
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Delayed != 0 || st.Records != 0 || st.Leased != 0 {
		t.Errorf("stats after the drain: %+v", st)
	}
}

// TestSalvageTakenOverSegment: a segment taken over from a process that
// exited (its active segment, where acknowledged records were deleted) is
// found damaged. The raw scan of its pages finds stale copies of records
// the other process acknowledged: they must not come back, and the record
// the damage destroyed is counted as corrupt.
func TestSalvageTakenOverSegment(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	o := &Options{SegmentMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler)}
	s, err := Open(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i += 20 {
		recs := make([][]byte, 20)
		for j := range recs {
			recs[j] = smallRecord(uint64(i + j + 1))
		}
		if err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	// The first process acknowledges 1 to 120 (deleted from its active
	// segment) and 161 to 170 (a hole), and exits.
	acked := map[uint64]bool{}
	var batches []*Batch
	for range 9 {
		b, err := s.Lease(ctx, 20, 1<<20)
		if err != nil || b == nil {
			t.Fatal(b, err)
		}
		batches = append(batches, b)
	}
	for _, b := range slices.Backward(batches) {
		var retry []int
		for i, r := range b.Records {
			id := binary.BigEndian.Uint64(r.Data)
			if id > 120 && id <= 160 || id > 170 {
				retry = append(retry, i)
				continue
			}
			acked[id] = true
		}
		if err := b.Settle(ctx, Outcome{Retry: retry}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[uint64]int{}
	lease := func() *Batch {
		t.Helper()
		b, err := s.Lease(ctx, 5, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			for _, r := range b.Records {
				seen[binary.BigEndian.Uint64(r.Data)]++
			}
		}
		return b
	}
	b := lease() // takes the segment over: 121 to 125, held until the end
	s.mu.Lock()
	path := b.g.path()
	dense := b.g.dense
	s.mu.Unlock()
	if dense {
		t.Fatal("the segment taken over counts as created by this process")
	}
	// Record 150's key is damaged: it is past the last, and lost.
	if rewriteKey(t, path, 150, 10_000) == 0 {
		t.Fatal("record 150 not found in the file")
	}
	held := []*Batch{b}
	for range 100 {
		b := lease()
		if b == nil {
			break
		}
		held = append(held, b)
	}
	for _, b := range held {
		if err := b.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b := lease(); b != nil {
		t.Errorf("after the drain, leased %d more", len(b.Records))
	}
	st := s.Stats()
	var again []uint64
	lost := 0
	for id := uint64(1); id <= n; id++ {
		switch {
		case acked[id] && seen[id] > 0, seen[id] > 1:
			again = append(again, id)
		case !acked[id] && seen[id] == 0:
			lost++
		}
	}
	t.Logf("salvaged %d, corrupt %d, lost %d, handed out again %v", st.SalvagedRecords, st.Dropped[ReasonCorrupt], lost, again)
	if st.SalvagedRecords == 0 {
		t.Fatal("the damage was not found: no salvage")
	}
	if len(again) > 0 {
		t.Errorf("records acknowledged before the salvage handed out again: %v", again)
	}
	if uint64(lost) > st.Dropped[ReasonCorrupt] || lost > 1 {
		t.Errorf("%d records lost, %d counted corrupt; want only record 150", lost, st.Dropped[ReasonCorrupt])
	}
}
