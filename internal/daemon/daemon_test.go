package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

const cs = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=http://127.0.0.1:1"

func noEnv(string) (string, bool) { return "", false }

func testConfig(t *testing.T, conn string) Config {
	t.Helper()
	c := DefaultConfig()
	c.SpoolDir = filepath.Join(t.TempDir(), "spool")
	c.ConnectionString = conn
	c.LookupEnv = noEnv
	c.Listen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	c.OTLPHTTPListen, c.OTLPGRPCListen = "127.0.0.1:0", "127.0.0.1:0"
	c.Logger = slog.New(slog.DiscardHandler)
	c.ShutdownTimeout = 2 * time.Second
	return c
}

func TestValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings; empty: valid
	}{
		{"defaults with dir and connection string", func(*Config) {}, nil},
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }, []string{"--spool-dir: required"}},
		{"no connection string", func(c *Config) { c.ConnectionString = "" }, []string{"--connection-string"}},
		{"env connection string", func(c *Config) {
			c.ConnectionString = ""
			c.LookupEnv = func(k string) (string, bool) { return cs, k == "APPLICATIONINSIGHTS_CONNECTION_STRING" }
		}, nil},
		{"bad listen", func(c *Config) { c.Listen = "localhost" }, []string{"--listen"}},
		{"same addresses", func(c *Config) { c.Listen, c.AdminListen = "127.0.0.1:5000", "127.0.0.1:5000" }, []string{"both are"}},
		{"cert without key", func(c *Config) { c.TLSCert = file }, []string{"give both or neither"}},
		{"missing key file", func(c *Config) { c.TLSCert, c.TLSKey = file, "/nonexistent/key.pem" }, []string{"--tls-key"}},
		{"negative limits", func(c *Config) { c.MaxSpoolBytes, c.MaxAge = -1, -time.Second }, []string{"--max-spool-bytes", "--max-age"}},
		{"bad sender setting", func(c *Config) { c.Sender.MaxInFlight = -3 }, []string{"--max-in-flight: -3 not in 1..64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, cs)
			tc.edit(&c)
			checkValidate(t, c, tc.want)
		})
	}
}

func startUpstream(t *testing.T) *fakeingest.Endpoint {
	t.Helper()
	return startUpstreamOn(t, "")
}

// checkValidate checks c.Validate: nil when want is empty, else an error
// wrapping ErrInvalidConfig whose text holds every string of want.
func checkValidate(t *testing.T, c Config, want []string) {
	t.Helper()
	err := c.Validate()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate = %v", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// waitDrained waits until d's spool holds no record, leased or not, and
// returns its stats then; it fails the test after timeout.
func waitDrained(t *testing.T, d *Daemon, timeout time.Duration) spool.Stats {
	t.Helper()
	var st spool.Stats
	if !testkit.Poll(timeout, 20*time.Millisecond, func() bool {
		st = d.Spool().Stats()
		return st.Records == 0 && st.Leased == 0
	}) {
		t.Fatalf("the drain stalled with %d records left after %v: %+v", st.Records, timeout, st)
	}
	return st
}

// startUpstreamOn starts a healthy fake ingestion endpoint on addr (a
// random loopback port if empty) for the test.
func startUpstreamOn(t *testing.T, addr string) *fakeingest.Endpoint {
	t.Helper()
	return fakeingest.StartForTest(t, fakeingest.Config{Seed: 1, Addr: addr, Logger: slog.New(slog.DiscardHandler)})
}

// TestDaemonEndToEnd: SDK-style posts to the local endpoint reach the
// upstream; the admin endpoint answers; Run returns nil when ctx ends.
func TestDaemonEndToEnd(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	var body bytes.Buffer
	ids := []string{"a", "b", "c"}
	body.WriteString("[")
	for i, id := range ids {
		if i > 0 {
			body.WriteString(",")
		}
		body.Write(fakeingest.Envelope(id))
	}
	body.WriteString("]")
	resp, err := http.Post(d.IngestURL()+"/v2/track", "application/json", &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"itemsAccepted":3`) {
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	waitDelivered(t, up, ids)

	resp, err = http.Get(d.AdminURL() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if err := d.Spool().Ready(); !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("spool still open after Run: %v", err)
	}
}

func waitDelivered(t *testing.T, up *fakeingest.Endpoint, ids []string) {
	t.Helper()
	var missing []string
	if !testkit.Poll(15*time.Second, 20*time.Millisecond, func() bool {
		rep := up.Report()
		missing = rep.Unaccounted(ids)
		return len(missing) == 0
	}) {
		t.Fatalf("not delivered upstream: %v", missing)
	}
}

func TestDrain(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	s, err := spool.Open(context.Background(), cfg.SpoolDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 100 {
		id := fmt.Sprint("drain-", i)
		ids = append(ids, id)
		if err := s.Append(context.Background(), append(fakeingest.Envelope(id), '\n')); err != nil {
			t.Fatal(err)
		}
	}
	// A live producer still holds its active segment: the drain sends
	// what it can reach and says the rest is held by another process.
	var progress int
	sum, err := Drain(context.Background(), cfg, 5*time.Millisecond, func(Progress) { progress++ })
	if !errors.Is(err, ErrUndelivered) || sum.Unclaimed != 1 {
		t.Fatalf("drain with a live producer: %v %+v", err, sum)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err = Drain(context.Background(), cfg, 5*time.Millisecond, func(Progress) { progress++ })
	if err != nil {
		t.Fatalf("Drain = %v (%+v)", err, sum)
	}
	if sum.Sent != 100 || sum.Left != 0 {
		t.Fatalf("summary %+v", sum)
	}
	waitDelivered(t, up, ids)
}

// A drain of more sealed segments than a drainer holds open at once does
// not report those waiting for it as held by other processes.
func TestDrainManySegments(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	var ids []string
	for seg := range 20 { // each Close seals a segment
		s, err := spool.Open(context.Background(), cfg.SpoolDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			id := fmt.Sprint("many-", seg, "-", i)
			ids = append(ids, id)
			if err := s.Append(context.Background(), append(fakeingest.Envelope(id), '\n')); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var held int
	sum, err := Drain(context.Background(), cfg, time.Millisecond, func(p Progress) { held = max(held, p.Unclaimed) })
	if err != nil || held != 0 || sum.Unclaimed != 0 {
		t.Fatalf("Drain = %v, %+v; held elsewhere at most %d", err, sum, held)
	}
	if sum.Sent != uint64(len(ids)) || sum.Left != 0 {
		t.Fatalf("summary %+v", sum)
	}
	waitDelivered(t, up, ids)
}

// TestAdminPprof: the runtime's profiles are on the admin address only
// with AdminPprof.
func TestAdminPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := testConfig(t, cs)
		cfg.AdminPprof = on
		ctx, cancel := context.WithCancel(context.Background())
		d, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		for path, want := range map[string]int{"/debug/pprof/": 200, "/debug/pprof/heap": 200, "/debug/pprof/profile?seconds=1": 200} {
			if !on {
				want = http.StatusNotFound
			}
			resp, err := http.Get(d.AdminURL() + path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("AdminPprof %v: GET %s = %d, want %d", on, path, resp.StatusCode, want)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	}
}
