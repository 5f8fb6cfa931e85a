package metrics

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

var update = flag.Bool("update", false, "rewrite the golden exposition files")

func fixedSources() Sources {
	t0 := time.Unix(1764000000, 0)
	return Sources{
		Version: "v0.1.0-test",
		Spool: func() spool.Stats {
			return spool.Stats{
				Records: 1200, Leased: 500, Bytes: 16 << 20, Segments: 3, Oldest: t0,
				Appended: 10000, Acked: 8700, Retried: 40,
				Dropped:             map[string]uint64{"expired": 7, "status_400": 3, "sampled_out": 2},
				QuarantinedSegments: 1, OrphanedSegments: 1, SalvagedRecords: 2000,
			}
		},
		Sender: func() sender.Stats {
			return sender.Stats{
				Sent: 8700, Retried: 40, Batches: 12,
				Requests:  map[int]uint64{200: 10, 206: 1, 429: 2, 0: 1},
				BytesSent: 120000, BytesUncompressed: 900000,
				TransportRetries: 1, Redirects: 1, InFlight: 2,
				ThrottledUntil: t0.Add(30 * time.Second), LastSuccess: t0.Add(10 * time.Second),
				RequestDuration: sender.Histogram{Count: 14, Sum: 2.5, Bounds: []float64{0.1, 1}, Counts: []uint64{9, 13}},
			}
		},
		Ingest: func() ingest.Stats {
			return ingest.Stats{Requests: map[int]uint64{200: 40, 206: 2, 503: 1}, ItemsAccepted: 990, ItemsRejected: 3, ItemsRefused: 10, BodyBytes: 123456}
		},
	}
}

func TestGoldenExposition(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  Sources
	}{
		{"full", fixedSources()},
		{"producer_only", Sources{Version: "v0.1.0-test", Spool: fixedSources().Spool}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			if err := Register(reg, tc.src); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".txt")
			if *update {
				mfs, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				var sb strings.Builder
				for _, mf := range mfs {
					if err := writeText(&sb, mf); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(golden)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want, _ := io.ReadAll(f)
			want = []byte(strings.ReplaceAll(string(want), "GOVERSION", goVersion()))
			if err := testutil.GatherAndCompare(reg, strings.NewReader(string(want))); err != nil {
				t.Fatal(err)
			}
			problems, err := testutil.GatherAndLint(reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

func TestCollectAndLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newCollector(fixedSources()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestRealSpoolOverHTTP scrapes a real spool's metrics through Handler.
func TestRealSpoolOverHTTP(t *testing.T) {
	s, err := spool.Open(context.Background(), filepath.Join(t.TempDir(), "s"), &spool.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(context.Background(), []byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	if err := Register(reg, Sources{Spool: s.Stats}); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, Sources{Spool: s.Stats}); err == nil {
		t.Fatal("registering twice must fail")
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"aispool_spool_records 3",
		"aispool_envelopes_enqueued_total 3",
		`aispool_envelopes_dropped_total{reason="full"} 0`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
