package spool

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A record retried with a delay is held back until its delay has passed
// while the records after it keep flowing, comes back with its attempt count,
// keeps its sealed segment from being removed while it waits, and is counted
// in Stats.Delayed, not Stats.Leased.
func TestRetryDelayHoldsBackOnlyTheRecord(t *testing.T) {
	clk := &manualClock{t: time.Now()}
	s := openTest(t, t.TempDir(), &Options{Clock: clk})
	ctx := context.Background()
	for i := range 6 {
		mustAppend(t, s, rec(i))
	}
	s.mu.Lock()
	if err := s.sealLocked(s.active); err != nil {
		t.Fatal(err)
	}
	if err := s.newActiveLocked(); err != nil {
		t.Fatal(err)
	}
	s.mu.Unlock()

	b := mustLease(t, s, 3) // 0, 1, 2
	if err := b.Settle(ctx, Outcome{Retry: []int{0, 1}, RetryDelay: []time.Duration{time.Minute, 0}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Delayed != 1 || st.Leased != 0 || st.Records != 5 {
		t.Fatalf("after settle: delayed %d leased %d records %d, want 1 0 5", st.Delayed, st.Leased, st.Records)
	}
	// 1 (retried at once) comes first, then the records after it: not 0.
	b = mustLease(t, s, 100)
	if got := strings.Join(data(b), ","); got != `{"n":1},{"n":3},{"n":4},{"n":5}` {
		t.Fatalf("lease before the delay = %s", got)
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if b := mustLease(t, s, 100); b != nil {
		t.Fatalf("a delayed record was handed out early: %v", data(b))
	}
	if st := s.Stats(); st.Segments != 2 || st.Records != 1 {
		t.Fatalf("the sealed segment holding the delayed record: segments %d records %d, want 2 1", st.Segments, st.Records)
	}
	clk.add(59 * time.Second)
	if b := mustLease(t, s, 100); b != nil {
		t.Fatalf("handed out one second early: %v", data(b))
	}
	clk.add(time.Second)
	b = mustLease(t, s, 100)
	if got := strings.Join(data(b), ","); got != `{"n":0}` || b.Records[0].Attempts != 1 {
		t.Fatalf("lease when due = %s (attempts %d), want {\"n\":0} with 1 attempt", got, b.Records[0].Attempts)
	}
	if st := s.Stats(); st.Delayed != 0 || st.Leased != 1 {
		t.Fatalf("when due: delayed %d leased %d", st.Delayed, st.Leased)
	}
	if err := b.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 1 {
		t.Fatalf("drained: records %d segments %d, want 0 and the active one", st.Records, st.Segments)
	}
}

// Notify fires when a delayed record comes due, so that a drainer waiting on
// it needs no polling.
func TestRetryDelayNotifies(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	ctx := context.Background()
	mustAppend(t, s, rec(0))
	b := mustLease(t, s, 1)
	start := time.Now()
	if err := b.Settle(ctx, Outcome{Retry: []int{0}, RetryDelay: []time.Duration{100 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		if b := mustLease(t, s, 1); b != nil {
			if waited := time.Since(start); waited < 100*time.Millisecond {
				t.Fatalf("handed out after %v, before its 100ms delay", waited)
			}
			return
		}
		select {
		case <-s.Notify():
		case <-deadline:
			t.Fatal("no notification within 10s of a 100ms delay")
		}
	}
}

// A restart forgets delays: the record is handed out at once (at least
// once), and nothing is lost.
func TestRetryDelayForgottenByRestart(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	ctx := context.Background()
	mustAppend(t, s, rec(0), rec(1))
	b := mustLease(t, s, 2)
	if err := b.Settle(ctx, Outcome{Retry: []int{1}, RetryDelay: []time.Duration{time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	b = mustLease(t, s, 10)
	if got := strings.Join(data(b), ","); got != `{"n":1}` || b.Records[0].Attempts != 1 {
		t.Fatalf("after restart = %s, want {\"n\":1} with 1 attempt", got)
	}
}

func TestRetryDelayMismatch(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	mustAppend(t, s, rec(0), rec(1))
	b := mustLease(t, s, 2)
	err := b.Settle(context.Background(), Outcome{Retry: []int{0, 1}, RetryDelay: []time.Duration{time.Second}})
	if err == nil || !strings.Contains(err.Error(), "1 retry delays for 2 retries") {
		t.Fatalf("Settle with 1 delay for 2 retries: %v", err)
	}
}

// Under DropOldest, a full spool evicts around a segment holding a record
// that waits for its retry delay: that segment stays (the record is not
// dropped while it waits), younger ones go, and every record appended is
// handed out or counted as dropped ("full"), the delayed one once due.
func TestRetryDelaySurvivesEviction(t *testing.T) {
	clk := &manualClock{t: time.Now()}
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 4 * minSegmentBytes, Clock: clk}
	s := openTest(t, t.TempDir(), o)
	ctx := context.Background()
	payload := func(i int) []byte { return []byte(fmt.Sprintf("%06d", i) + strings.Repeat("q", 4000)) }
	mustAppend(t, s, payload(0))
	b := mustLease(t, s, 1)
	if err := b.Settle(ctx, Outcome{Retry: []int{0}, RetryDelay: []time.Duration{time.Hour}}); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := 1; i < n; i++ {
		if err := s.Append(ctx, payload(i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if st := s.Stats(); st.Delayed != 1 || st.Leased != 0 || st.Records < 1 {
			t.Fatalf("after append %d: %+v", i, st)
		}
	}
	st := s.Stats()
	if st.Dropped[ReasonFull] == 0 || st.Bytes > o.MaxBytes+minSegmentBytes {
		t.Fatalf("no eviction, or over the limit: %+v", st)
	}
	seen := map[string]bool{}
	drain := func() {
		for {
			b := mustLease(t, s, 500)
			if b == nil {
				return
			}
			for _, r := range b.Records {
				seen[string(r.Data[:6])] = true
			}
			if err := b.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain()
	if seen["000000"] {
		t.Fatal("the delayed record was handed out before its delay")
	}
	clk.add(time.Hour)
	drain()
	if !seen["000000"] {
		t.Fatal("the delayed record was lost to the eviction")
	}
	if st := s.Stats(); uint64(len(seen))+st.Dropped[ReasonFull] != n || st.Delayed != 0 || st.Records != 0 {
		t.Fatalf("handed out %d + dropped %d != %d (%+v)", len(seen), st.Dropped[ReasonFull], n, st)
	}
}

// Under DropOldest, when every sealed segment holds a record waiting for its
// retry delay (an outage's probes release their records with delays), the
// oldest of them is evicted, delays and all, counted as "full": the policy
// never turns into a refusal.
func TestDropOldestEvictsDelayedWhenNothingElse(t *testing.T) {
	clk := &manualClock{t: time.Now()}
	o := &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 4 * minSegmentBytes, Clock: clk}
	s := openTest(t, t.TempDir(), o)
	ctx := context.Background()
	payload := func(i int) []byte { return []byte(fmt.Sprintf("%06d", i) + strings.Repeat("q", 4000)) }
	for i := range 2000 {
		if err := s.Append(ctx, payload(i)); err != nil {
			t.Fatalf("append %d under DropOldest: %v", i, err)
		}
		// A drainer whose every lease is retried with a delay.
		if b := mustLease(t, s, 50); b != nil {
			idx := make([]int, len(b.Records))
			delays := make([]time.Duration, len(b.Records))
			for j := range idx {
				idx[j], delays[j] = j, time.Hour
			}
			if err := b.Settle(ctx, Outcome{Retry: idx, RetryDelay: delays}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.Stats()
	if st.Dropped[ReasonFull] == 0 || st.Bytes > o.MaxBytes+minSegmentBytes || st.Delayed < 0 || st.Leased != 0 {
		t.Fatalf("want evictions within the limit and sane counters: %+v", st)
	}
	clk.add(time.Hour)
	seen := 0
	for {
		b := mustLease(t, s, 500)
		if b == nil {
			break
		}
		seen += len(b.Records)
		if err := b.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); uint64(seen)+st.Dropped[ReasonFull] != 2000 || st.Delayed != 0 || st.Records != 0 {
		t.Fatalf("handed out %d + dropped %d != 2000 (%+v)", seen, st.Dropped[ReasonFull], st)
	}
}
