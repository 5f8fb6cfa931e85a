package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// TestRunSalvagesDeletedActiveSegment: the daemon's active segment file is
// deleted (rm) while clients post and the upstream is down; every post
// answered 200 after that is durable all the same: after a SIGKILL and a
// restart with the upstream back, every acknowledged envelope arrives.
func TestRunSalvagesDeletedActiveSegment(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	addr := testkit.FreeAddr(t) // the upstream is down until started on addr
	cs := "InstrumentationKey=" + fakeingest.DefaultIKey + ";IngestionEndpoint=http://" + addr
	dir := filepath.Join(t.TempDir(), "spool")
	d := startDaemon(t, dir, cs)
	ids := postEnvelopes(t, http.DefaultClient, d.ingest, "before", 100, 10)
	active, err := filepath.Glob(filepath.Join(dir, "*.active"))
	if err != nil || len(active) != 1 {
		t.Fatalf("want one active segment, found %v (%v)", active, err)
	}
	if err := os.Remove(active[0]); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, postEnvelopes(t, http.DefaultClient, d.ingest, "after", 100, 10)...)
	m := daemonMetrics(d)
	if !strings.Contains(m, "aispool_spool_orphaned_segments_total 1") || strings.Contains(m, "aispool_spool_salvaged_records_total 0") {
		t.Fatalf("metrics after the active segment was deleted:\n%s", m)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.eof
	_ = d.cmd.Wait()
	if !strings.Contains(d.logs.String(), "LOST ITS NAME") {
		t.Fatalf("the daemon did not say loudly that its segment was deleted:\n%s", d.logs)
	}

	up := fakeingest.StartForTest(t, fakeingest.Config{Seed: 1, Addr: addr}) // healthy
	d2 := startDaemon(t, dir, cs)
	defer func() {
		_ = d2.cmd.Process.Signal(syscall.SIGTERM)
		_ = d2.cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep := up.Report()
		missing := rep.Unaccounted(ids)
		if len(missing) == 0 {
			t.Logf("%d envelopes acknowledged around the deletion of the active segment, all delivered after SIGKILL (%d duplicates)", len(ids), rep.Duplicates)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged envelopes never arrived (first %s)", len(missing), len(ids), missing[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
