package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// env returns a valid MessageData envelope, compact, whose message is msg.
func env(msg string) string {
	m, _ := json.Marshal(msg)
	return `{"ver":1,"name":"Microsoft.ApplicationInsights.Message","time":"2026-11-25T11:58:41.8330000Z",` +
		`"iKey":"11111111-2222-3333-4444-555555555555","tags":{"ai.cloud.role":"test"},` +
		`"data":{"baseType":"MessageData","baseData":{"ver":2,"message":` + string(m) + `,"severityLevel":"Information"}}}`
}

// envs returns n envelopes with messages prefix-0, prefix-1, ...
func envs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = env(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// quietLogger discards everything but keeps Debug enabled, so that the
// logging path runs.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openSpool opens a spool in a fresh temporary directory, closed at the end
// of the test.
func openSpool(t testing.TB, opts *spool.Options) *spool.Spool {
	t.Helper()
	if opts == nil {
		opts = &spool.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := spool.Open(context.Background(), filepath.Join(t.TempDir(), "spool"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newHandler returns a Handler over app (a fresh real spool if nil).
func newHandler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	if cfg.Spool == nil {
		cfg.Spool = openSpool(t, nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// drain leases and acknowledges every record the spool holds now.
func drain(t testing.TB, s *spool.Spool) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for {
		b, err := s.Lease(ctx, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out
		}
		for _, r := range b.Records {
			out = append(out, string(r.Data))
		}
		if err := b.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// records turns items into the records the handler should store.
func records(items []string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it + "\n"
	}
	return out
}

// response is a decoded answer.
type response struct {
	Status     int
	RetryAfter string
	Allow      string
	Body       answer
	Raw        string
}

// post sends body to url with the given headers and decodes the answer.
func post(t testing.TB, c *http.Client, url string, body io.Reader, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	r := response{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Allow: resp.Header.Get("Allow"), Raw: string(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.Body); err != nil {
		t.Fatalf("answer %d %q: %v", resp.StatusCode, raw, err)
	}
	if r.Body.Errors == nil {
		t.Errorf("answer %q: errors is not an array", raw)
	}
	return r
}

// startHTTP serves h over loopback HTTP for the test.
func startHTTP(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// startHTTPS serves h with Serve over loopback HTTPS and returns its base
// URL and a client that trusts the certificate (HTTP/2 when h2 is set).
func startHTTPS(t testing.TB, h http.Handler, h2 bool) (string, *http.Client) {
	t.Helper()
	certFile, keyFile, pool := testkit.SelfSignedCert(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := Serve(ctx, ln, certFile, keyFile, h, quietLogger()); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		wg.Wait()
	})
	return "https://" + ln.Addr().String(), &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// fakeAppender fails with err, or blocks until ctx ends when block is set;
// otherwise it passes records to next (if any) and counts calls.
type fakeAppender struct {
	mu    sync.Mutex
	next  Appender
	err   func(call int, records [][]byte) error
	block bool
	calls int
}

func (f *fakeAppender) Append(ctx context.Context, records ...[]byte) error {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return fmt.Errorf("fake: %w", ctx.Err())
	}
	if f.err != nil {
		if err := f.err(call, records); err != nil {
			return err
		}
	}
	if f.next != nil {
		return f.next.Append(ctx, records...)
	}
	return nil
}
