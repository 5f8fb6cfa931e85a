package ingest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// TestGzipBomb posts 1.1 MiB of gzip that inflates to 1 GiB: 413, quickly,
// with memory bounded by the buffers, and nothing stored.
func TestGzipBomb(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp})
	srv := startHTTP(t, h)
	const mib = 1 << 20
	head := testkit.Gzip("[" + strings.Repeat(" ", mib-1))
	member := testkit.Gzip(strings.Repeat(" ", mib))
	body := &testkit.RepeatReader{Prefix: head, Unit: member, N: 1023}
	var r response
	start := time.Now()
	alloc := testkit.Allocated(func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2.1/track", body)
		req.Header.Set("Content-Encoding", "gzip")
		r = do(t, srv.Client(), req)
	})
	d := time.Since(start)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("answer %d %s, want 413", r.Status, r.Raw)
	}
	t.Logf("gzip bomb (%.1f MiB → 1 GiB): 413 in %v, %.1f MiB allocated, %.1f MiB of the body sent",
		float64(len(head)+1023*len(member))/mib, d, float64(alloc)/mib, float64(body.BytesRead())/mib)
	if alloc > 16*mib {
		t.Errorf("allocated %d bytes refusing a gzip bomb", alloc)
	}
	if got := drain(t, sp); len(got) != 0 {
		t.Fatalf("spool holds %d records", len(got))
	}
}

// Test100MB posts a 100 MB body three ways; each is refused with 413 by the
// limit on the body as received (64 MiB), without buffering it.
func Test100MB(t *testing.T) {
	const size, mib = 100_000_000, 1 << 20
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp})
	srv := startHTTP(t, h)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.ExpectContinueTimeout = 5 * time.Second
	client := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	newBody := func() *testkit.RepeatReader {
		// One endless item: the handler discards it past the item cap.
		return &testkit.RepeatReader{Prefix: []byte(`{"name":"`), Unit: bytes.Repeat([]byte("x"), mib), N: size/mib + 1}
	}
	tests := []struct {
		name          string
		contentLength bool
		expect        bool
		maxSent       int64
	}{
		// Refused from Content-Length before reading the body; the client
		// waits for 100-continue and never sends it.
		{"content-length with expect", true, true, 0},
		// Refused from Content-Length; the client may have sent some of
		// the body before it saw the answer.
		{"content-length", true, false, size},
		// Chunked: refused once 64 MiB are read.
		{"chunked", false, false, size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := newBody()
			var r response
			start := time.Now()
			alloc := testkit.Allocated(func() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2.1/track", body)
				if tt.contentLength {
					req.ContentLength = int64(len(`{"name":"`)) + int64(body.N)*mib
				}
				if tt.expect {
					req.Header.Set("Expect", "100-continue")
				}
				r = do(t, client, req)
			})
			d := time.Since(start)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("answer %d %s, want 413", r.Status, r.Raw)
			}
			sent := body.BytesRead()
			t.Logf("100 MB body: 413 in %v, %.1f MiB sent, %.1f MiB allocated", d, float64(sent)/mib, float64(alloc)/mib)
			if sent > tt.maxSent {
				t.Errorf("client sent %d bytes, want at most %d", sent, tt.maxSent)
			}
			if alloc > 24*mib {
				t.Errorf("allocated %d bytes", alloc)
			}
		})
	}
	if got := drain(t, sp); len(got) != 0 {
		t.Fatalf("spool holds %d records", len(got))
	}
}
