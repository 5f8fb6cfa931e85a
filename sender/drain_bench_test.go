package sender

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/spool"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDrain measures the whole drain path: lease from a real spool,
// gzip, POST over loopback to an endpoint that reads and acknowledges
// everything, settle. Reported: envelopes/s and process CPU seconds per
// 100k envelopes (the endpoint's own work included, so an upper bound).
func BenchmarkDrain(b *testing.B) {
	const n, size = 100_000, 1024
	recs := makeRecords(2000, size)
	data := make([][]byte, len(recs))
	for i, r := range recs {
		data[i] = r.Data
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"itemsReceived":0,"itemsAccepted":0,"errors":[]}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	var cpu, wall time.Duration
	for b.Loop() {
		b.StopTimer()
		sp, err := spool.Open(ctx, b.TempDir(), &spool.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += len(data) {
			if err := sp.Append(ctx, data...); err != nil {
				b.Fatal(err)
			}
		}
		s, err := New(Config{
			Queue:            SpoolQueue(sp),
			ConnectionString: "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + srv.URL,
			Logger:           slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		go func() { _ = s.Run(ctx) }()
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		wall += time.Since(t0)
		b.StopTimer()
		if st := s.Stats(); st.Sent != n {
			b.Fatalf("sent %d", st.Sent)
		}
		_ = s.Close(ctx)
		_ = sp.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/wall.Seconds(), "envelopes/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/100k")
}
