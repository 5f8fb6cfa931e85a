package ingest

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// repeatReader yields prefix, then unit n times, counting what was read,
// without holding the stream in memory.
type repeatReader struct {
	prefix, unit []byte
	n, off       int
	read         atomic.Int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		var src []byte
		switch {
		case len(r.prefix) > 0:
			src = r.prefix
		case r.n > 0:
			src = r.unit[r.off:]
		default:
			r.read.Add(int64(total))
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
		n := copy(p, src)
		p, total = p[n:], total+n
		if len(r.prefix) > 0 {
			r.prefix = r.prefix[n:]
			continue
		}
		if r.off += n; r.off == len(r.unit) {
			r.off, r.n = 0, r.n-1
		}
	}
	r.read.Add(int64(total))
	return total, nil
}

// allocDuring returns the bytes the process allocated while f ran (server
// and client together).
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestGzipBomb posts 1.1 MiB of gzip that inflates to 1 GiB: 413, quickly,
// with memory bounded by the buffers, and nothing stored.
func TestGzipBomb(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp})
	srv := startHTTP(t, h)
	const mib = 1 << 20
	head := gzipped(t, "["+strings.Repeat(" ", mib-1))
	member := gzipped(t, strings.Repeat(" ", mib))
	body := &repeatReader{prefix: head, unit: member, n: 1023}
	var r response
	start := time.Now()
	alloc := allocDuring(func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2.1/track", body)
		req.Header.Set("Content-Encoding", "gzip")
		r = do(t, srv.Client(), req)
	})
	d := time.Since(start)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("answer %d %s, want 413", r.Status, r.Raw)
	}
	t.Logf("gzip bomb (%.1f MiB → 1 GiB): 413 in %v, %.1f MiB allocated, %.1f MiB of the body sent",
		float64(len(head)+1023*len(member))/mib, d, float64(alloc)/mib, float64(body.read.Load())/mib)
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
	newBody := func() *repeatReader {
		// One endless item: the handler discards it past the item cap.
		return &repeatReader{prefix: []byte(`{"name":"`), unit: bytes.Repeat([]byte("x"), mib), n: size/mib + 1}
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
			alloc := allocDuring(func() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2.1/track", body)
				if tt.contentLength {
					req.ContentLength = int64(len(`{"name":"`)) + int64(body.n)*mib
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
			sent := body.read.Load()
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
