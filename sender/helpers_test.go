package sender

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze/breezetest"
	"github.com/aispool/aispool/internal/clock"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// testEpoch is the "now" of the response vectors.
var testEpoch = breezetest.Epoch

// fakeClock is a [clock.Clock] that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	ch  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: testEpoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	c := t.clk
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// pending returns the deadlines of the timers not yet fired.
func (c *fakeClock) pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, len(c.timers))
	for i, t := range c.timers {
		out[i] = t.at
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// waitTimer waits (in real time, bounded) until a pending timer is due at
// or after at, and returns its deadline.
func (c *fakeClock) waitTimer(t *testing.T, at time.Time) time.Time {
	t.Helper()
	var due time.Time
	if !testkit.Poll(10*time.Second, time.Millisecond, func() bool {
		for _, p := range c.pending() {
			if !p.Before(at) {
				due = p
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no timer at or after %v; pending %v", at.Sub(testEpoch), c.pending())
	}
	return due
}

// reply is one scripted answer of the test endpoint.
type reply struct {
	status int
	header map[string]string
	body   string
	hang   bool // block until the request is cancelled
	reset  bool // close the connection without answering
}

// seen is one request the test endpoint received.
type seen struct {
	at     time.Time // fake-clock time
	host   string    // Host the client addressed (before test routing)
	path   string
	header http.Header
	lines  []string
}

// endpoint is a loopback ingestion endpoint that replays scripted replies
// in order and acknowledges everything once the script is exhausted.
type endpoint struct {
	t      *testing.T
	srv    *httptest.Server
	clk    *fakeClock
	mu     sync.Mutex
	script []reply
	reqs   []seen
	// respond, if set, answers each request once the script is exhausted
	// (instead of acknowledging everything), from the request's lines.
	respond func(lines []string) reply
}

func newEndpoint(t *testing.T, clk *fakeClock, script ...reply) *endpoint {
	e := &endpoint{t: t, clk: clk, script: script}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) URL() string { return e.srv.URL }

func (e *endpoint) connString() string {
	return "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + e.srv.URL + "/"
}

func (e *endpoint) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.reqs...)
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	var lines []string
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			e.t.Errorf("endpoint: body is not gzip: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	host := r.Header.Get("X-Original-Host")
	if host == "" {
		host = r.Host
	}
	e.mu.Lock()
	e.reqs = append(e.reqs, seen{at: e.clk.Now(), host: host, path: r.URL.Path, header: r.Header.Clone(), lines: lines})
	var rep reply
	switch {
	case len(e.script) > 0:
		rep, e.script = e.script[0], e.script[1:]
	case e.respond != nil:
		rep = e.respond(lines)
	default:
		rep = reply{status: 200, body: fmt.Sprintf(`{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, len(lines), len(lines))}
	}
	e.mu.Unlock()
	switch {
	case rep.hang:
		<-r.Context().Done()
		return
	case rep.reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			e.t.Error("no hijacker")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// routeAll sends every request to one test server, whatever its URL's host,
// and tells the server the host it was meant for.
type routeAll struct {
	target *url.URL
	rt     http.RoundTripper
}

func (r routeAll) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set("X-Original-Host", req.URL.Host)
	out.URL.Scheme, out.URL.Host, out.Host = r.target.Scheme, r.target.Host, ""
	return r.rt.RoundTrip(out)
}

func routeTo(t *testing.T, rawURL string) http.RoundTripper {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return routeAll{target: u, rt: http.DefaultTransport.(*http.Transport).Clone()}
}

// testLogger logs everything, debug included, as text into l.
func testLogger(l *testkit.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// nopQueue is a Queue that never has anything; for tests that call the
// sender's sending path directly.
type nopQueue struct{}

func (nopQueue) Lease(context.Context, int, int) (Batch, error) { return nil, nil }
func (nopQueue) Notify() <-chan struct{}                        { return nil }

// testConfig returns a Config for fast tests against e.
func testConfig(e *endpoint, clk *fakeClock, logs *testkit.SyncBuffer) Config {
	return Config{
		Queue:              nopQueue{},
		ConnectionString:   e.connString(),
		Clock:              clk,
		Logger:             testLogger(logs),
		TransportRetryWait: time.Millisecond,
		RequestTimeout:     5 * time.Second,
	}
}

func mustNew(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lines makes n small envelope records.
func lines(n int) []spool.Record {
	recs := make([]spool.Record, n)
	for i := range recs {
		recs[i] = spool.Record{Data: fmt.Appendf(nil, "{\"i\":%d}\n", i)}
	}
	return recs
}

// countingRT measures client-side concurrency: a request counts from the
// start of RoundTrip until its response body is closed.
type countingRT struct {
	rt     http.RoundTripper
	mu     sync.Mutex
	active int
	peak   int
}

func (c *countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.active++
	c.peak = max(c.peak, c.active)
	c.mu.Unlock()
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		c.done()
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, c: c}
	return resp, nil
}

func (c *countingRT) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
}

// peakSince returns the most requests at once since the last call.
func (c *countingRT) peakSince() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peak
	c.peak = c.active
	return p
}

type countedBody struct {
	io.ReadCloser
	c    *countingRT
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(b.c.done)
	return b.ReadCloser.Close()
}
