package exporter

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingLogs counts the records its exporter took.
type countingLogs struct {
	sdklog.Exporter
	n atomic.Int64
}

func (c *countingLogs) Export(ctx context.Context, recs []sdklog.Record) error {
	if err := c.Exporter.Export(ctx, recs); err != nil {
		return err
	}
	c.n.Add(int64(len(recs)))
	return nil
}

// discardLogs is the baseline: the SDK with an exporter that does nothing.
type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

// benchSlog logs b.N records with log/slog through the OpenTelemetry
// bridge and the SDK's batch processor into exp. The producer never lets
// more than a queue's worth be outstanding, so the batch processor drops
// nothing: the rate is what reaches the exporter (for the LogExporter:
// durable, fsynced). It reports records/s, CPU seconds per 100k records,
// and allocations per record (of the whole process).
func benchSlog(b *testing.B, exp sdklog.Exporter) {
	const queue = 1 << 15
	counting := &countingLogs{Exporter: exp}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(NewOperationNameProcessor()),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(counting, sdklog.WithMaxQueueSize(queue),
			sdklog.WithExportMaxBatchSize(benchBatch), sdklog.WithExportInterval(time.Millisecond))),
	)
	defer lp.Shutdown(context.Background())
	logger := slog.New(otelslog.NewHandler("bench", otelslog.WithLoggerProvider(lp)))
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		for int64(i)-counting.n.Load() > queue/2 {
			time.Sleep(20 * time.Microsecond)
		}
		logger.InfoContext(ctx, "order shipped", "order.id", i, "warehouse", "ams-3", "items", 3, "express", true)
	}
	if err := lp.ForceFlush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if got := counting.n.Load(); got != int64(b.N) {
		b.Fatalf("exporter got %d of %d records: the batch processor dropped some", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N)*100_000, "cpu-s/100k")
}

// BenchmarkSlogDurable: slog → otelslog bridge → SDK batch processor →
// LogExporter → spool, fsynced.
func BenchmarkSlogDurable(b *testing.B) {
	le, err := NewLogExporter(context.Background(), WithConnectionString(testCS), withLookupEnv(noEnv),
		WithSpoolDir(filepath.Join(b.TempDir(), "spool")), WithLogger(quiet()), WithoutSender())
	if err != nil {
		b.Fatal(err)
	}
	defer le.Shutdown(context.Background())
	benchSlog(b, le)
	if st := le.Stats(); st.Converted != uint64(b.N) {
		b.Fatalf("converted %d of %d", st.Converted, b.N)
	}
}

// BenchmarkSlogDiscard is the baseline: the same path into an exporter that
// does nothing.
func BenchmarkSlogDiscard(b *testing.B) { benchSlog(b, discardLogs{}) }

// discardMetrics is the baseline metric exporter.
type discardMetrics struct{}

func (discardMetrics) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return TemporalitySelector(k)
}
func (discardMetrics) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (discardMetrics) Export(context.Context, *metricdata.ResourceMetrics) error { return nil }
func (discardMetrics) ForceFlush(context.Context) error                          { return nil }
func (discardMetrics) Shutdown(context.Context) error                            { return nil }

// benchMetrics records 1000 counter points and 1000 histogram points (one
// per attribute set) per iteration and has the reader collect and export
// them; it reports points/s, CPU per 100k points and allocations per point.
func benchMetrics(b *testing.B, exp sdkmetric.Exporter) {
	const sets = 1000
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	defer mp.Shutdown(context.Background())
	m := mp.Meter("bench")
	ctr, _ := m.Int64Counter("http.server.requests")
	hist, _ := m.Float64Histogram("http.server.duration")
	opts := make([]metric.MeasurementOption, sets)
	for i := range opts {
		opts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("http.route", "/api/"+strconv.Itoa(i)),
			attribute.Int("http.response.status_code", 200)))
	}
	ctx := context.Background()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	mallocs0 := ms0.Mallocs
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		for i := range sets {
			ctr.Add(ctx, 1, opts[i])
			hist.Record(ctx, float64(i), opts[i])
		}
		if err := mp.ForceFlush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	points := float64(2 * sets * b.N)
	b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/points*100_000, "cpu-s/100k")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-mallocs0)/points, "allocs/point")
}

// BenchmarkMetricsDurable: 2000 points per collection through the SDK into
// the MetricExporter and the spool, fsynced.
func BenchmarkMetricsDurable(b *testing.B) {
	me, err := NewMetricExporter(context.Background(), WithConnectionString(testCS), withLookupEnv(noEnv),
		WithSpoolDir(filepath.Join(b.TempDir(), "spool")), WithLogger(quiet()), WithoutSender())
	if err != nil {
		b.Fatal(err)
	}
	defer me.Shutdown(context.Background())
	benchMetrics(b, me)
}

// BenchmarkMetricsDiscard is the baseline: the SDK with a discarding
// exporter.
func BenchmarkMetricsDiscard(b *testing.B) { benchMetrics(b, discardMetrics{}) }

// benchBatch is the batch processor's export size in the slog benchmarks:
// 1024 records per Export, so one fsync per 1024 records. (Larger batches
// measured slower: the spool's bbolt transaction grows superlinearly.)
const benchBatch = 1024
