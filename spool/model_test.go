package spool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// modelRec is the reference queue's view of one record.
type modelRec struct {
	id       int
	attempts int
	leased   bool
}

// spoolMachine checks the spool against an in-memory reference queue under
// random sequences of append, lease, ack, nack, partial settle and reopen.
type spoolMachine struct {
	t       *rapid.T
	dir     string
	s       *Spool
	nextID  int
	live    []*modelRec // live records in append order
	batches []*Batch
}

func (m *spoolMachine) open() {
	s, err := Open(context.Background(), m.dir, &Options{
		SegmentMaxBytes: minSegmentBytes, MaxBytes: 1 << 30,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		m.t.Fatalf("Open: %v", err)
	}
	m.s = s
}

func payload(id int) []byte {
	// Sizes vary so that segments fill up and roll over now and then.
	return append([]byte(fmt.Sprintf("rec-%06d|", id)), bytes.Repeat([]byte{'x'}, (id*7919)%9000)...)
}

func idOf(t *rapid.T, data []byte) int {
	var id int
	if _, err := fmt.Sscanf(string(data), "rec-%06d|", &id); err != nil {
		t.Fatalf("unexpected record %q", data[:min(len(data), 20)])
	}
	return id
}

func (m *spoolMachine) find(id int) *modelRec {
	for _, r := range m.live {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (m *spoolMachine) Append(t *rapid.T) {
	n := rapid.IntRange(1, 20).Draw(t, "n")
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = payload(m.nextID)
		m.live = append(m.live, &modelRec{id: m.nextID})
		m.nextID++
	}
	if err := m.s.Append(context.Background(), recs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func (m *spoolMachine) Lease(t *rapid.T) {
	n := rapid.IntRange(1, 30).Draw(t, "max")
	b, err := m.s.Lease(context.Background(), n, 1<<20)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	var avail []*modelRec
	for _, r := range m.live {
		if !r.leased {
			avail = append(avail, r)
		}
	}
	if b == nil {
		if len(avail) > 0 {
			t.Fatalf("Lease returned nothing with %d records available (first %d)", len(avail), avail[0].id)
		}
		return
	}
	if len(b.Records) == 0 || len(b.Records) > n {
		t.Fatalf("batch of %d for max %d", len(b.Records), n)
	}
	prev := -1
	for i, r := range b.Records {
		id := idOf(t, r.Data)
		mr := m.find(id)
		switch {
		case mr == nil:
			t.Fatalf("leased record %d is not live (acked or never appended)", id)
		case mr.leased:
			t.Fatalf("record %d handed out twice", id)
		case id <= prev:
			t.Fatalf("batch out of order: %d after %d", id, prev)
		case !bytes.Equal(r.Data, payload(id)):
			t.Fatalf("record %d content differs", id)
		case r.Attempts != mr.attempts:
			t.Fatalf("record %d attempts %d, model %d", id, r.Attempts, mr.attempts)
		}
		if i == 0 && id != avail[0].id {
			t.Fatalf("batch starts at %d, the oldest available is %d", id, avail[0].id)
		}
		prev = id
		mr.leased = true
	}
	m.batches = append(m.batches, b)
}

func (m *spoolMachine) pick(t *rapid.T) (*Batch, []int) {
	if len(m.batches) == 0 {
		t.Skip("no batch")
	}
	i := rapid.IntRange(0, len(m.batches)-1).Draw(t, "batch")
	b := m.batches[i]
	m.batches = slices.Delete(m.batches, i, i+1)
	ids := make([]int, len(b.Records))
	for j, r := range b.Records {
		ids[j] = idOf(t, r.Data)
	}
	return b, ids
}

func (m *spoolMachine) Ack(t *rapid.T) {
	b, ids := m.pick(t)
	if err := b.Ack(context.Background()); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	m.live = slices.DeleteFunc(m.live, func(r *modelRec) bool { return slices.Contains(ids, r.id) })
}

func (m *spoolMachine) Nack(t *rapid.T) {
	b, ids := m.pick(t)
	if err := b.Nack(context.Background()); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	for _, id := range ids {
		r := m.find(id)
		r.leased = false
		r.attempts++
	}
}

func (m *spoolMachine) Settle(t *rapid.T) {
	b, ids := m.pick(t)
	var o Outcome
	fate := make([]int, len(ids)) // 0 ack, 1 retry, 2 drop
	for j := range ids {
		fate[j] = rapid.IntRange(0, 2).Draw(t, "fate")
		switch fate[j] {
		case 1:
			o.Retry = append(o.Retry, j)
		case 2:
			if o.Dropped == nil {
				o.Dropped = map[string][]int{}
			}
			o.Dropped[ReasonRejected] = append(o.Dropped[ReasonRejected], j)
		}
	}
	if err := b.Settle(context.Background(), o); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	for j, id := range ids {
		r := m.find(id)
		if fate[j] == 1 {
			r.leased = false
			r.attempts++
			continue
		}
		m.live = slices.DeleteFunc(m.live, func(x *modelRec) bool { return x.id == id })
	}
}

func (m *spoolMachine) Reopen(t *rapid.T) {
	if err := m.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, b := range m.batches {
		if err := b.Ack(context.Background()); err == nil {
			t.Fatal("Ack of a batch from a closed spool succeeded")
		}
	}
	m.batches = nil
	for _, r := range m.live {
		r.leased = false // leases do not survive a restart
	}
	m.open()
}

func (m *spoolMachine) Check(t *rapid.T) {
	st := m.s.Stats()
	if st.Records > int64(len(m.live)) {
		t.Fatalf("Stats.Records %d > model %d", st.Records, len(m.live))
	}
	var leased int64
	for _, r := range m.live {
		if r.leased {
			leased++
		}
	}
	if st.Leased != leased {
		t.Fatalf("Stats.Leased %d, model %d", st.Leased, leased)
	}
}

func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &spoolMachine{t: t, dir: tempDir(t)}
		m.open()
		defer func() { _ = m.s.Close() }()
		t.Repeat(rapid.StateMachineActions(m))
		// Finally everything live comes out, exactly once.
		for _, b := range m.batches {
			_ = b.Nack(context.Background())
		}
		for _, r := range m.live {
			r.leased = false
		}
		m.batches = nil
		for range 1000 {
			b, err := m.s.Lease(context.Background(), 1000, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				break
			}
			for _, r := range b.Records {
				id := idOf(t, r.Data)
				if m.find(id) == nil {
					t.Fatalf("final drain: %d is not live", id)
				}
				m.live = slices.DeleteFunc(m.live, func(x *modelRec) bool { return x.id == id })
			}
			if err := b.Ack(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if len(m.live) != 0 {
			t.Fatalf("%d live records never came out (first %d)", len(m.live), m.live[0].id)
		}
	})
}
