package ingest

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of a lease, mapped to answers by the handler.
var (
	// errMemoryBusy: the memory a request needs is held by others, longer
	// than it may wait (503 with Retry-After).
	errMemoryBusy = errors.New("the intake's memory is in use by other requests")
	// errMemoryTooBig: the request alone needs more than the whole budget
	// (413: the client must send smaller batches).
	errMemoryTooBig = errors.New("the request needs more memory than the intake's whole budget")
)

// holderWait bounds how long a request that already holds memory waits for
// more. Requests that hold memory and wait for each other would otherwise
// wait out the whole MemoryWait together: one of them gives up soon and
// frees its share.
const holderWait = 250 * time.Millisecond

// leaseStep is how much a lease takes from the budget at a time when it is
// charged small amounts (decoded bytes, items), so that most charges do not
// touch the budget's lock.
const leaseStep = 64 << 10

// memBudget bounds the memory that the requests in flight hold together:
// decoded bytes, items, records on their way to the spool. Each request
// takes its share through a lease and gives it back when the memory is no
// longer reachable.
type memBudget struct {
	limit      int64
	wait       time.Duration    // longest wait of a request that holds nothing
	afterBurst func(peak int64) // see Config.AfterBurst; may be nil

	mu      sync.Mutex
	used    int64
	peak    int64         // highest used since the last burst ended
	holders int           // requests holding memory that wait for more
	freed   chan struct{} // closed (and replaced) whenever memory is given back
}

func newMemBudget(limit int64, wait time.Duration, afterBurst func(int64)) *memBudget {
	return &memBudget{limit: limit, wait: wait, afterBurst: afterBurst, freed: make(chan struct{})}
}

// inUse returns the memory held now.
func (b *memBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// fitsLocked reports whether n more bytes can be taken now. A request that
// holds nothing yet lets the ones that hold memory and wait for more go
// first, so that started work finishes and frees its share.
func (b *memBudget) fitsLocked(n int64, holder bool) bool {
	return b.used+n <= b.limit && (holder || b.holders == 0)
}

func (b *memBudget) takeLocked(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// take takes n bytes, waiting up to wait for others to give memory back.
// It returns how long it waited.
func (b *memBudget) take(ctx context.Context, n int64, holder bool, wait time.Duration) (time.Duration, error) {
	b.mu.Lock()
	if b.fitsLocked(n, holder) {
		b.takeLocked(n)
		b.mu.Unlock()
		return 0, nil
	}
	if wait <= 0 {
		b.mu.Unlock()
		return 0, errMemoryBusy
	}
	if holder {
		b.holders++
	}
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var err error
	for {
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			err = errMemoryBusy
		case <-ctx.Done():
			err = errMemoryBusy
		}
		b.mu.Lock()
		if holder {
			b.holders-- // counted out while checking, so that it may take
		}
		ok := b.fitsLocked(n, holder)
		if ok {
			b.takeLocked(n)
			err = nil
		}
		if ok || err != nil {
			b.mu.Unlock()
			b.signal()
			return time.Since(start), err
		}
		if holder {
			b.holders++
		}
	}
}

// signal wakes the waiters: memory was given back, or a holder stopped
// waiting (newcomers may take what it left).
func (b *memBudget) signal() {
	b.mu.Lock()
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// give gives n bytes back and, at the end of a burst, calls afterBurst.
func (b *memBudget) give(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	var burst int64
	if b.used <= b.limit/8 && b.peak >= b.limit/2 {
		burst = b.peak
		b.peak = b.used
	}
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
	if burst > 0 && b.afterBurst != nil {
		go b.afterBurst(burst)
	}
}

// lease is one request's share of a memBudget. It is used by one goroutine
// at a time.
type lease struct {
	b      *memBudget
	ctx    context.Context
	held   int64         // taken from the budget
	spare  int64         // of held, taken ahead and not charged yet
	waited time.Duration // total time spent waiting for memory
}

func (b *memBudget) lease(ctx context.Context) *lease { return &lease{b: b, ctx: ctx} }

// take takes n bytes for this request. A request that holds nothing yet
// waits up to the budget's wait for them; one that holds memory, up to
// holderWait.
func (l *lease) take(n int64) error {
	if n <= l.spare {
		l.spare -= n
		return nil
	}
	need := n - l.spare
	if l.held+need > l.b.limit {
		return errMemoryTooBig
	}
	wait := l.b.wait
	if l.held > 0 {
		wait = min(wait, holderWait)
	}
	d, err := l.b.take(l.ctx, need, l.held > 0, wait)
	l.waited += d
	if err != nil {
		return err
	}
	l.held += need
	l.spare = 0
	return nil
}

// charge is breeze.DecodeCharged's charge: it takes memory leaseStep at
// a time.
func (l *lease) charge(n int64) error {
	if n <= l.spare {
		l.spare -= n
		return nil
	}
	step := max(n, leaseStep)
	if l.held+step > l.b.limit {
		step = n // near the limit: take only what is needed
	}
	if err := l.take(step); err != nil {
		return err
	}
	l.spare = step - n
	return nil
}

// trim gives back what was taken ahead and not charged.
func (l *lease) trim() {
	n := l.spare
	l.spare = 0
	l.held -= n
	l.b.give(n)
}

// give gives n bytes of this request's back.
func (l *lease) give(n int64) {
	n = min(n, l.held)
	l.held -= n
	l.spare = min(l.spare, l.held)
	l.b.give(n)
}

// release gives everything back.
func (l *lease) release() { l.give(l.held) }
