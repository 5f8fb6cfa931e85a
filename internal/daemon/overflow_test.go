package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

func TestOverflowValidated(t *testing.T) {
	c := testConfig(t, cs)
	if c.Overflow != spool.RejectNew {
		t.Fatalf("default overflow policy %v, want reject", c.Overflow)
	}
	c.Overflow = 9
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "--overflow") {
		t.Fatalf("Validate = %v, want --overflow named", err)
	}
}

// TestOverflowPolicy fills a 1 MiB spool with the upstream down. Under
// reject the intake answers 503 with Retry-After once the spool is full,
// evicts nothing, /readyz says why, and every envelope acknowledged is
// delivered once the upstream is back (then the daemon is ready again by
// itself). Under drop-oldest every post is acknowledged and the oldest are
// evicted, counted as dropped "full".
func TestOverflowPolicy(t *testing.T) {
	for _, policy := range []spool.FullPolicy{spool.RejectNew, spool.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) { overflowRun(t, policy) })
	}
}

func overflowRun(t *testing.T, policy spool.FullPolicy) {
	addr := testkit.FreeAddr(t) // the upstream is down until started on addr
	cfg := testConfig(t, "InstrumentationKey="+fakeingest.DefaultIKey+";IngestionEndpoint=http://"+addr)
	cfg.MaxSpoolBytes = 1 << 20
	cfg.Overflow = policy
	cfg.Sender.BackoffInitial, cfg.Sender.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	d := startDaemon(t, cfg) // Run must return nil when the test ends

	var acked []string
	refused := 0
	for batch := range 200 { // 200 × 50 envelopes of ~600 bytes: 6 MiB offered
		var body bytes.Buffer
		var ids []string
		for i := range 50 {
			id := fmt.Sprint("o-", batch, "-", i)
			ids = append(ids, id)
			body.Write(fakeingest.Envelope(id, fakeingest.WithPadding(300)))
			body.WriteByte('\n')
		}
		resp, err := http.Post(d.IngestURL()+"/v2.1/track", "application/x-json-stream", &body)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && refused == 0 {
			t.Logf("first refusal: %d %s", resp.StatusCode, msg)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			acked = append(acked, ids...)
		case http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			refused++
		default:
			t.Fatalf("post: %d", resp.StatusCode)
		}
		if policy == spool.RejectNew && refused >= 3 {
			break
		}
	}
	st := d.Spool().Stats()
	switch policy {
	case spool.RejectNew:
		if refused == 0 || st.Dropped[spool.ReasonFull] != 0 {
			t.Fatalf("reject: %d posts refused, %d records evicted; want refusals and no eviction", refused, st.Dropped[spool.ReasonFull])
		}
		if code, body := getReady(t, d.AdminURL()); code != http.StatusServiceUnavailable || !strings.Contains(body, "full") {
			t.Fatalf("/readyz of a full spool under reject: %d %s", code, body)
		}
	case spool.DropOldest:
		if refused != 0 || st.Dropped[spool.ReasonFull] == 0 {
			t.Fatalf("drop-oldest: %d posts refused, %d records evicted; want no refusal and evictions counted", refused, st.Dropped[spool.ReasonFull])
		}
	}

	up := startUpstreamOn(t, addr)
	deadline := time.Now().Add(30 * time.Second)
	st = waitDrained(t, d, time.Until(deadline))
	rep := up.Report()
	lost := len(rep.Unaccounted(acked))
	t.Logf("%v: %d envelopes acknowledged, %d posts refused with 503, %d evicted (counted full), %d of the acknowledged not delivered",
		policy, len(acked), refused, st.Dropped[spool.ReasonFull], lost)
	if policy == spool.RejectNew {
		if lost != 0 {
			t.Fatalf("reject: %d acknowledged envelopes not delivered", lost)
		}
		for {
			code, body := getReady(t, d.AdminURL())
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d %s after the drain", code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	} else if uint64(lost) != st.Dropped[spool.ReasonFull] {
		t.Fatalf("drop-oldest: %d acknowledged envelopes not delivered, %d counted as evicted", lost, st.Dropped[spool.ReasonFull])
	}
}
