package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

func TestMemBudget(t *testing.T) {
	ctx := context.Background()
	var bursts atomic.Int64
	b := newMemBudget(1000, 50*time.Millisecond, func(peak int64) { bursts.Store(peak) })

	a := b.lease(ctx)
	if err := a.take(600); err != nil {
		t.Fatal(err)
	}
	if err := a.take(500); !errors.Is(err, errMemoryTooBig) {
		t.Fatalf("taking past the whole budget: %v, want errMemoryTooBig", err)
	}
	c := b.lease(ctx)
	start := time.Now()
	if err := c.take(500); !errors.Is(err, errMemoryBusy) {
		t.Fatalf("taking what others hold: %v, want errMemoryBusy", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || c.waited < 40*time.Millisecond {
		t.Fatalf("gave up after %v (waited %v), want the budget's wait", d, c.waited)
	}
	if c.held != 0 || b.inUse() != 600 {
		t.Fatalf("held %d, in use %d", c.held, b.inUse())
	}
	// A waiter gets the memory as soon as it is given back.
	got := make(chan error, 1)
	go func() { got <- c.take(500) }()
	time.Sleep(10 * time.Millisecond)
	a.give(200)
	if err := <-got; err != nil || b.inUse() != 900 {
		t.Fatalf("take after a give: %v, in use %d", err, b.inUse())
	}
	a.release()
	c.release()
	if b.inUse() != 0 || a.held != 0 || c.held != 0 {
		t.Fatalf("after release: in use %d, held %d %d", b.inUse(), a.held, c.held)
	}
	deadline := time.Now().Add(5 * time.Second)
	for bursts.Load() != 900 {
		if time.Now().After(deadline) {
			t.Fatalf("AfterBurst not called with the peak (last %d)", bursts.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMemBudgetHoldersFirst: a request that holds nothing waits while one
// that holds memory waits for more, so that started work finishes first.
func TestMemBudgetHoldersFirst(t *testing.T) {
	ctx := context.Background()
	b := newMemBudget(1000, 5*time.Second, nil)
	holder, other := b.lease(ctx), b.lease(ctx)
	if err := holder.take(300); err != nil {
		t.Fatal(err)
	}
	if err := other.take(600); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { held <- holder.take(300) }() // needs 200 of other's
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := b.holders
		b.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the holder never waited")
		}
		time.Sleep(time.Millisecond)
	}
	newcomer := b.lease(ctx)
	fresh := make(chan error, 1)
	go func() { fresh <- newcomer.take(50) }() // fits, but must wait its turn
	select {
	case err := <-fresh:
		t.Fatalf("a newcomer took memory while a holder waited: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	other.release()
	if err := <-held; err != nil {
		t.Fatalf("holder: %v", err)
	}
	if err := <-fresh; err != nil {
		t.Fatalf("newcomer: %v", err)
	}
	// Holders wait at most holderWait for more.
	start := time.Now()
	if err := holder.take(1000 - 600 - 50 + 1); !errors.Is(err, errMemoryBusy) {
		t.Fatalf("holder over the free memory: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a holder waited %v", d)
	}
	holder.release()
	newcomer.release()
	if b.inUse() != 0 {
		t.Fatalf("in use %d after release", b.inUse())
	}
}

func TestLeaseCharge(t *testing.T) {
	b := newMemBudget(1<<20, time.Second, nil)
	l := b.lease(context.Background())
	for range 100 {
		if err := l.charge(100); err != nil {
			t.Fatal(err)
		}
	}
	if l.held != leaseStep || l.spare != leaseStep-100*100 {
		t.Fatalf("held %d spare %d: charges of 100 bytes take %d at a time", l.held, l.spare, leaseStep)
	}
	if err := l.charge(200 << 10); err != nil || l.held-l.spare != 100*100+200<<10 {
		t.Fatalf("large charge: %v, held %d spare %d", err, l.held, l.spare)
	}
	l.trim()
	if l.spare != 0 || b.inUse() != 100*100+200<<10 {
		t.Fatalf("after trim: spare %d, in use %d", l.spare, b.inUse())
	}
	// Near the end of the budget a charge takes only what it needs.
	rest := int64(1<<20) - b.inUse()
	if err := l.charge(rest); err != nil || b.inUse() != 1<<20 {
		t.Fatalf("charging the rest: %v, in use %d", err, b.inUse())
	}
	if err := l.charge(1); !errors.Is(err, errMemoryTooBig) {
		t.Fatalf("charging past the budget: %v", err)
	}
	l.release()
	if b.inUse() != 0 {
		t.Fatalf("in use %d", b.inUse())
	}
}

// bigBody is a gzip body of n envelopes of about size bytes each in a
// JSON array that ends in garbage, as in issue 13: small on the wire,
// large decoded, and refused only at its end.
func bigBody(t testing.TB, n, size int) []byte {
	item := env(strings.Repeat("m", size-230))
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteString(",garbage")
	return testkit.Gzip(b.String())
}

// TestMemoryBudgetBoundsConcurrentRequests: ten requests whose bodies
// inflate to several times the budget, at once, never make the handler hold
// more than its budget; each is refused (413: the body alone needs more
// than the budget, or 503 with Retry-After), normal requests meanwhile get
// 200 or 503 with Retry-After, and all the memory is given back.
func TestMemoryBudgetBoundsConcurrentRequests(t *testing.T) {
	const budget = 4 << 20
	sp := openSpool(t, nil)
	var bursts atomic.Int64
	h := newHandler(t, Config{Spool: sp, MemoryBudget: budget, MemoryWait: 500 * time.Millisecond,
		AfterBurst: func(int64) { bursts.Add(1) }})
	srv := startHTTP(t, h)
	attack := bigBody(t, 6000, 2200) // 13 MB decoded, some 60 KB on the wire

	stop := make(chan struct{})
	var peak atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			peak.Store(max(peak.Load(), h.Stats().MemoryInUse))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var attackAnswers sync.Map
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(attack), map[string]string{"Content-Encoding": "gzip"})
			attackAnswers.Store(i, r)
		}()
	}
	var normal []response
	var acked []string
	for i := range 20 {
		items := envs(fmt.Sprint("normal-", i), 5)
		r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(items...)), nil)
		normal = append(normal, r)
		if r.Status == 200 {
			acked = append(acked, records(items)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	close(stop)
	sampler.Wait()

	attackAnswers.Range(func(_, v any) bool {
		r := v.(response)
		switch {
		case r.Status == 413 && strings.Contains(r.Body.Message, "whole budget"):
		case r.Status == 503 && r.RetryAfter != "" && strings.Contains(r.Body.Message, "memory"):
		default:
			t.Errorf("attack answered %d (Retry-After %q) %s", r.Status, r.RetryAfter, r.Raw)
		}
		return true
	})
	for _, r := range normal {
		if r.Status != 200 && (r.Status != 503 || r.RetryAfter == "") {
			t.Errorf("normal request answered %d (Retry-After %q) %s", r.Status, r.RetryAfter, r.Raw)
		}
	}
	if p := peak.Load(); p > budget || p == 0 {
		t.Errorf("peak memory in use %d, budget %d", p, budget)
	}
	if n := h.Stats().MemoryInUse; n != 0 {
		t.Errorf("memory in use after the requests: %d", n)
	}
	deadline := time.Now().Add(5 * time.Second) // AfterBurst runs in a goroutine of its own
	for bursts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if bursts.Load() == 0 {
		t.Error("AfterBurst was not called")
	}
	if got := drain(t, sp); len(got) != len(acked) {
		t.Errorf("spool holds %d records, acknowledged %d", len(got), len(acked))
	}
	t.Logf("peak memory in use %d of %d; normal requests: %d acknowledged of 20", peak.Load(), budget, len(acked)/5)
}

// TestMemoryBudgetServesLargeBodyAlone: a valid body that needs most of the
// budget is stored when it is alone; the budget is all given back.
func TestMemoryBudgetServesLargeBodyAlone(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp, MemoryBudget: 8 << 20})
	srv := startHTTP(t, h)
	items := envs(strings.Repeat("x", 3000), 1000) // about 3.2 MB decoded
	r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.Gzip(testkit.NDJSON(items...))), map[string]string{"Content-Encoding": "gzip"})
	if r.Status != http.StatusOK || r.Body.ItemsAccepted != 1000 {
		t.Fatalf("answer %d %.200s", r.Status, r.Raw)
	}
	if got := drain(t, sp); len(got) != 1000 {
		t.Fatalf("spool holds %d records", len(got))
	}
	if n := h.Stats().MemoryInUse; n != 0 {
		t.Fatalf("memory in use %d", n)
	}
}
