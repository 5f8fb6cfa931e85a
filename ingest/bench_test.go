package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aispool/aispool/internal/testkit"
)

// BenchmarkHandler serves requests of 512 envelopes (gzip NDJSON) with an
// in-memory appender (decode, validate, answer) and with a real spool
// (plus the fsynced append).
func BenchmarkHandler(b *testing.B) {
	body := testkit.Gzip(testkit.NDJSON(envs("bench", 512)...))
	for _, real := range []bool{false, true} {
		name := "memory"
		var app Appender = discardAppender{}
		if real {
			name, app = "spool", openSpool(b, nil)
		}
		b.Run(name, func(b *testing.B) {
			h := newHandler(b, Config{Spool: app})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v2.1/track", bytes.NewReader(body))
				req.Header.Set("Content-Encoding", "gzip")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
