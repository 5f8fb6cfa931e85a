package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/spool"
)

// settleTimeout bounds settling a batch with the queue. Settling uses a
// context detached from Run's, so that records of a request cancelled by
// shutdown are still handed back.
const settleTimeout = 30 * time.Second

// Sender drains a Queue to the Application Insights ingestion endpoint.
// Create it with New, start it with Run, stop it with Close.
type Sender struct {
	cfg    Config
	cs     *connstring.ConnectionString
	tx     *transmitter
	stats  *statsCollector
	poison *strikes
	log    *slog.Logger

	wake chan struct{} // cap 1: a batch finished, or Flush was called
	stop chan struct{} // closed by Close
	done chan struct{} // closed when Run returns

	mu        sync.Mutex
	started   bool
	closed    bool
	inflight  int
	cancelReq context.CancelFunc // cancels in-flight requests
	flushReq  uint64             // tickets handed out by Flush
	flushDone uint64             // tickets satisfied
	progress  chan struct{}      // closed and replaced when flushDone grows
	wg        sync.WaitGroup     // deliveries
}

// New validates cfg, resolves the connection string (cfg.ConnectionString,
// else APPLICATIONINSIGHTS_CONNECTION_STRING through cfg.LookupEnv) and
// returns a Sender that is not running yet.
func New(cfg Config) (*Sender, error) {
	errs := []error{cfg.Validate()}
	cfg = cfg.withDefaults()
	cs, err := connstring.Resolve(cfg.ConnectionString, cfg.LookupEnv)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: ConnectionString: %w", ErrInvalidConfig, err))
	} else if cs.AAD && cfg.TokenSource == nil {
		errs = append(errs, fmt.Errorf("%w: TokenSource: required by Authorization=AAD in the connection string (package entra provides one)", ErrInvalidConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// One gzip writer: the requests in flight overlap their waits for the
	// endpoint, and compressing one at a time (about 1 GB of envelopes per
	// second and core at level 2, far more than an ingestion endpoint
	// takes) keeps compression's memory to one writer.
	bodies, err := newBodyPool(cfg.CompressionLevel, 1)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		cfg:      cfg,
		cs:       cs,
		stats:    newStatsCollector(),
		poison:   newStrikes(),
		log:      cfg.Logger.With(slog.String("component", "sender"), slog.String("ikey", cs.RedactedKey())),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		progress: make(chan struct{}),
	}
	var tokens *tokenCache
	if cs.AAD || cfg.TokenSource != nil {
		tokens = &tokenCache{src: cfg.TokenSource, scope: cs.TokenScope(), clock: cfg.Clock}
	}
	s.tx = newTransmitter(&s.cfg, cs.TrackURL, tokens, bodies, s.stats)
	return s, nil
}

// Endpoint returns the track URL the sender posts to (before redirects).
// It may hold credentials; show it through connstring.RedactURL.
func (s *Sender) Endpoint() string { return s.cs.TrackURL }

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats {
	st := s.stats.snapshot()
	s.mu.Lock()
	st.InFlight = s.inflight
	s.mu.Unlock()
	st.ThrottledUntil = s.tx.endpoint(s.tx.target()).until()
	return st
}

func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run drains the queue until Close is called (then it returns nil once the
// requests in flight are settled) or ctx ends (then requests in flight are
// cancelled, their records kept, and it returns ctx's error). A Sender runs
// once: Run returns ErrRunning if it is running, ErrClosed after Close, and
// an error wrapping ErrQueueClosed if the queue closes under it.
func (s *Sender) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.started:
		s.mu.Unlock()
		return ErrRunning
	}
	s.started = true
	reqCtx, cancel := context.WithCancel(ctx)
	s.cancelReq = cancel
	s.mu.Unlock()

	s.log.LogAttrs(ctx, slog.LevelInfo, "sender: started", slog.Any("connection", s.cs))
	err := s.loop(ctx, reqCtx)
	s.wg.Wait()
	cancel()
	close(s.done)
	return err
}

// loop leases batches and starts deliveries until stopped.
func (s *Sender) loop(ctx, reqCtx context.Context) error {
	cfg := &s.cfg
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sender: run: %w", ctx.Err())
		case <-s.stop:
			return nil
		default:
		}
		ep := s.tx.endpoint(s.tx.target())
		if w := ep.wait(cfg.Clock.Now()); w > 0 {
			// Throttled or backing off: nothing goes out before the gate.
			if err := s.sleep(ctx, w, nil); err != nil {
				return err
			}
			continue
		}
		s.mu.Lock()
		busy := s.inflight >= ep.allowed(cfg.MaxInFlight)
		idle := s.inflight == 0
		ticket := s.flushReq
		s.mu.Unlock()
		if busy {
			if err := s.sleep(ctx, -1, nil); err != nil {
				return err
			}
			continue
		}
		b, err := cfg.Queue.Lease(ctx, cfg.MaxBatchItems, cfg.MaxBatchBytes)
		if err != nil {
			if errors.Is(err, ErrQueueClosed) {
				return fmt.Errorf("sender: run: %w", err)
			}
			if ctx.Err() != nil {
				continue
			}
			s.stats.queueError()
			s.log.LogAttrs(ctx, slog.LevelError, "sender: lease failed", slog.Any("err", err))
			if err := s.sleep(ctx, cfg.PollInterval, nil); err != nil {
				return err
			}
			continue
		}
		if b == nil {
			if d, ok := cfg.Queue.(delaying); ok && idle && !d.nextDue().IsZero() {
				idle = false // records wait a delay of their own: not flushed yet
			}
			if idle {
				// Nothing queued and nothing in flight: every Flush that
				// started before this lease is done.
				s.flushed(ticket)
			}
			wait := cfg.PollInterval
			if d, ok := cfg.Queue.(delaying); ok {
				if due := d.nextDue(); !due.IsZero() {
					wait = min(wait, max(due.Sub(cfg.Clock.Now()), 0))
				}
			}
			if err := s.sleep(ctx, wait, cfg.Queue.Notify()); err != nil {
				return err
			}
			continue
		}
		batches := []Batch{b}
		if !ep.failing() {
			// A probe of a failing endpoint stays one batch: topping it up
			// would hold more of the spool in flight for a likely failure
			// (and keep more segments from eviction).
			batches = s.topUp(ctx, b)
		}
		for range batches {
			s.stats.batch()
		}
		s.mu.Lock()
		s.inflight++
		s.mu.Unlock()
		s.wg.Add(1)
		go s.deliver(reqCtx, batches)
	}
}

// topUp fills a request: a batch comes from one spool segment, so records
// that a partial success kept for a retry in an older segment would go out
// as a small request of their own between full ones. When b fills less than
// half of a request, topUp leases more, up to the request's limits, and the
// batches travel in one request (each is settled on its own).
func (s *Sender) topUp(ctx context.Context, b Batch) []Batch {
	cfg := &s.cfg
	batches := []Batch{b}
	items, bytes := 0, 0
	for _, r := range b.Records() {
		items++
		bytes += len(r.Data)
	}
	for len(batches) < maxTopUps && items < cfg.MaxBatchItems/2 && bytes < cfg.MaxBatchBytes/2 {
		more, err := cfg.Queue.Lease(ctx, cfg.MaxBatchItems-items, cfg.MaxBatchBytes-bytes)
		if err != nil || more == nil {
			break // nothing more now; a failed lease is the next loop's to report
		}
		batches = append(batches, more)
		for _, r := range more.Records() {
			items++
			bytes += len(r.Data)
		}
	}
	return batches
}

// maxTopUps bounds the batches in one request.
const maxTopUps = 4

// sleep waits for d (forever when d < 0), a wake-up, notify (if not nil),
// Close or the end of ctx.
func (s *Sender) sleep(ctx context.Context, d time.Duration, notify <-chan struct{}) error {
	var fire <-chan time.Time
	if d >= 0 {
		t := s.cfg.Clock.NewTimer(d)
		defer t.Stop()
		fire = t.C()
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("sender: run: %w", ctx.Err())
	case <-s.stop:
	case <-s.wake:
	case <-notify:
	case <-fire:
	}
	return nil
}

func (s *Sender) flushed(ticket uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ticket > s.flushDone {
		s.flushDone = ticket
		close(s.progress)
		s.progress = make(chan struct{})
	}
}

// Flush returns nil once every record queued before the call has an
// outcome: delivered, or dropped and counted. It waits for the sender to
// find the queue empty with nothing in flight; records kept for retry keep it
// waiting (the back-off gate is honoured), so bound it with ctx. Under a
// steady stream of new records the queue may never be empty: Flush then
// returns ctx's error. It needs Run; after Close or when Run has returned it
// returns ErrClosed.
func (s *Sender) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.flushReq++
	ticket := s.flushReq
	s.mu.Unlock()
	s.signal()
	for {
		s.mu.Lock()
		ok, progress := s.flushDone >= ticket, s.progress
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("sender: flush: %w", ctx.Err())
		case <-s.done:
			return ErrClosed
		case <-s.stop:
			return ErrClosed
		}
	}
}

// Close stops leasing and waits for the requests in flight to finish and be
// settled, until ctx ends; then it cancels them (their records are kept for
// retry), waits for that, and returns ctx's error. It does not send what is
// still queued: call Flush first for that. Close is idempotent.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		s.cancelReq()
		s.mu.Unlock()
		<-s.done
		return fmt.Errorf("sender: close: %w", ctx.Err())
	}
}

// outcome accumulates what became of a batch's records, by index.
type outcome struct {
	retry []int
	drop  map[string][]int
	// due holds when retried records that must wait may go again (a
	// partial success, an isolated item, a probe that failed as a whole):
	// absolute times, turned into delays when the batch is settled.
	due map[int]time.Time
}

func (o *outcome) dropped(reason string, i ...int) {
	if o.drop == nil {
		o.drop = make(map[string][]int)
	}
	o.drop[reason] = append(o.drop[reason], i...)
}

func (o *outcome) delayed(i int, at time.Time) {
	if o.due == nil {
		o.due = make(map[int]time.Time)
	}
	o.retry = append(o.retry, i)
	o.due[i] = at
}

// slice returns the outcome of the records [lo, hi), indexed from lo.
func (o *outcome) slice(lo, hi int) *outcome {
	sub := &outcome{}
	for _, i := range o.retry {
		if i >= lo && i < hi {
			sub.retry = append(sub.retry, i-lo)
			if at, ok := o.due[i]; ok {
				if sub.due == nil {
					sub.due = make(map[int]time.Time)
				}
				sub.due[i-lo] = at
			}
		}
	}
	for reason, idx := range o.drop {
		for _, i := range idx {
			if i >= lo && i < hi {
				sub.dropped(reason, i-lo)
			}
		}
	}
	return sub
}

func (o *outcome) ndropped() int {
	n := 0
	for _, idx := range o.drop {
		n += len(idx)
	}
	return n
}

// deliver sends one leased batch and settles it with the queue.
func (s *Sender) deliver(ctx context.Context, batches []Batch) {
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
		s.signal()
		s.wg.Done()
	}()
	if len(batches) == 1 {
		recs := batches[0].Records()
		s.settle(ctx, batches[0], len(recs), s.send(ctx, recs))
		return
	}
	var recs []spool.Record
	for _, b := range batches {
		recs = append(recs, b.Records()...)
	}
	out := s.send(ctx, recs)
	lo := 0
	for _, b := range batches {
		n := len(b.Records())
		s.settle(ctx, b, n, out.slice(lo, lo+n))
		lo += n
	}
}

// send screens recs (expiry, attempts, size) and sends the rest.
func (s *Sender) send(ctx context.Context, recs []spool.Record) *outcome {
	cfg := &s.cfg
	now := cfg.Clock.Now()
	out := &outcome{}
	live := make([]int, 0, len(recs))
	for i, r := range recs {
		switch {
		case cfg.MaxAge > 0 && !r.Time.IsZero() && now.Sub(r.Time) > cfg.MaxAge:
			out.dropped(breeze.ReasonExpired, i)
		case cfg.MaxAttempts > 0 && r.Attempts >= cfg.MaxAttempts:
			out.dropped(breeze.ReasonMaxAttempts, i)
		case cfg.MaxItemBytes > 0 && lineLen(r.Data) > cfg.MaxItemBytes:
			out.dropped(breeze.ReasonTooLarge, i)
		default:
			live = append(live, i)
		}
	}
	if len(live) > 0 {
		s.sendSet(ctx, recs, live, out)
	}
	return out
}

// lineLen is the length of a record without its trailing newline.
func lineLen(b []byte) int {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return n - 1
	}
	return len(b)
}

// sendSet sends recs[idx...] as one request (splitting on 413, isolating an
// item that makes it fail) and records the outcome. It returns true when the
// endpoint should get nothing more now (back-off armed, or the request was
// cancelled).
func (s *Sender) sendSet(ctx context.Context, recs []spool.Record, idx []int, out *outcome) bool {
	ex, ok := s.exchange(ctx, recs, idx, out)
	if !ok {
		return true
	}
	if ex.verdict.Isolate && ex.healthy && s.cfg.PoisonAttempts > 0 {
		if len(idx) > 1 {
			return s.isolate(ctx, recs, idx, ex, out)
		}
		// Alone: the item's doing, or the start of an outage met by a
		// one-item request? Only requests without it that succeeded while
		// it failed tell (an isolation's strike, or successes since it
		// last failed alone); without them the failure is handled as any
		// other (the endpoint backs off, the item waits past the gate), so
		// that an outage never drops an item as poison.
		if s.poison.suspect(recs[idx[0]].Data, ex.endpoint.succeeded()) {
			s.strike(ctx, recs, idx[0], ex, out)
			return false
		}
	}
	return s.apply(ctx, recs, idx, ex, out)
}

// exchange sends recs[idx...] once. It reports false, with the records kept,
// when ctx ended (a shutdown is not the endpoint's fault) or the endpoint's
// gate is closed.
func (s *Sender) exchange(ctx context.Context, recs []spool.Record, idx []int, out *outcome) (exchange, bool) {
	if ctx.Err() != nil {
		out.retry = append(out.retry, idx...)
		return exchange{}, false
	}
	// The loop checked the gate before leasing; a resend (split, isolation)
	// meets whatever gate another request's answer set meanwhile: a
	// Retry-After always wins. The records go back rather than hold a
	// delivery for the gate's length.
	if s.tx.endpoint(s.tx.target()).wait(s.cfg.Clock.Now()) > 0 {
		out.retry = append(out.retry, idx...)
		return exchange{}, false
	}
	ex := s.tx.send(ctx, recs, idx)
	if ctx.Err() != nil {
		out.retry = append(out.retry, idx...)
		return exchange{}, false
	}
	return ex, true
}

// apply records what ex's verdict means for recs[idx...] and tells the
// endpoint's back-off. It returns true when the endpoint should get nothing
// more now.
func (s *Sender) apply(ctx context.Context, recs []spool.Record, idx []int, ex exchange, out *outcome) bool {
	v := ex.verdict
	now := s.cfg.Clock.Now()
	gate := ex.endpoint.done(ex.gen, v.Backoff, v.RetryAfter, now)
	if v.Status >= 200 && v.Status < 300 && !v.WrongEndpoint {
		s.stats.success(now)
	}
	if v.Split {
		s.log.LogAttrs(ctx, slog.LevelInfo, "sender: request too large, splitting", slog.Int("items", len(idx)))
		h := len(idx) / 2
		if s.sendSet(ctx, recs, idx[:h], out) {
			out.retry = append(out.retry, idx[h:]...)
			return true
		}
		return s.sendSet(ctx, recs, idx[h:], out)
	}
	// Kept items wait a delay of their own when the endpoint accepted
	// others (a partial success): it grows with their attempts. When the
	// request failed as a whole in a way one item can cause, they wait just
	// past the endpoint's gate, so that the next probe carries other
	// records: a batch holding a poison item never stands at the head of the
	// queue for good (after an outage, or at start, its probe would fail
	// forever, and isolation needs a healthy endpoint to begin).
	var past time.Time
	if v.Isolate && v.Backoff {
		past = maxTime(gate, now).Add(rotateSlack)
	}
	jitter := 0.5 + rand.Float64() // one draw per answer: its items travel together
	for _, i := range v.Retry {
		switch {
		case v.Delay:
			out.delayed(idx[i], now.Add(s.recordDelay(recs[idx[i]].Attempts, jitter)))
		case !past.IsZero():
			out.delayed(idx[i], past)
		default:
			out.retry = append(out.retry, idx[i])
		}
	}
	if v.Delay {
		s.stats.delayed(len(v.Retry))
	}
	for reason, di := range v.Drop {
		for _, i := range di {
			out.dropped(reason, idx[i])
		}
	}
	if v.Backoff {
		attrs := []slog.Attr{
			slog.Int("status", v.Status), slog.String("endpoint", endpointKey(ex.url)),
			slog.Int("items", len(idx)), slog.Int("kept", len(v.Retry)),
			slog.Duration("wait", gate.Sub(now)),
		}
		if v.RetryAfter > 0 {
			attrs = append(attrs, slog.Duration("retry_after", v.RetryAfter))
		}
		if v.Err != nil {
			attrs = append(attrs, slog.String("err", errWithoutURL(v.Err, endpointKey(ex.url))))
		}
		if v.WrongEndpoint {
			// A configuration mistake (a wrong host or path, a proxy): it
			// gets fixed, and the data must survive it.
			s.stats.wrongEndpoint()
			s.log.LogAttrs(ctx, slog.LevelError, "sender: the answer is not from an ingestion service (wrong host or path, or a proxy); keeping everything and backing off", attrs...)
		} else {
			s.log.LogAttrs(ctx, slog.LevelWarn, "sender: endpoint unavailable, backing off", attrs...)
		}
	}
	return v.Backoff
}

// isolate handles a request that failed as a whole (ex) while its endpoint
// was healthy: one bad item can cause that. It resends the two halves. A
// half that fails again is isolated further (an item alone gets a strike,
// see strike); when both halves fail and no request to the endpoint
// succeeded meanwhile, it is an outage, not an item: everything is kept and
// the endpoint backs off, as for any failure. It returns true when the
// endpoint should get nothing more now.
func (s *Sender) isolate(ctx context.Context, recs []spool.Record, idx []int, ex exchange, out *outcome) bool {
	s.stats.isolation()
	mark := ex.endpoint.succeeded()
	s.log.LogAttrs(ctx, slog.LevelInfo, "sender: request failed while the endpoint is healthy; resending in halves to isolate a bad item",
		slog.Int("status", ex.verdict.Status), slog.Int("items", len(idx)))
	h := len(idx) / 2
	halves := [2][]int{idx[:h], idx[h:]}
	var failed [2]exchange
	var nfailed int
	for k, half := range halves {
		hx, ok := s.exchange(ctx, recs, half, out)
		if !ok {
			// Cancelled, or the gate closed (another request's answer):
			// this half is kept (by exchange), and so is every other
			// that has no outcome yet, the first if it failed.
			if k == 0 {
				out.retry = append(out.retry, halves[1]...)
			} else if failed[0].endpoint != nil {
				out.retry = append(out.retry, halves[0]...)
			}
			return true
		}
		if hx.verdict.Isolate {
			failed[k], nfailed = hx, nfailed+1
			continue
		}
		if s.apply(ctx, recs, half, hx, out) {
			// Throttled or backing off meanwhile: stop here.
			for j := k + 1; j < 2; j++ {
				out.retry = append(out.retry, halves[j]...)
			}
			for j := range k {
				if failed[j].endpoint != nil {
					out.retry = append(out.retry, halves[j]...)
				}
			}
			return true
		}
	}
	if nfailed == 2 && ex.endpoint.succeeded() == mark {
		// Nothing got through: the endpoint is down, not one item. The
		// last answer decides the back-off; every item of idx is kept.
		down := failed[1]
		down.verdict.Retry = make([]int, len(idx))
		for i := range idx {
			down.verdict.Retry[i] = i
		}
		return s.apply(ctx, recs, idx, down, out)
	}
	for k, half := range halves {
		if failed[k].endpoint == nil {
			continue
		}
		if len(half) == 1 {
			s.strike(ctx, recs, half[0], failed[k], out)
			continue
		}
		if s.isolate(ctx, recs, half, failed[k], out) {
			if k == 0 && failed[1].endpoint != nil {
				out.retry = append(out.retry, halves[1]...)
			}
			return true
		}
	}
	return false
}

// strike counts a failure of item i alone, while requests without it
// succeed. At PoisonAttempts strikes it is dropped as poison (logged by type,
// size and age, never by content); before that it is retried after a
// per-record delay, so that it holds nothing back.
func (s *Sender) strike(ctx context.Context, recs []spool.Record, i int, ex exchange, out *outcome) {
	r := recs[i]
	n := s.poison.strike(r.Data, ex.endpoint.succeeded())
	if n < s.cfg.PoisonAttempts {
		out.delayed(i, s.cfg.Clock.Now().Add(s.recordDelay(r.Attempts, 0.5+rand.Float64())))
		return
	}
	s.poison.forget(r.Data)
	out.dropped(breeze.ReasonPoison, i)
	attrs := []slog.Attr{
		slog.String("type", envelopeType(r.Data)), slog.Int("bytes", len(r.Data)),
		slog.Int("status", ex.verdict.Status), slog.Int("failed_alone", n),
	}
	if !r.Time.IsZero() {
		attrs = append(attrs, slog.Duration("age", s.cfg.Clock.Now().Sub(r.Time).Round(time.Millisecond)))
	}
	if ex.verdict.Err != nil {
		attrs = append(attrs, slog.String("err", ex.verdict.Err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelError, "sender: dropping a poison item: every request holding it failed while others succeeded", attrs...)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// maxRecordDelay caps a record's own delay (see recordDelay).
const maxRecordDelay = 5 * time.Second

// rotateSlack is how far past the endpoint's gate the records of a request
// that failed as a whole wait, so that the next probe leases others first.
const rotateSlack = time.Millisecond

// recordDelay is how long a record kept by a healthy endpoint waits before
// it is sent again: BackoffInitial growing 1.5 times per attempt, capped at
// BackoffMax, times jitter (drawn in [0.5, 1.5) by the caller, once per
// answer, so that the items one answer kept travel together).
func (s *Sender) recordDelay(attempts int, jitter float64) time.Duration {
	d := float64(s.cfg.BackoffInitial)
	for range min(attempts, 64) {
		d *= 1.5
		if d >= float64(s.cfg.BackoffMax) {
			break
		}
	}
	d = min(d, float64(s.cfg.BackoffMax))
	// The attempts count every retry, an outage's too: capped, so that
	// items a healthy service throttled come back within seconds once it
	// recovers, whatever they went through before.
	return min(time.Duration(d*jitter), maxRecordDelay)
}

// settle hands the outcome to the queue and counts it.
func (s *Sender) settle(ctx context.Context, b Batch, n int, out *outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	ndrop := out.ndropped()
	var err error
	switch {
	case len(out.retry) == 0 && ndrop == 0:
		err = b.Ack(ctx)
	case len(out.retry) == n && out.due == nil:
		err = b.Nack(ctx)
	default:
		slices.Sort(out.retry)
		o := spool.Outcome{Retry: out.retry, Dropped: out.drop}
		if out.due != nil {
			now := s.cfg.Clock.Now()
			o.RetryDelay = make([]time.Duration, len(out.retry))
			for j, i := range out.retry {
				if at, ok := out.due[i]; ok {
					o.RetryDelay[j] = max(at.Sub(now), time.Nanosecond)
				}
			}
		}
		err = b.Settle(ctx, o)
	}
	if err != nil {
		s.stats.queueError()
		s.log.LogAttrs(ctx, slog.LevelError, "sender: settling a batch failed", slog.Int("items", n), slog.Any("err", err))
	}
	s.stats.outcome(n-len(out.retry)-ndrop, len(out.retry), out.drop)
	if ndrop > 0 {
		attrs := make([]slog.Attr, 0, len(out.drop))
		for reason, idx := range out.drop {
			attrs = append(attrs, slog.Int(reason, len(idx)))
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "sender: items dropped", slog.Int("items", ndrop), slog.Any("by_reason", slog.GroupValue(attrs...)))
	}
}

// errWithoutURL is err's message without the URL that the transport and
// net/http put in front ("sender: POST https://host: Post \"https://host/v2.1/track\": ")
// when the log line names the endpoint already.
func errWithoutURL(err error, endpoint string) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = strings.Replace(msg, fmt.Sprintf("%s %q: ", ue.Op, ue.URL), "", 1)
	}
	return strings.TrimPrefix(msg, "sender: POST "+endpoint+": ")
}
