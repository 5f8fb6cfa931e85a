package daemon

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// TestDaemonDamagedActiveSegment: 20 × 64 random bytes are written into
// the daemon's 2 MiB active segment while the upstream is down, then more
// envelopes are posted. Once the upstream is back, everything drains
// without another post (the sender never sits idle with records queued),
// every envelope acknowledged after the damage arrives, and the few lost
// are only those the damage hit, counted as corrupt.
func TestDaemonDamagedActiveSegment(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { damagedActiveDaemon(t, seed) })
	}
}

func damagedActiveDaemon(t *testing.T, seed uint64) {
	addr := testkit.FreeAddr(t) // the upstream is down until started on addr
	cfg := testConfig(t, "InstrumentationKey="+fakeingest.DefaultIKey+";IngestionEndpoint=http://"+addr)
	cfg.Sender.BackoffInitial, cfg.Sender.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	d := startDaemon(t, cfg) // Run must return nil when the test ends

	post := func(prefix string, n int) (acked []string) {
		for i := 0; i < n; i += 50 {
			var body bytes.Buffer
			var ids []string
			for j := i; j < i+50; j++ {
				id := fmt.Sprint(prefix, "-", j)
				ids = append(ids, id)
				body.Write(fakeingest.Envelope(id, fakeingest.WithPadding(400)))
				body.WriteByte('\n')
			}
			resp, err := http.Post(d.IngestURL()+"/v2.1/track", "application/x-json-stream", &body)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				acked = append(acked, ids...)
			}
		}
		return acked
	}
	before := post("before", 3000)
	active, err := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.active"))
	if err != nil || len(active) != 1 {
		t.Fatalf("want one active segment, found %v (%v)", active, err)
	}
	info, err := os.Stat(active[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(active[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	// Where the records are: bbolt grows its file ahead of them.
	span := min(info.Size(), 2<<20) - 8192 - 64
	junk := make([]byte, 64)
	for range 20 {
		for i := range junk {
			junk[i] = byte(rng.UintN(256))
		}
		if _, err := f.WriteAt(junk, 8192+rng.Int64N(span)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	after := post("after", 1000)

	up := startUpstreamOn(t, addr)
	start := time.Now()
	st := waitDrained(t, d, 30*time.Second)
	rep := up.Report()
	lostAfter := rep.Unaccounted(after)
	lost := len(rep.Unaccounted(before)) + len(lostAfter)
	t.Logf("%d+%d acknowledged around the damage (%s in the active segment); drained in %v: %d lost, counted corrupt %d, salvaged %d, %d duplicates",
		len(before), len(after), mib(info.Size()), time.Since(start).Round(time.Millisecond), lost, st.Dropped[spool.ReasonCorrupt], st.SalvagedRecords, rep.Duplicates)
	if len(lostAfter) > 0 {
		t.Errorf("%d envelopes acknowledged after the damage were lost", len(lostAfter))
	}
	if uint64(lost) > st.Dropped[spool.ReasonCorrupt] {
		t.Errorf("%d lost, only %d counted corrupt", lost, st.Dropped[spool.ReasonCorrupt])
	}
	if lost > 100 {
		t.Errorf("%d envelopes lost to 20 × 64 bytes of damage", lost)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
