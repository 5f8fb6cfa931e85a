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
				Records: 1200, Leased: 500, Delayed: 4, NextDue: t0.Add(2 * time.Second), Bytes: 16 << 20, Segments: 3, Oldest: t0,
				Appended: 10000, Acked: 8700, Retried: 40,
				Commits: 9, CommitSizes: [spool.CommitSizeBuckets]uint64{0: 1, 2: 1, 10: 2, 11: 4, 15: 1},
				Dropped:             map[string]uint64{"expired": 7, "status_400": 3, "sampled_out": 2, "poison": 1},
				QuarantinedSegments: 1, OrphanedSegments: 1, SalvagedRecords: 2000,
			}
		},
		Sender: func() sender.Stats {
			return sender.Stats{
				Sent: 8700, Retried: 40, Batches: 12,
				Requests:  map[int]uint64{200: 10, 206: 1, 429: 2, 0: 1},
				BytesSent: 120000, BytesUncompressed: 900000,
				TransportRetries: 1, Redirects: 1, InFlight: 2,
				WrongEndpoint: 3, Isolations: 2, Delayed: 5,
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
		// One commit of 3 records: counted from the bucket of 4 up.
		`aispool_spool_group_commit_records_bucket{le="2"} 0`,
		`aispool_spool_group_commit_records_bucket{le="4"} 1`,
		`aispool_spool_group_commit_records_bucket{le="+Inf"} 1`,
		"aispool_spool_group_commit_records_sum 3",
		"aispool_spool_group_commit_records_count 1",
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// TestRealSpoolDelayedRecords scrapes the per-record retry delays of a real
// spool: records a partial success kept wait, counted, with the time the
// first comes due.
func TestRealSpoolDelayedRecords(t *testing.T) {
	ctx := context.Background()
	s, err := spool.Open(ctx, filepath.Join(t.TempDir(), "s"), &spool.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(ctx, []byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	b, err := s.Lease(ctx, 10, 1<<20)
	if err != nil || b == nil {
		t.Fatalf("Lease: %v, %v", b, err)
	}
	before := time.Now()
	if err := b.Settle(ctx, spool.Outcome{Retry: []int{0, 2}, RetryDelay: []time.Duration{time.Hour, 2 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	if err := Register(reg, Sources{Spool: s.Stats}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(gaugeOf(t, reg, "aispool_spool_delayed_records")); got != 2 {
		t.Errorf("aispool_spool_delayed_records %v, want 2", got)
	}
	due := gaugeOf(t, reg, "aispool_spool_next_retry_timestamp_seconds")
	if got, want := testutil.ToFloat64(due), float64(before.Add(time.Hour).Unix()); got < want-1 || got > want+5 {
		t.Errorf("aispool_spool_next_retry_timestamp_seconds %v, want about %v (an hour from now)", got, want)
	}
}

// gaugeOf gathers reg and returns the one metric named name as a collector
// for testutil.ToFloat64.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"}, func() float64 {
				return mf.GetMetric()[0].GetGauge().GetValue()
			})
		}
	}
	t.Fatalf("no single metric %s", name)
	return nil
}
