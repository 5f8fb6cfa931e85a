package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/spool"
)

// TestRunSecondSignalExitsAtOnce checks the documented signal contract of
// `aispool run`: the first SIGTERM starts a graceful shutdown that waits (up
// to --shutdown-timeout) for a request in flight upstream; a second SIGTERM
// exits at once with exitFailed, and every record the local endpoint
// acknowledged is still in the spool.
func TestRunSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("signals a child process")
	}
	// An upstream that holds every request until the test ends (or the
	// daemon hangs up), so that the shutdown has a send in flight to wait
	// for.
	release := make(chan struct{})
	arrived := make(chan struct{})
	var once sync.Once
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(upstream.Close) // runs last: Close waits for the handlers
	t.Cleanup(func() { close(release) })

	dir := filepath.Join(t.TempDir(), "spool")
	const shutdownTimeout = 30 * time.Second
	d := startDaemon(t, dir, "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint="+upstream.URL,
		"--shutdown-timeout", shutdownTimeout.String(), "--request-timeout", "2m")
	var waitErr error
	exited := make(chan struct{}) // closed when the child has exited; then waitErr is set
	go func() {
		<-d.eof // read all of stderr before Wait closes the pipe
		waitErr = d.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = d.cmd.Process.Kill()
			<-exited
		}
	})

	// Post envelopes to the local endpoint; each 200 means durable.
	client := &http.Client{Timeout: 10 * time.Second}
	ids := postEnvelopes(t, client, d.ingest, "sig", 3, 10)
	client.CloseIdleConnections()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("no request reached the upstream\n%s", d.logs)
	}

	// First signal: a graceful shutdown, which waits for the held request.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	early := func() {
		t.Helper()
		t.Fatalf("daemon exited (%v) after one SIGTERM while a send was in flight upstream, within --shutdown-timeout %v\n%s",
			waitErr, shutdownTimeout, d.logs)
	}
	// It stops accepting: the local endpoint refuses connections. (A post
	// that slips in before is acknowledged, so it must be kept too.)
	refused := false
	post := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(10 * time.Second); !refused; {
		id := fmt.Sprintf("sig-late-%d", len(ids))
		resp, err := post.Post(d.ingest+"/v2.1/track", "application/x-json-stream", bytes.NewReader(fakeingest.Envelope(id)))
		switch {
		case err != nil:
			refused = true
		case resp.StatusCode == http.StatusOK:
			ids = append(ids, id)
		}
		if resp != nil {
			resp.Body.Close()
		}
		select {
		case <-exited:
			early()
		default:
		}
		if !refused && time.Now().After(deadline) {
			t.Fatalf("the local endpoint still accepts 10 s after SIGTERM\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-exited:
		early()
	case <-time.After(time.Second):
	}
	if !strings.Contains(d.logs.String(), `"msg":"shutting down"`) {
		t.Fatalf("daemon did not log its shutdown\n%s", d.logs)
	}

	// Second signal: out at once, not at the end of --shutdown-timeout.
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("daemon still running %v after the second SIGTERM\n%s", time.Since(start), d.logs)
	}
	t.Logf("exited %v after the second SIGTERM: %v", time.Since(start).Round(time.Millisecond), waitErr)
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("exit after the second SIGTERM: %v, want exit status %d\n%s", waitErr, exitFailed, d.logs)
	}
	if !strings.Contains(d.logs.String(), "exiting now") {
		t.Errorf("stderr does not say it exits at once:\n%s", d.logs)
	}

	// Nothing acknowledged is lost: every record is still in the spool.
	rep, err := spool.Inspect(context.Background(), dir, len(ids)+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Segments {
		if s.Error != "" {
			t.Errorf("segment %s: %s", s.Name, s.Error)
		}
	}
	if rep.Records != int64(len(ids)) || !rep.RecordsExact {
		t.Fatalf("spool holds %d records (exact %v), want %d: %+v", rep.Records, rep.RecordsExact, len(ids), rep.Segments)
	}
	var got []string
	for _, p := range rep.Peek {
		if id, ok := fakeingest.DefaultID(p.Data); ok {
			got = append(got, id)
		}
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("spool holds ids %v, want %v", got, ids)
	}
}
