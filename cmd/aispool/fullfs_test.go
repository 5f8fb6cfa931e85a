package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// envFileSize, set for a child run as the aispool binary, is its
// RLIMIT_FSIZE in bytes: its files cannot grow past it, so its disk is
// "full" from the start.
const envFileSize = "AISPOOL_TEST_FSIZE"

// limitFileSize applies envFileSize to this process (a child), with
// SIGXFSZ ignored so that writes past it fail with EFBIG instead of
// killing the process.
func limitFileSize() {
	n, err := strconv.ParseUint(os.Getenv(envFileSize), 10, 64)
	if err != nil {
		return
	}
	signal.Ignore(syscall.SIGXFSZ)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		panic(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: old.Max}); err != nil {
		panic(err)
	}
}

// TestDrainStartsOnFullDisk: `aispool drain` under an RLIMIT_FSIZE smaller
// than a new segment (a full disk) sends everything and exits 0.
func TestDrainStartsOnFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	ids := fillSpool(t, dir, "df", 300)
	ep := startEndpoint(t, "healthy")
	cmd := exec.Command(os.Args[0], "drain", "--spool-dir", dir, "--connection-string", ep.ConnectionString(""),
		"--progress-interval", "10ms", "--timeout", "60s")
	cmd.Env = append(os.Environ(), "AISPOOL_TEST_MAIN=1", envFileSize+"=8192")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drain on a full disk: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "sent 300 envelopes") {
		t.Fatalf("drain summary:\n%s", out)
	}
	if rep := ep.Report(); len(rep.Unaccounted(ids)) > 0 {
		t.Fatalf("%d envelopes not delivered", len(rep.Unaccounted(ids)))
	}
}

// TestRunStartsOnFullDisk: `aispool run` under an RLIMIT_FSIZE smaller than
// a new segment (a full disk, as after a SIGKILL with the disk filled)
// starts, drains what the spool holds, answers the intake 503 with
// Retry-After and /readyz 503 while appends fail, and is ready by itself
// once the limit is raised (space returns), with no client posting.
func TestRunStartsOnFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	ids := fillSpool(t, dir, "rf", 300)
	ep := startEndpoint(t, "healthy")
	t.Setenv(envFileSize, "8192") // inherited by the daemon only: it is read in TestMain's child branch
	d := startDaemon(t, dir, ep.ConnectionString(""))
	defer func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		_ = d.cmd.Wait()
	}()
	readyz := func() (int, string) {
		resp, err := http.Get(d.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	post := func(id string) *http.Response {
		resp, err := http.Post(d.ingest+"/v2.1/track", "application/x-json-stream", bytes.NewReader(append(fakeingest.Envelope(id), '\n')))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("refused"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post on a full disk: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "file too large") {
		t.Fatalf("/readyz on a full disk: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep := ep.Report()
		missing := len(rep.Unaccounted(ids))
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d envelopes not delivered from a full disk\n%s", missing, len(ids), d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Space returns: the limit is lifted.
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil); err != nil {
		var cur unix.Rlimit
		if gerr := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_FSIZE, nil, &cur); gerr != nil {
			t.Fatal(err, gerr)
		}
		cur.Cur = cur.Max
		if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_FSIZE, &cur, nil); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for {
		code, body := readyz()
		if code == http.StatusOK {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("/readyz still %d %s after space returned\n%s", code, body, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("/readyz ready by itself %v after space returned", time.Since(start).Round(time.Millisecond))
	if resp := post("after"); resp.StatusCode != http.StatusOK {
		t.Fatalf("post once ready: %d", resp.StatusCode)
	}
}
