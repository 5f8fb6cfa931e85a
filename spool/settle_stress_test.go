package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent appenders, drainers settling out of order with retries and
// drops, injected write failures, forced seals, Stats polling, and a Close
// that races the drainers. Checks: nothing settled (nil or deferred) comes
// back in-process; nothing acknowledged with nil comes back after reopen;
// everything appended and not acknowledged comes back; counts are exact.
func TestSettleStress(t *testing.T) {
	for round := range 6 {
		t.Run(fmt.Sprint(round), func(t *testing.T) { settleStressRound(t, round) })
	}
}

func settleStressRound(t *testing.T, round int) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := &Options{SegmentMaxAge: 5 * time.Millisecond, SegmentMaxBytes: minSegmentBytes, MaxBytes: 1 << 30, Logger: slog.New(slog.DiscardHandler)}
	s, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		state    = map[int]string{} // "live","leased","acked","deferred"
		nextID   atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		failures atomic.Int64
	)
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
			for !stop.Load() {
				n := 1 + r.IntN(40)
				var recs [][]byte
				var ids []int
				for range n {
					id := int(nextID.Add(1))
					ids = append(ids, id)
					recs = append(recs, payload(id))
				}
				mu.Lock()
				for _, id := range ids {
					state[id] = "appending"
				}
				mu.Unlock()
				err := s.Append(ctx, recs...)
				mu.Lock()
				for _, id := range ids {
					if err == nil {
						if state[id] == "appending" {
							state[id] = "live"
						}
					} else if state[id] == "appending" {
						delete(state, id)
					}
				}
				mu.Unlock()
				if err != nil {
					return
				}
				time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
			}
		})
	}
	var leaseErrs atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(round)+99, uint64(w)))
			var held []*Batch
			for {
				// stop is read once a round: read twice, it could turn
				// between the reads with nothing held to settle.
				stopped := stop.Load()
				if stopped && len(held) == 0 {
					break
				}
				if !stopped && (len(held) == 0 || r.IntN(3) > 0) && len(held) < 4 {
					b, err := s.Lease(ctx, 1+r.IntN(60), 1<<20)
					if err != nil {
						if errors.Is(err, ErrClosed) {
							return
						}
						t.Error(err)
						return
					}
					if b != nil {
						mu.Lock()
						for _, rc := range b.Records {
							id := idOfT(t, rc.Data)
							if st := state[id]; st != "live" && st != "appending" {
								t.Errorf("record %d handed out in state %q", id, st)
							}
							state[id] = "leased"
						}
						mu.Unlock()
						held = append(held, b)
					}
					continue
				}
				i := r.IntN(len(held))
				b := held[i]
				held = append(held[:i], held[i+1:]...)
				var o Outcome
				kind := make([]int, len(b.Records))
				for j := range b.Records {
					switch r.IntN(6) {
					case 0:
						o.Retry = append(o.Retry, j)
						kind[j] = 1
					case 1:
						if o.Dropped == nil {
							o.Dropped = map[string][]int{}
						}
						o.Dropped["x"] = append(o.Dropped["x"], j)
						kind[j] = 2
					}
				}
				ids := make([]int, len(b.Records))
				for j, rc := range b.Records {
					ids[j] = idOfT(t, rc.Data)
				}
				mu.Lock()
				for j, id := range ids {
					if kind[j] == 1 {
						state[id] = "live"
					} else {
						state[id] = "settling"
					}
				}
				mu.Unlock()
				err := b.Settle(ctx, o)
				mu.Lock()
				switch {
				case err == nil:
					for j, id := range ids {
						if kind[j] != 1 {
							state[id] = "acked"
						}
					}
				case errors.Is(err, ErrSettleDeferred):
					failures.Add(1)
					for j, id := range ids {
						if kind[j] != 1 {
							state[id] = "deferred"
						}
					}
				default:
					t.Logf("settle: %v", err)
					for j, id := range ids {
						if kind[j] != 1 {
							state[id] = "live?"
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // failure injector, sealer, stats poller
		r := rand.New(rand.NewPCG(uint64(round)+7, 1))
		for !stop.Load() {
			s.mu.Lock()
			if r.IntN(4) == 0 {
				s.failPersist = errors.New("injected")
			} else {
				s.failPersist = nil
			}
			s.mu.Unlock()
			_ = s.Stats()
			time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
		}
		s.mu.Lock()
		s.failPersist = nil
		s.mu.Unlock()
	})
	time.Sleep(1500 * time.Millisecond)
	racingClose := round%2 == 1
	if racingClose {
		if err := s.Close(); err != nil {
			t.Log("close:", err)
		}
	}
	stop.Store(true)
	wg.Wait()
	_ = leaseErrs.Load()
	// Now quiescent. Check exact counts in-process.
	mu.Lock()
	var want int64
	for _, st := range state {
		if st == "live" || st == "leased" {
			want++
		}
	}
	mu.Unlock()
	st := s.Stats()
	if !racingClose && (st.Records != want || st.Leased != 0) {
		t.Errorf("before close: Stats.Records %d Leased %d, model %d", st.Records, st.Leased, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After reopen: every live comes back once; deferred were flushed at
	// close (writing healed) so nothing settled comes back.
	s2, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := map[int]int{}
	for range 10000 {
		b, err := s2.Lease(ctx, 1000, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		for _, rc := range b.Records {
			got[idOfT(t, rc.Data)]++
		}
		if err := b.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, st := range state {
		switch st {
		case "live", "leased", "live?", "appending", "settling":
			if got[id] != 1 {
				t.Errorf("record %d (%s) came back %d times", id, st, got[id])
			}
		case "deferred":
			if got[id] > 1 || (!racingClose && got[id] != 0) {
				t.Errorf("record %d (%s) came back %d after reopen", id, st, got[id])
			}
		case "acked":
			if got[id] != 0 {
				t.Errorf("record %d (%s) came back after reopen", id, st)
			}
		}
	}
	for id := range got {
		if _, ok := state[id]; !ok {
			t.Errorf("unknown record %d", id)
		}
	}
	t.Logf("%d records, %d deferred settles", len(state), failures.Load())
}

func idOfT(t *testing.T, data []byte) int {
	var id int
	if _, err := fmt.Sscanf(string(data), "rec-%06d|", &id); err != nil {
		t.Fatalf("unexpected record %q", data[:min(len(data), 20)])
	}
	return id
}
