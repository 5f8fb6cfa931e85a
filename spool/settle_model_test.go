package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"
)

// The settle model: a stricter companion of TestModel. Besides append,
// lease, settle (ack, retry, drop) and reopen, it seals the active segment
// at random (so that settles mark as well as delete), makes settle
// transactions fail (failPersist: ErrSettleDeferred) and heal, and moves a
// clock so that records expire, and retries some records with a delay
// (Outcome.RetryDelay, in model hours) that must hold them back until due
// and no longer, and is forgotten by a reopen, and salvages segments at
// random (Orphan, Damage) while batches are leased from them, records wait
// for a delay and settles are not written. It checks that nothing settled comes back
// in the same process, nothing acknowledged with nil comes back after a
// reopen, attempt counts, Stats.Records and Stats.Leased against the model,
// and, after every Close, that each file's stored count equals its live
// (unmarked) keys. Records whose settle was deferred and not written by
// Close ("ghosts") may come back after a reopen: at least once.

// rstate is a model record's state.
type rstate int

const (
	rsLive rstate = iota
	rsLeased
	rsDeferred // settled, ErrSettleDeferred
	rsGhost    // deferred, not flushed at close: may come back
	rsDelayed  // retried with a delay (Outcome.RetryDelay) not yet due at the last lease
)

// rrec is a record of the model.
type rrec struct {
	at    int64
	id    int
	st    rstate
	att   int
	attOK bool
	due   int64 // rsDelayed: the model hour from which it may be handed out
}

// settleMachine is the rapid state machine of the settle model.
type settleMachine struct {
	t       *rapid.T
	dir     string
	s       *Spool
	nextID  int
	recs    []*rrec
	batches []*Batch
	failing bool
	clock   *atomicClock
}

// atomicClock is the spool's clock in the model, in hours.
type atomicClock struct{ v atomic.Int64 }

func (c *atomicClock) now() time.Time {
	return time.Unix(0, 0).Add(time.Duration(c.v.Load()) * time.Hour)
}

const settleModelMaxAge = 10 * time.Hour

func (m *settleMachine) expirable(r *rrec) bool { return r.at < m.clock.v.Load()-10 }

func (m *settleMachine) Tick(t *rapid.T) {
	m.clock.v.Add(int64(rapid.IntRange(1, 6).Draw(t, "hours")))
}

var errInjected = errors.New("injected")

func (m *settleMachine) open() {
	s, err := Open(context.Background(), m.dir, &Options{
		SegmentMaxBytes: minSegmentBytes, MaxBytes: 1 << 30, MaxAge: settleModelMaxAge, Clock: clockFunc(m.clock.now),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		m.t.Fatalf("Open: %v", err)
	}
	m.s = s
	m.failing = false
}

func (m *settleMachine) find(id int) *rrec {
	for _, r := range m.recs {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (m *settleMachine) Append(t *rapid.T) {
	n := rapid.IntRange(1, 20).Draw(t, "n")
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = payload(m.nextID)
		m.recs = append(m.recs, &rrec{id: m.nextID, attOK: true, at: m.clock.v.Load()})
		m.nextID++
	}
	if err := m.s.Append(context.Background(), recs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func (m *settleMachine) Seal(t *rapid.T) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.active != nil && m.s.active.records > 0 {
		if err := m.s.sealLocked(m.s.active); err != nil {
			t.Fatalf("seal: %v", err)
		}
	}
}

// Orphan deletes the file of a segment this process holds (the active one,
// or one it drains) while it is open, and lets the spool notice: its
// records are salvaged into a new segment, with the batches leased from it,
// its records waiting for a retry delay, and its settles decided but not
// written (failPersist) holding as decided.
func (m *settleMachine) Orphan(t *rapid.T) {
	g := m.heldSegment(t, false)
	if err := os.Remove(g.path()); err != nil {
		t.Fatalf("remove %s: %v", g.path(), err)
	}
	m.s.mu.Lock()
	m.s.checkNamesLocked()
	set := g.setAside() && !g.dropped
	m.s.mu.Unlock()
	if set {
		t.Fatalf("segment %s not salvaged", g.id)
	}
}

// Damage sets aside a segment this process created as if its tree were
// found damaged: its records are salvaged (through the tree and a raw scan
// of its pages, which finds stale copies of settled records) and the file
// is quarantined. Only segments this process created: in one taken over, a
// raw scan may copy again records the previous process deleted past the
// lease position (at least once, see liveFilter).
func (m *settleMachine) Damage(t *rapid.T) {
	g := m.heldSegment(t, true)
	m.s.mu.Lock()
	err := m.s.damagedLocked(g, errInjected)
	m.s.mu.Unlock()
	if err != nil {
		t.Fatalf("salvage of %s: %v", g.id, err)
	}
}

// heldSegment draws a segment this process holds open (only one it created
// if dense).
func (m *settleMachine) heldSegment(t *rapid.T, dense bool) *segment {
	m.s.mu.Lock()
	var held []*segment
	for _, g := range m.s.segs {
		if g.db != nil && g.file != nil && !g.setAside() && !g.wedged && (g.dense || !dense) {
			held = append(held, g)
		}
	}
	m.s.mu.Unlock()
	if len(held) == 0 {
		t.Skip("no segment held")
	}
	return held[rapid.IntRange(0, len(held)-1).Draw(t, "segment")]
}

func (m *settleMachine) Fail(t *rapid.T) {
	m.failing = !m.failing
	m.s.mu.Lock()
	if m.failing {
		m.s.failPersist = errInjected
	} else {
		m.s.failPersist = nil
	}
	m.s.mu.Unlock()
}

func (m *settleMachine) Lease(t *rapid.T) {
	n := rapid.IntRange(1, 30).Draw(t, "max")
	now := m.clock.v.Load()
	for _, r := range m.recs {
		if r.st == rsDelayed && r.due <= now {
			r.st = rsLive // Lease promotes what is due
		}
	}
	b, err := m.s.Lease(context.Background(), n, 1<<20)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if b == nil {
		for _, r := range m.recs {
			if r.st == rsLive && !m.expirable(r) {
				t.Fatalf("Lease returned nothing with %d live", r.id)
			}
		}
		return
	}
	for _, r := range b.Records {
		id := idOf(t, r.Data)
		mr := m.find(id)
		switch {
		case mr == nil:
			t.Fatalf("leased %d: acknowledged (nil) or never appended", id)
		case mr.st == rsLeased:
			t.Fatalf("%d handed out twice", id)
		case mr.st == rsDeferred:
			t.Fatalf("%d settled (deferred) handed out again in the same process", id)
		case mr.st == rsDelayed:
			t.Fatalf("%d handed out at hour %d, before its retry delay ends at %d", id, now, mr.due)
		case mr.attOK && r.Attempts != mr.att:
			t.Fatalf("%d attempts %d, model %d", id, r.Attempts, mr.att)
		}
		if mr.st == rsGhost {
			mr.attOK = false
		}
		mr.st = rsLeased
	}
	m.batches = append(m.batches, b)
}

func (m *settleMachine) Settle(t *rapid.T) {
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
	var o Outcome
	fate := make([]int, len(ids))
	delays := make([]int64, len(ids))
	for j := range ids {
		fate[j] = rapid.IntRange(0, 3).Draw(t, "fate")
		switch fate[j] {
		case 1:
			o.Retry = append(o.Retry, j)
			o.RetryDelay = append(o.RetryDelay, 0)
		case 3:
			h := rapid.IntRange(1, 4).Draw(t, "delay hours")
			o.Retry = append(o.Retry, j)
			o.RetryDelay = append(o.RetryDelay, time.Duration(h)*time.Hour)
			delays[j] = int64(h)
		case 2:
			if o.Dropped == nil {
				o.Dropped = map[string][]int{}
			}
			o.Dropped[ReasonRejected] = append(o.Dropped[ReasonRejected], j)
		}
	}
	err := b.Settle(context.Background(), o)
	deferred := errors.Is(err, ErrSettleDeferred)
	if err != nil && !deferred {
		t.Fatalf("Settle: %v", err)
	}
	for j, id := range ids {
		r := m.find(id)
		if fate[j] == 1 || fate[j] == 3 {
			r.st = rsLive
			if fate[j] == 3 {
				r.st, r.due = rsDelayed, m.clock.v.Load()+delays[j]
			}
			r.att++
			if deferred {
				r.attOK = false
			}
			continue
		}
		if deferred {
			r.st = rsDeferred
			continue
		}
		m.recs = slices.DeleteFunc(m.recs, func(x *rrec) bool { return x.id == id })
	}
}

// checkFiles: every segment file's meta count equals its unmarked keys.
func checkFiles(t *rapid.T, dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var total int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), extSealed) && !strings.HasSuffix(e.Name(), extActive) {
			continue
		}
		db, err := bolt.Open(filepath.Join(dir, e.Name()), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("open %s: %v", e.Name(), err)
		}
		_ = db.View(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			marks, err := decodeMarks(meta.Get(metaSettled))
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			n := countLive(tx.Bucket(bucketRecords).Cursor(), marks)
			cnt := int64(binary.BigEndian.Uint64(meta.Get(metaRecords)))
			if n != cnt {
				t.Fatalf("%s: meta count %d, live keys %d (marks %v)", e.Name(), cnt, n, marks)
			}
			total += n
			return nil
		})
		db.Close()
	}
	return total
}

func (m *settleMachine) Reopen(t *rapid.T) {
	heal := rapid.Bool().Draw(t, "heal")
	if heal && m.failing {
		m.Fail(t)
	}
	if err := m.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	m.batches = nil
	for _, r := range m.recs {
		switch r.st {
		case rsLeased, rsDelayed:
			r.st = rsLive // a restart forgets delays
		case rsDeferred:
			if m.failing {
				r.st = rsGhost
			}
		}
	}
	if !m.failing {
		m.recs = slices.DeleteFunc(m.recs, func(r *rrec) bool { return r.st == rsDeferred })
	}
	onDisk := checkFiles(t, m.dir)
	var live, ghosts int64
	for _, r := range m.recs {
		switch r.st {
		case rsLive:
			if m.expirable(r) {
				ghosts++
				continue
			}
			live++
		case rsGhost, rsDeferred:
			ghosts++
		}
	}
	if onDisk < live || onDisk > live+ghosts {
		t.Fatalf("on disk %d live records, model %d (+%d ghosts)", onDisk, live, ghosts)
	}
	m.open()
}

func (m *settleMachine) Check(t *rapid.T) {
	m.s.mu.Lock()
	reader := m.s.reader
	m.s.mu.Unlock()
	st := m.s.Stats()
	if !reader {
		return
	}
	var want, ghosts int64
	var leased, delayed int64
	for _, r := range m.recs {
		switch r.st {
		case rsDelayed:
			delayed++
			if m.expirable(r) {
				ghosts++
				continue
			}
			want++
		case rsLive:
			if m.expirable(r) {
				ghosts++
				continue
			}
			want++
		case rsLeased:
			want++
			leased++
		case rsGhost:
			ghosts++
		}
	}
	if st.Records < want || st.Records > want+ghosts {
		t.Fatalf("Stats.Records %d, model %d (+%d ghosts)", st.Records, want, ghosts)
	}
	if st.Leased != leased {
		t.Fatalf("Stats.Leased %d, model %d", st.Leased, leased)
	}
	if st.Delayed != delayed {
		t.Fatalf("Stats.Delayed %d, model %d", st.Delayed, delayed)
	}
}

func TestSettleModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &settleMachine{t: t, dir: tempDir(t), clock: &atomicClock{}}
		m.open()
		defer func() { _ = m.s.Close() }()
		t.Repeat(rapid.StateMachineActions(m))
	})
}
