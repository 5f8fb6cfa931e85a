package fakeingest

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/breeze"
)

// ErrInvalidConfig is wrapped by the errors New returns for a bad Config.
var ErrInvalidConfig = errors.New("chaos: invalid endpoint config")

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("chaos: endpoint closed")

// Defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:0"
	DefaultMaxConcurrent   = 4
	DefaultRetryAfterGrace = 250 * time.Millisecond
	DefaultBucketWidth     = 100 * time.Millisecond
	DefaultMaxBuckets      = 36000 // one hour of 100 ms buckets
	DefaultMaxIDs          = 1 << 20
	DefaultMaxBodyBytes    = 32 << 20
)

// Config configures an Endpoint. The zero value is a healthy endpoint on a
// random loopback port.
type Config struct {
	// Profile says which faults to inject; nil means a healthy endpoint.
	// It must be valid (profiles from LoadProfile or ProfileByName are).
	Profile *Profile
	// Seed seeds the fault choices: request number n (in order of
	// arrival, from 0) draws from a PCG seeded with (Seed, n). 0 means
	// Profile.Seed, and if that is 0 too a random seed, reported in
	// Report.Seed and logged.
	Seed uint64

	// Addr is the first listener's address (default 127.0.0.1:0).
	Addr string
	// RedirectAddr is the second listener's address, the target of
	// redirects (default 127.0.0.1:0). The second listener runs when the
	// profile redirects or Secondary is set.
	RedirectAddr string
	// Secondary starts the second listener even if the profile does not
	// redirect.
	Secondary bool
	// AllowNonLoopback permits addresses that are not loopback. The
	// endpoint answers anyone who can reach it; keep it on loopback.
	AllowNonLoopback bool

	// ID finds an envelope's id; default DefaultID.
	ID IDFunc
	// SkipValidation accepts any JSON object as an envelope. By default
	// items that are not valid envelopes (per exporter/envelope.Validate:
	// required fields, lengths) are refused with a per-item 400, as the
	// service does.
	SkipValidation bool

	// Body limits (see internal/breeze): a body over MaxBodyBytes
	// (default 32 MiB) or MaxDecodedBytes (default twice that), or with
	// more than MaxItems items (default 64,000), is answered 413; an item
	// over MaxItemBytes (default 64 KiB) gets a per-item 400.
	MaxBodyBytes    int64
	MaxDecodedBytes int64
	MaxItems        int
	MaxItemBytes    int
	// MaxConcurrent bounds the bodies decoded at once (default 4), so
	// memory stays bounded whatever clients send; more requests wait.
	MaxConcurrent int

	// Bodies says how request bodies are read: decoded item by item
	// (DecodeBodies, the default), or only counted (CountBodies) or
	// discarded (DiscardBodies) for load tests, where the endpoint's own
	// cost must stay small. The counting modes stream bodies (so
	// MaxConcurrent does not apply), record no ids and refuse a profile
	// with per-item errors (Profile.Partial).
	Bodies BodyMode
	// Fallback, if set, serves the requests whose path is not a track
	// path (by default they are answered 404), for example a test's own
	// control routes on the same address. Its requests are not recorded.
	Fallback http.Handler

	// RetryAfterGrace: a request arriving on a listener while a
	// Retry-After it gave still runs is a violation, unless it arrives
	// within this long after that answer was sent (it was most likely
	// already in flight); default 250 ms, negative for none.
	RetryAfterGrace time.Duration

	// BucketWidth is the width of the time series' buckets (default
	// 100 ms); MaxBuckets how many recent ones are kept (default 36,000).
	BucketWidth time.Duration
	MaxBuckets  int
	// MaxIDs bounds the ids tracked one by one (default 1,048,576, about
	// 100 MiB); items beyond are counted in Stats.UntrackedItems.
	MaxIDs int

	// Logger receives the endpoint's logs (default slog.Default()):
	// start and stop at Info, each injected fault at Debug, Retry-After
	// violations at Warn. Envelopes are never logged.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Profile == nil {
		c.Profile = &Profile{Name: "healthy"}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.RedirectAddr == "" {
		c.RedirectAddr = DefaultAddr
	}
	if c.ID == nil {
		c.ID = DefaultID
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case c.RetryAfterGrace == 0:
		c.RetryAfterGrace = DefaultRetryAfterGrace
	case c.RetryAfterGrace < 0:
		c.RetryAfterGrace = 0
	}
	if c.BucketWidth <= 0 {
		c.BucketWidth = DefaultBucketWidth
	}
	if c.MaxBuckets <= 0 {
		c.MaxBuckets = DefaultMaxBuckets
	}
	if c.MaxIDs <= 0 {
		c.MaxIDs = DefaultMaxIDs
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Endpoint is a flaky fake Application Insights ingestion endpoint. It
// answers POST /v2/track and /v2.1/track (gzip or plain, JSON array or
// newline-delimited) like the service, injects the faults of its profile,
// and records every envelope it accepts by id. Create it with New,
// then Start; Close stops it and every goroutine it started.
type Endpoint struct {
	cfg    Config
	prof   *compiled
	seed   uint64
	log    *slog.Logger
	rec    *recorder
	limits breeze.Limits
	seq    atomic.Uint64
	sem    chan struct{}
	done   chan struct{} // closed by Close
	// unavailable answers every track request 503 (SetUnavailable).
	unavailable atomic.Bool
	// zrs and bufs are the gzip readers and copy buffers of the counting
	// modes (*gzip.Reader, *[]byte).
	zrs, bufs sync.Pool

	mu      sync.Mutex
	started bool
	closed  bool
	start   time.Time
	stopped time.Time
	lns     []*listener // primary, then secondary if any
	wg      sync.WaitGroup
}

// New validates cfg and returns an Endpoint that is not listening yet.
func New(cfg Config) (*Endpoint, error) {
	cfg = cfg.withDefaults()
	cfg.Profile = cfg.Profile.Clone()
	var errs []error
	if err := cfg.Profile.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: Profile: %w", ErrInvalidConfig, err))
	}
	switch {
	case cfg.Bodies < DecodeBodies || cfg.Bodies > DiscardBodies:
		errs = append(errs, fmt.Errorf("%w: Bodies: unknown mode %d", ErrInvalidConfig, cfg.Bodies))
	case cfg.Bodies != DecodeBodies && cfg.Profile.Partial.Probability > 0:
		errs = append(errs, fmt.Errorf("%w: Bodies: %s cannot answer per-item errors (the profile's partial)", ErrInvalidConfig, cfg.Bodies))
	case cfg.Bodies != DecodeBodies && cfg.Profile.Poison.enabled():
		errs = append(errs, fmt.Errorf("%w: Bodies: %s cannot find poison items (the profile's poison)", ErrInvalidConfig, cfg.Bodies))
	case cfg.Bodies != DecodeBodies && scriptsItemErrors(cfg.Profile.Script):
		errs = append(errs, fmt.Errorf("%w: Bodies: %s cannot answer per-item errors (the profile's script)", ErrInvalidConfig, cfg.Bodies))
	}
	for _, a := range []struct{ field, addr string }{{"Addr", cfg.Addr}, {"RedirectAddr", cfg.RedirectAddr}} {
		if err := checkAddr(a.addr, cfg.AllowNonLoopback); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, a.field, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = cfg.Profile.Seed
	}
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	e := &Endpoint{
		cfg:  cfg,
		prof: compile(cfg.Profile),
		seed: seed,
		log:  cfg.Logger.With(slog.String("component", "chaos"), slog.String("profile", cfg.Profile.Name)),
		rec:  newRecorder(cfg.BucketWidth, cfg.MaxBuckets, cfg.MaxIDs),
		limits: breeze.Limits{
			MaxBodyBytes:    cfg.MaxBodyBytes,
			MaxDecodedBytes: cfg.MaxDecodedBytes,
			MaxItems:        cfg.MaxItems,
			MaxItemBytes:    cfg.MaxItemBytes,
		},
		sem:  make(chan struct{}, cfg.MaxConcurrent),
		done: make(chan struct{}),
	}
	return e, nil
}

// scriptsItemErrors reports whether a script has a 206 that refuses items.
func scriptsItemErrors(script []Step) bool {
	for _, st := range script {
		if st.Status == http.StatusPartialContent && st.ItemErrorRate > 0 {
			return true
		}
	}
	return false
}

// checkAddr checks that addr is host:port with a loopback host, unless any
// is allowed.
func checkAddr(addr string, any bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if any || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address (set AllowNonLoopback to listen there)", host)
}

// Start listens and serves. The windows of the profile count from now.
func (e *Endpoint) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return ErrClosed
	case e.started:
		return errors.New("chaos: endpoint already started")
	}
	names := []string{"primary"}
	addrs := []string{e.cfg.Addr}
	if e.cfg.Secondary || e.cfg.Profile.Redirect.Probability > 0 {
		names = append(names, "secondary")
		addrs = append(addrs, e.cfg.RedirectAddr)
	}
	lns := make([]net.Listener, 0, len(addrs))
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return fmt.Errorf("chaos: listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	for i, ln := range lns {
		e.lns = append(e.lns, newListener(e, names[i], ln))
	}
	e.started = true
	e.start = time.Now()
	e.rec.begin(e.start)
	for _, l := range e.lns {
		l.serve()
	}
	if e.hasRefuseWindows() {
		e.wg.Add(1)
		go e.schedule()
	}
	attrs := []slog.Attr{slog.String("url", e.lns[0].url), slog.Uint64("seed", e.seed)}
	if len(e.lns) > 1 {
		attrs = append(attrs, slog.String("redirect_url", e.lns[1].url))
	}
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "chaos: endpoint started", attrs...)
	return nil
}

// URL returns the base URL of the first listener ("http://127.0.0.1:port"),
// to use as a connection string's IngestionEndpoint; "" before Start.
func (e *Endpoint) URL() string { return e.listenerURL(0) }

// RedirectURL returns the base URL of the second listener, the target of
// redirects; "" if it does not run.
func (e *Endpoint) RedirectURL() string { return e.listenerURL(1) }

func (e *Endpoint) listenerURL(i int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i < len(e.lns) {
		return e.lns[i].url
	}
	return ""
}

// ConnectionString returns a connection string for ikey (DefaultIKey if
// empty) whose IngestionEndpoint is the endpoint.
func (e *Endpoint) ConnectionString(ikey string) string {
	if ikey == "" {
		ikey = DefaultIKey
	}
	return "InstrumentationKey=" + ikey + ";IngestionEndpoint=" + e.URL()
}

// Seed returns the seed in use.
func (e *Endpoint) Seed() uint64 { return e.seed }

// Profile returns the profile in use.
func (e *Endpoint) Profile() *Profile { return e.cfg.Profile }

// Stats returns the counters.
func (e *Endpoint) Stats() Stats {
	s := e.rec.stats()
	s.Healthy = s.Healthy && e.healthyNow()
	return s
}

// healthyNow reports whether nothing but the last answer makes the endpoint
// unhealthy now: it is not unavailable, no fault window was active since
// that answer (a client has heard nothing good since an outage), and no
// Retry-After it gave is running.
func (e *Endpoint) healthyNow() bool {
	e.mu.Lock()
	started, start, lns := e.started, e.start, e.lns
	e.mu.Unlock()
	switch {
	case e.unavailable.Load():
		return false
	case !started:
		return true
	}
	now := time.Now()
	last := max(e.rec.lastAnswerAt().Sub(start), 0)
	if e.prof.windowSince(last, now.Sub(start)) {
		return false
	}
	for _, l := range lns {
		if l.throttledAt(now) {
			return false
		}
	}
	return true
}

// Report returns everything recorded so far.
func (e *Endpoint) Report() Report {
	r := e.rec.report()
	r.Healthy = r.Healthy && e.healthyNow()
	r.Profile = e.cfg.Profile.Name
	r.Seed = e.seed
	e.mu.Lock()
	switch {
	case !e.stopped.IsZero():
		r.Elapsed = e.stopped.Sub(e.start)
	case e.started:
		r.Elapsed = time.Since(e.start)
	}
	e.mu.Unlock()
	return r
}

// Close stops the listeners, aborts the requests being held (latency,
// hangs) and waits for every goroutine the endpoint started. It is
// idempotent.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	if e.started {
		e.stopped = time.Now()
	}
	lns := e.lns
	e.mu.Unlock()
	var errs []error
	for _, l := range lns {
		if err := l.close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.wg.Wait()
	if len(lns) > 0 {
		e.log.LogAttrs(context.Background(), slog.LevelInfo, "chaos: endpoint stopped", slog.Int("requests", e.rec.stats().Requests))
	}
	return errors.Join(errs...)
}

// enter registers a handler; false once the endpoint is closing.
func (e *Endpoint) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// sleep waits for d; false if the endpoint closed or ctx ended first.
func (e *Endpoint) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-e.done:
	}
	return false
}

// trackPath reports whether p is a track path: /v2/track or /v2.1/track,
// trailing slash and a leading prefix tolerated.
func trackPath(p string) bool {
	p = strings.TrimRight(p, "/")
	return strings.HasSuffix(p, "/v2/track") || strings.HasSuffix(p, "/v2.1/track")
}

// ServeHTTP handles one request on the listener.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := l.e
	if !e.enter() {
		http.Error(w, "chaos: endpoint closing", http.StatusServiceUnavailable)
		return
	}
	defer e.wg.Done()
	at := time.Now()
	if r.Method != http.MethodPost || !trackPath(r.URL.Path) {
		if e.cfg.Fallback != nil && !trackPath(r.URL.Path) {
			e.cfg.Fallback.ServeHTTP(w, r)
			return
		}
		status := http.StatusNotFound
		if trackPath(r.URL.Path) {
			status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, http.StatusText(status), status)
		e.rec.request(at, l.name, FaultNotTrack.Outcome(status), false, nil, 0)
		return
	}
	defer e.rec.enter(r.Context())()
	l.checkEarly(at, r)
	n := e.seq.Add(1) - 1
	rng := rand.New(rand.NewPCG(e.seed, n))
	pl := e.prof.draw(rng, at.Sub(e.start), l.secondary)
	if sp, ok := e.prof.scripted(n, pl); ok {
		pl = sp
	}
	if e.unavailable.Load() {
		pl = plan{fault: FaultOutage, status: http.StatusServiceUnavailable, latency: pl.latency}
	}
	log := e.log.With(slog.Uint64("request", n), slog.String("listener", l.name))
	if l.preempt(w, r, n, pl, at, log) {
		return
	}
	if e.cfg.Bodies != DecodeBodies {
		l.serveCounted(w, r, pl, at, log)
		return
	}

	items, size, err := e.decode(r)
	if err != nil {
		l.badBody(w, r, err, at, log)
		return
	}
	if e.prof.poisonStatus != 0 && pl.fault.processes() && slices.ContainsFunc(items, poisoned) {
		pl = plan{fault: FaultPoison, status: e.prof.poisonStatus, latency: pl.latency}
	}
	answers, resp, status := e.answer(items, pl, rng)
	l.finish(w, r, pl, status, resp, log, func(label string, lost bool) {
		e.rec.request(at, l.name, label, lost, answers, processedBytes(pl, size))
	})
}

// finish waits out the plan's latency and hang, records the request with
// record (its outcome label, and whether its answer is lost) and writes the
// answer.
func (l *listener) finish(w http.ResponseWriter, r *http.Request, pl plan, status int, resp breeze.TrackResponse, log *slog.Logger, record func(label string, lost bool)) {
	fault := l.e.hold(r.Context(), pl)
	label := fault.Outcome(status)
	switch fault {
	case FaultHang, FaultResetAfterAccept, FaultClientGone:
		label = string(fault) // no status was sent
	}
	record(label, fault.lost())
	if fault != FaultNone {
		log.LogAttrs(r.Context(), slog.LevelDebug, "chaos: fault", slog.String("outcome", label), slog.Int("items", resp.ItemsReceived))
	}
	l.respond(w, pl, fault, status, resp)
}

// processedBytes is size if the plan processes the request's items, else 0:
// Stats.BodyBytes counts the bodies of processed requests only.
func processedBytes(pl plan, size int64) int64 {
	if pl.fault.processes() {
		return size
	}
	return 0
}

// preempt applies the faults that need no body: a refused connection
// during an outage, a reset mid-request, a redirect. It reports whether it
// answered.
func (l *listener) preempt(w http.ResponseWriter, r *http.Request, n uint64, pl plan, at time.Time, log *slog.Logger) bool {
	e := l.e
	switch {
	case pl.refuse:
		hijackReset(w)
		e.rec.request(at, l.name, string(FaultOutage)+"_refused", false, nil, 0)
	case pl.fault == FaultReset:
		// Read part of the body, then reset: the client is cut off
		// mid-request.
		_, _ = io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 1))
		hijackReset(w)
		log.LogAttrs(r.Context(), slog.LevelDebug, "chaos: reset mid-request")
		e.rec.request(at, l.name, string(FaultReset), false, nil, 0)
	case pl.fault == FaultRedirect:
		w.Header().Set("Location", e.listenerURL(1)+r.URL.Path+"?"+redirectMarker+"="+strconv.FormatUint(n, 10))
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(e.prof.redirectMaxAge/time.Second)))
		w.WriteHeader(pl.status)
		log.LogAttrs(r.Context(), slog.LevelDebug, "chaos: redirect", slog.Int("status", pl.status))
		e.rec.request(at, l.name, pl.fault.Outcome(pl.status), false, nil, 0)
	default:
		return false
	}
	return true
}

// badBody answers a body that could not be decoded.
func (l *listener) badBody(w http.ResponseWriter, r *http.Request, err error, at time.Time, log *slog.Logger) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, breeze.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, breeze.ErrUnsupportedEncoding):
		status = http.StatusUnsupportedMediaType
	case r.Context().Err() != nil, errors.Is(err, errClosing):
		// The client or the endpoint went away while the body was read.
		l.e.rec.request(at, l.name, string(FaultClientGone), false, nil, 0)
		return
	}
	log.LogAttrs(r.Context(), slog.LevelDebug, "chaos: bad body", slog.Int("status", status), slog.Any("err", err))
	http.Error(w, err.Error(), status)
	l.e.rec.request(at, l.name, FaultBadBody.Outcome(status), false, nil, 0)
}

// answer decides what the answer says about each item: processed item by
// item, or one whole-request status shared by all.
func (e *Endpoint) answer(items []breeze.Item, pl plan, rng *rand.Rand) ([]itemAnswer, breeze.TrackResponse, int) {
	if pl.fault.processes() {
		return e.process(items, pl, rng)
	}
	// A wrong endpoint's answer (even a 200) says nothing about the items:
	// a client keeps them all.
	keep := pl.fault == FaultWrongEndpoint || KeepsWholeRequest(pl.status)
	answers := make([]itemAnswer, len(items))
	for i, it := range items {
		a := &answers[i]
		a.id, a.hasID = e.itemID(it)
		a.poison = pl.fault == FaultPoison && poisoned(it)
		a.retry = keep
		if !keep {
			a.reason = dropReason(pl.status, false)
		}
	}
	return answers, breeze.TrackResponse{ItemsReceived: len(items), Errors: []breeze.ItemError{}}, pl.status
}

// hold waits out the plan's latency and hang, and returns the fault that
// applies then: FaultClientGone if the client (or the endpoint) went away
// before an answer that would otherwise have reached it.
func (e *Endpoint) hold(ctx context.Context, pl plan) Fault {
	gone := !e.sleep(ctx, pl.latency)
	if pl.fault == FaultHang && !gone {
		e.sleep(ctx, e.prof.hang)
	}
	if (gone || ctx.Err() != nil) && !pl.fault.lost() {
		return FaultClientGone
	}
	return pl.fault
}

// respond writes the answer the fault calls for. A Retry-After is noted as
// given only when the answer is written.
func (l *listener) respond(w http.ResponseWriter, pl plan, fault Fault, status int, resp breeze.TrackResponse) {
	body, _ := json.Marshal(resp) // plain structs: cannot fail
	h := w.Header()
	if pl.retryAfter > 0 && !fault.lost() {
		now := time.Now()
		until := now.Add(time.Duration(pl.retryAfter) * time.Second)
		if pl.date {
			// An HTTP date has whole seconds: round up.
			until = until.Truncate(time.Second).Add(time.Second)
			h.Set("Retry-After", until.UTC().Format(http.TimeFormat))
		} else {
			h.Set("Retry-After", strconv.Itoa(pl.retryAfter))
		}
		l.throttle(now, until)
	}
	switch fault {
	case FaultHang, FaultResetAfterAccept, FaultClientGone:
		hijackReset(w)
	case FaultTruncate:
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body[:len(body)/2])
		hijackClose(w)
	case FaultGarbage:
		h.Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body><h1>chaos</h1>not a track response</body></html>")
	case FaultWrongEndpoint:
		if pl.html {
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, wrongEndpointPage)
			return
		}
		if status == http.StatusMethodNotAllowed {
			h.Set("Allow", http.MethodGet)
		}
		http.Error(w, http.StatusText(status), status)
	default:
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// wrongEndpointPage is what a wrong-endpoint window of mode "html" answers
// with 200: a proxy's or captive portal's page, not a track response.
const wrongEndpointPage = "<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sign in to continue</h1>" +
	"<p>chaos: this is not the ingestion service (wrong-endpoint window)</p></body></html>"

var errClosing = errors.New("chaos: endpoint closing")

// decode reads the request's items, at most MaxConcurrent at a time, and
// the body's size as received.
func (e *Endpoint) decode(r *http.Request) ([]breeze.Item, int64, error) {
	select {
	case e.sem <- struct{}{}:
	case <-r.Context().Done():
		return nil, 0, fmt.Errorf("chaos: decode: %w", r.Context().Err())
	case <-e.done:
		return nil, 0, errClosing
	}
	defer func() { <-e.sem }()
	body := &bodyReader{r: r.Body}
	items, err := breeze.Decode(body, r.Header.Get("Content-Encoding"), e.limits)
	if err != nil {
		return nil, 0, fmt.Errorf("chaos: decode: %w", err)
	}
	return items, body.n, nil
}

// process answers each item of a processed request: invalid items get a
// per-item 400, valid ones are accepted unless the request is partial and
// the item draws an error. The status is 200 without errors, 206 with some,
// and 400 (with errors[]) if none was accepted and some refusal is
// permanent.
func (e *Endpoint) process(items []breeze.Item, pl plan, rng *rand.Rand) ([]itemAnswer, breeze.TrackResponse, int) {
	resp := breeze.TrackResponse{ItemsReceived: len(items), Errors: []breeze.ItemError{}}
	answers := make([]itemAnswer, len(items))
	permanent := false
	for i, it := range items {
		a := &answers[i]
		code, msg := 0, ""
		a.id, a.hasID = e.itemID(it)
		if err := e.validate(it); err != nil {
			a.invalid = true
			code, msg = http.StatusBadRequest, err.Error()
		} else if pl.partial {
			code, msg = e.prof.itemFate(rng, pl)
		}
		if code == 0 {
			a.accepted = true
			resp.ItemsAccepted++
			continue
		}
		resp.Errors = append(resp.Errors, breeze.ItemError{Index: i, StatusCode: code, Message: msg})
		sampled := msg == SampledOutMessage
		switch {
		case !sampled && RetriableItemCode(code):
			a.retry = true
		default:
			a.reason = dropReason(code, sampled)
			permanent = true
		}
	}
	status := http.StatusOK
	switch {
	case len(resp.Errors) == 0:
	case resp.ItemsAccepted == 0 && permanent:
		status = http.StatusBadRequest
	default:
		status = http.StatusPartialContent
	}
	return answers, resp, status
}

// validate returns an item's problem: not a JSON object, too large, or
// (unless SkipValidation) not a valid envelope; the message is the per-item
// error message, numbered like the service's ("109: ...").
func (e *Endpoint) validate(it breeze.Item) error {
	if it.Err != nil {
		return it.Err
	}
	if e.cfg.SkipValidation {
		return nil
	}
	if err := envelope.Validate(it.Raw); err != nil {
		return fmt.Errorf("109: %w", err)
	}
	return nil
}

func (e *Endpoint) itemID(it breeze.Item) (string, bool) {
	if it.Err != nil {
		return "", false
	}
	return e.cfg.ID(it.Raw)
}
