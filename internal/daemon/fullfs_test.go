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
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// fillSpoolToFull appends envelopes to the spool in dir until the file
// system is full, then fills what is left with another file, and returns
// the ids stored.
func fillSpoolToFull(t *testing.T, dir, filler string) []string {
	t.Helper()
	s, err := spool.Open(context.Background(), dir, &spool.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for batch := 0; ; batch++ {
		recs := make([][]byte, 20)
		for i := range recs {
			recs[i] = append(fakeingest.Envelope(fmt.Sprint("full-", batch, "-", i)), '\n')
		}
		if err := s.Append(context.Background(), recs...); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the spool: %v", err)
			}
			break
		}
		for i := range recs {
			ids = append(ids, fmt.Sprint("full-", batch, "-", i))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	return ids
}

func postOne(t *testing.T, base, id string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(base+"/v2.1/track", "application/x-json-stream", bytes.NewReader(append(fakeingest.Envelope(id), '\n')))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func getReady(t *testing.T, admin string) (int, string) {
	t.Helper()
	resp, err := http.Get(admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestDaemonStartsOnFullFilesystem: with the spool's file system full
// (the upstream was down and the intake filled it) the daemon starts all
// the same, answers the intake 503 with Retry-After and /readyz 503 while
// appends fail, drains what it holds once the upstream is back, and is
// ready again by itself (no client posting) once that gave space back.
func TestDaemonStartsOnFullFilesystem(t *testing.T) {
	root := testkit.SmallFS(t, "2m")
	// The upstream's address, not listening yet: the upstream is down.
	addr := testkit.FreeAddr(t) // the upstream is down until started on addr
	cfg := testConfig(t, "InstrumentationKey="+fakeingest.DefaultIKey+";IngestionEndpoint=http://"+addr)
	cfg.SpoolDir = filepath.Join(root, "spool")
	cfg.Sender.BackoffInitial, cfg.Sender.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	ids := fillSpoolToFull(t, cfg.SpoolDir, filepath.Join(root, "filler"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New on a full file system: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	resp, body := postOne(t, d.IngestURL(), "refused")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post on a full disk: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if code, body := getReady(t, d.AdminURL()); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space") {
		t.Fatalf("/readyz on a full disk: %d %s", code, body)
	}

	up := startUpstreamOn(t, addr)
	start := time.Now()
	waitDelivered(t, up, ids)
	drained := time.Since(start)
	for {
		code, body := getReady(t, d.AdminURL())
		if code == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("/readyz still %d %s after the drain", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ready := time.Since(start)
	if resp, body := postOne(t, d.IngestURL(), "after"); resp.StatusCode != http.StatusOK {
		t.Fatalf("post once ready: %d %s", resp.StatusCode, body)
	}
	waitDelivered(t, up, []string{"after"})
	t.Logf("%d envelopes filled the disk; drained %v after the upstream came back; /readyz ready by itself %v after it", len(ids), drained.Round(time.Millisecond), ready.Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
