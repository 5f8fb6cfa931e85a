package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aispool/aispool/internal/daemon"
	"github.com/aispool/aispool/spool"
)

// TestInspectAsksTheRunningDaemon: while a daemon holds the spool's
// segments, inspect is exact (records and peek) because it asks the
// daemon's admin endpoint, found through the spool directory.
func TestInspectAsksTheRunningDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child daemon")
	}
	const cs = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=http://127.0.0.1:1"
	dir := filepath.Join(t.TempDir(), "spool")
	d := startDaemon(t, dir, cs)
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); <-d.eof; _ = d.cmd.Wait() })
	ids := postEnvelopes(t, http.DefaultClient, d.ingest, "held", 5, 100)

	// From the files alone, the daemon's segments are in use.
	files, err := spool.Inspect(context.Background(), dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if files.RecordsExact {
		t.Fatalf("the files alone gave an exact count: %+v", files)
	}

	code, out, errOut := cli(t, nil, "inspect", "--spool-dir", dir, "--json", "--peek", "3")
	if code != 0 {
		t.Fatalf("inspect: exit %d\n%s", code, errOut)
	}
	var rep inspectOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Source != "daemon" || rep.PID != d.cmd.Process.Pid || !rep.RecordsExact || rep.Records != int64(len(ids)) || len(rep.Peek) != 3 || rep.Dir != dir {
		t.Fatalf("inspect while the daemon runs: %+v", rep)
	}
	for _, s := range rep.Segments {
		if s.InUse || s.Records < 0 {
			t.Errorf("segment %+v in use or uncounted", s)
		}
	}
	code, out, _ = cli(t, nil, "inspect", "--spool-dir", dir, "--peek", "2")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("records        %d\n", len(ids))) || strings.Contains(out, "?") || !strings.Contains(out, "EventData") {
		t.Fatalf("inspect text while the daemon runs:\n%s", out)
	}

	// The admin endpoint serves the same to anyone who asks.
	resp, err := http.Get(d.admin + "/spool")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /spool: %s", resp.Status)
	}

	// After a graceful stop the address file is gone, and the files are
	// exact again.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-d.eof
	if err := d.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, daemon.AdminFile)); !os.IsNotExist(err) {
		t.Fatalf("%s left after a graceful stop: %v", daemon.AdminFile, err)
	}
	code, out, _ = cli(t, nil, "inspect", "--spool-dir", dir, "--json")
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Source != "files" || !rep.RecordsExact || rep.Records != int64(len(ids)) {
		t.Fatalf("inspect after the daemon stopped: exit %d %+v", code, rep)
	}
}

// TestInspectSaysWhyItIsNotExact: segments held by a process that is not
// a daemon (here, this test's own spool), or by a daemon that does not
// answer, are reported in use, and inspect says why --peek shows less than
// asked.
func TestInspectSaysWhyItIsNotExact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	sp, err := spool.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Append(context.Background(), []byte(`{"name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, nil, "inspect", "--spool-dir", dir, "--peek", "3")
	for _, want := range []string{"records        0+ (at least: 1 segments in use", "peek: 0 of 3 envelopes shown: the records of the 1 segments in use by another process cannot be read",
		"note: no aispool daemon serves this spool"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	// A stale address file (a daemon killed with SIGKILL): nobody answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stale := fmt.Sprintf(`{"pid":999999,"admin_url":"http://%s"}`, addr)
	if err := os.WriteFile(filepath.Join(dir, daemon.AdminFile), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli(t, nil, "inspect", "--spool-dir", dir)
	if code != 0 || !strings.Contains(out, "note: the daemon (pid 999999) did not answer at http://"+addr) {
		t.Errorf("stale address file: exit %d\n%s", code, out)
	}
}
