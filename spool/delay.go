package spool

import (
	"container/heap"
	"slices"
	"time"
)

// Delayed retries.
//
// A record released with a delay (Outcome.RetryDelay) is not handed out
// again before its delay has passed: a shipper whose endpoint accepted most
// of a batch but throttled a few items keeps those few back for a while,
// with a delay that grows with their attempts, while every other record keeps
// flowing. The delay is held in memory with the lease state, never in the
// file: after a restart the record is handed out again at once (at least
// once, as for every record leased and not acknowledged).
//
// Until it is due, a delayed record counts as outstanding in its segment
// (g.outstanding), so that the segment is neither removed, evicted nor
// closed by the drain window while the record waits; it is counted in
// Stats.Delayed instead of Stats.Leased.

// delayedRec is one record waiting for its retry delay.
type delayedRec struct {
	due time.Time
	g   *segment
	seq uint64
}

// delayHeap orders delayed records by due time.
type delayHeap []delayedRec

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayedRec)) }
func (h *delayHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = delayedRec{}
	*h = old[:n-1]
	return x
}

// delayLocked holds back the record seq of g until due.
func (s *Spool) delayLocked(g *segment, seq uint64, due time.Time) {
	heap.Push(&s.delays, delayedRec{due: due, g: g, seq: seq})
	g.delayed++
	s.delayed++
}

// promoteDueLocked releases the delayed records whose delay has passed:
// they join their segment's retry list, handed out first by the next
// lease. It then arms the wake-up for the next one due.
func (s *Spool) promoteDueLocked() {
	if len(s.delays) == 0 {
		return
	}
	now := s.opts.Clock.Now()
	var touched []*segment
	for len(s.delays) > 0 && !s.delays[0].due.After(now) {
		d := heap.Pop(&s.delays).(delayedRec)
		g := d.g
		if g.dropped || g.delayed == 0 {
			continue // quarantined meanwhile: counted with the segment
		}
		g.delayed--
		g.outstanding--
		s.delayed--
		g.due = append(g.due, d.seq)
		if len(g.due) == 1 {
			touched = append(touched, g)
		}
	}
	for _, g := range touched {
		slices.Sort(g.due)
		if g.db != nil {
			g.retry = mergeSorted(g.retry, g.due)
		}
		g.due = g.due[:0]
		if g.drained() && !s.closed {
			if err := s.removeLocked(g); err != nil {
				s.log.Warn("remove drained segment", "err", err)
			}
		}
	}
	s.armDelayLocked()
}

// armDelayLocked sets the timer that wakes Notify's listeners when the
// earliest delayed record is due.
func (s *Spool) armDelayLocked() {
	if len(s.delays) == 0 || s.closed {
		if s.delayTimer != nil {
			s.delayTimer.Stop()
		}
		return
	}
	d := max(s.delays[0].due.Sub(s.opts.Clock.Now()), 0)
	if s.delayTimer == nil {
		s.delayTimer = time.AfterFunc(d, s.signal)
		return
	}
	s.delayTimer.Reset(d)
}

// forgetDelaysLocked drops the delays of a segment that leaves this
// process (quarantined): its records are counted with it.
func (s *Spool) forgetDelaysLocked(g *segment) {
	s.delayed -= int64(g.delayed)
	g.outstanding -= g.delayed
	g.delayed = 0
}

// nextDueLocked returns when the first delayed record is due; zero if none.
func (s *Spool) nextDueLocked() time.Time {
	for len(s.delays) > 0 {
		if d := s.delays[0]; !d.g.dropped && d.g.delayed > 0 {
			return d.due
		}
		heap.Pop(&s.delays) // of a quarantined segment: forgotten
	}
	return time.Time{}
}

// delayedSeqsLocked returns the records of g that wait for a retry delay.
func (s *Spool) delayedSeqsLocked(g *segment) []uint64 {
	if g.delayed == 0 {
		return nil
	}
	var seqs []uint64
	for _, d := range s.delays {
		if d.g == g {
			seqs = append(seqs, d.seq)
		}
	}
	return seqs
}
