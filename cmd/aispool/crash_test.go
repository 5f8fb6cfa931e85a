package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// TestDaemonSIGKILLLosesNothingAcknowledged kills the daemon with SIGKILL
// while clients post to its local endpoint, restarts it, and checks that
// every item that got a 200 arrives upstream.
func TestDaemonSIGKILLLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	ep := startEndpoint(t, "healthy")
	dir := filepath.Join(t.TempDir(), "spool")
	var url atomic.Value // current daemon's ingest URL
	url.Store("")
	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		seq   atomic.Int64
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				base := url.Load().(string)
				if base == "" {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				var body bytes.Buffer
				ids := make([]string, 10)
				for j := range ids {
					ids[j] = fmt.Sprintf("k-%d", seq.Add(1))
					body.Write(fakeingest.Envelope(ids[j]))
					body.WriteByte('\n')
				}
				resp, err := client.Post(base+"/v2.1/track", "application/x-json-stream", &body)
				if err != nil {
					continue // the daemon is down: these ids were never acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		}()
	}
	const kills = 6
	for range kills {
		d := startDaemon(t, dir, ep.ConnectionString(""))
		url.Store(d.ingest)
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
		url.Store("")
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = d.cmd.Wait()
	}
	stop.Store(true)
	wg.Wait()

	d := startDaemon(t, dir, ep.ConnectionString(""))
	var (
		rep     fakeingest.Report
		missing []string
		n       int
	)
	if !testkit.Poll(30*time.Second, 50*time.Millisecond, func() bool {
		rep = ep.Report()
		mu.Lock()
		missing = rep.Unaccounted(acked)
		n = len(acked)
		mu.Unlock()
		return len(missing) == 0
	}) {
		t.Fatalf("%d of %d acknowledged items never arrived upstream (first %s)\n%s", len(missing), n, missing[0], d.logs)
	}
	t.Logf("%d kills: %d items acknowledged with 200, all delivered upstream (%d duplicates)", kills, n, rep.Duplicates)
	if n < 100 {
		t.Fatalf("only %d items acknowledged: the test proved little", n)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
