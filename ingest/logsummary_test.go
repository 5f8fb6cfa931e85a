package ingest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// captureHandler records log records.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r.Clone())
	return nil
}
func (c *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureHandler) WithGroup(string) slog.Handler      { return c }

// snapshot returns the records so far as maps of their attributes, with
// the message under "msg" and the level under "level".
func (c *captureHandler) snapshot() []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]string
	for _, r := range c.records {
		m := map[string]string{"msg": r.Message, "level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

// waitRecords waits until the handler holds n records.
func waitRecords(t *testing.T, c *captureHandler, n int) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := c.snapshot()
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// manualTimers collects the functions a logSummary schedules, for the
// test to run when it decides an interval has passed.
type manualTimers struct {
	mu      sync.Mutex
	pending []func()
}

func (m *manualTimers) after(_ time.Duration, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, f)
}

// tick ends the current interval: it runs what was scheduled so far.
func (m *manualTimers) tick() {
	m.mu.Lock()
	fs := m.pending
	m.pending = nil
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// TestErrorLogSummarisesRepeats: 2,000 identical connection errors from
// different clients make two lines: the first at once, then the count.
func TestErrorLogSummarisesRepeats(t *testing.T) {
	c := &captureHandler{}
	timers := &manualTimers{}
	s := newLogSummary(slog.New(c), slog.LevelWarn, 100*time.Millisecond)
	s.after = timers.after
	l := errorLogFor(s)
	for i := range 2000 {
		l.Printf("http: TLS handshake error from 127.0.0.%d:%d: client sent an HTTP request to an HTTPS server", i%250, 40000+i)
	}
	l.Printf("http2: server: error reading preface from client [::1]:5555: bogus greeting")
	recs := c.snapshot()
	if len(recs) != 2 {
		t.Fatalf("logged %d lines at once, want 2 (one per kind): %v", len(recs), recs)
	}
	first := recs[0]
	if first["level"] != "WARN" || first["msg"] != "ingest: connection error" || first["remote"] != "127.0.0.0:40000" ||
		first["err"] != "http: TLS handshake error from <client>: client sent an HTTP request to an HTTPS server" {
		t.Fatalf("first line %v", first)
	}
	if recs[1]["remote"] != "[::1]:5555" {
		t.Fatalf("second kind %v", recs[1])
	}
	timers.tick() // the interval ends
	recs = c.snapshot()
	if len(recs) != 3 {
		t.Fatalf("after the interval: %v", recs[2:])
	}
	sum := recs[2]
	if sum["repeated"] != "1999" || sum["err"] != first["err"] || sum["remote"] != "127.0.0.249:41999" || sum["interval"] != "100ms" {
		t.Fatalf("summary %v", sum)
	}
	// While repeats go on, one line per interval.
	for i := range 10 {
		l.Printf("http: TLS handshake error from 10.0.0.1:%d: client sent an HTTP request to an HTTPS server", i)
	}
	timers.tick()
	if recs := c.snapshot(); len(recs) != 4 || recs[3]["repeated"] != "10" {
		t.Fatalf("second interval: %v", recs[3:])
	}
	// An interval without repeats ends the summary; the next one is
	// logged at once again.
	timers.tick()
	timers.tick()
	if recs := c.snapshot(); len(recs) != 4 {
		t.Fatalf("lines after the flood ended: %v", recs[4:])
	}
	l.Printf("http: TLS handshake error from 10.0.0.1:1: EOF")
	l.Printf("http: TLS handshake error from 10.0.0.1:1: client sent an HTTP request to an HTTPS server")
	if recs := c.snapshot(); len(recs) != 6 {
		t.Fatalf("later errors: %v", recs[4:])
	}
}

// TestLogSummaryRealTimer: with the real timer, the summary comes after
// the interval.
func TestLogSummaryRealTimer(t *testing.T) {
	c := &captureHandler{}
	l := newErrorLog(slog.New(c), 200*time.Millisecond)
	for i := range 3 {
		l.Printf("http: TLS handshake error from 127.0.0.1:%d: EOF", i)
	}
	recs := waitRecords(t, c, 2)
	if len(recs) < 2 || recs[1]["repeated"] == "" {
		t.Fatalf("records %v", recs)
	}
}

// TestErrorLogBoundsKinds: past maxSummaryKeys kinds at once, the rest are
// counted together.
func TestErrorLogBoundsKinds(t *testing.T) {
	c := &captureHandler{}
	l := newErrorLog(slog.New(c), time.Hour)
	for i := range 3 * maxSummaryKeys {
		l.Printf("http: odd error number %d", i)
	}
	if recs := c.snapshot(); len(recs) != maxSummaryKeys+1 || recs[maxSummaryKeys]["msg"] != "ingest: other connection-level events" {
		t.Fatalf("logged %d lines for %d kinds", len(recs), 3*maxSummaryKeys)
	}
}

// TestServePlainHTTPToHTTPS: plain-HTTP connections to the HTTPS port
// write one warning, not one each, and HTTPS clients are served meanwhile.
func TestServePlainHTTPToHTTPS(t *testing.T) {
	certFile, keyFile, pool := testkit.SelfSignedCert(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &captureHandler{}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, certFile, keyFile, newHandler(t, Config{}), slog.New(c)) }()
	addr := ln.Addr().String()
	for range 200 {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n[]", addr)
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r := post(t, client, "https://"+addr+"/v2.1/track", strings.NewReader(env("after the flood")), nil)
	if r.Status != 200 {
		t.Fatalf("HTTPS post after the flood: %d %s", r.Status, r.Raw)
	}
	tr.CloseIdleConnections()
	var warns []map[string]string
	for _, rec := range c.snapshot() {
		if rec["level"] == "WARN" {
			warns = append(warns, rec)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0]["err"], "HTTP request to an HTTPS server") {
		t.Fatalf("200 plain-HTTP connections logged %d warnings: %v", len(warns), warns)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
