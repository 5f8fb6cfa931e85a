package exporter_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/exporter"
)

// The crash test re-executes the test binary as a child that produces log
// records and metric points through the SDK providers into a LogExporter
// and a MetricExporter sharing one pipeline, and reports on stdout the ids
// of what each successful Export stored:
//
//	acked <id> <id> ...
//
// The parent kills the child with SIGKILL at random moments, restarts it,
// and at the end drains the spool and checks that every acknowledged id
// reached the endpoint.
const (
	crashEnvDir  = "AISPOOL_SIGNALS_CHILD_DIR"
	crashEnvCS   = "AISPOOL_SIGNALS_CHILD_CS"
	crashEnvBase = "AISPOOL_SIGNALS_CHILD_BASE"
)

// reporter prints acknowledged ids, one line per export.
type reporter struct{ mu sync.Mutex }

func (r *reporter) acked(ids []string) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	fmt.Println("acked " + strings.Join(ids, " "))
	r.mu.Unlock()
}

type reportingLogs struct {
	*exporter.LogExporter
	rep *reporter
}

func (e reportingLogs) Export(ctx context.Context, records []sdklog.Record) error {
	if err := e.LogExporter.Export(ctx, records); err != nil {
		return err
	}
	var ids []string
	for i := range records {
		records[i].WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == fakeingest.IDProperty {
				ids = append(ids, kv.Value.AsString())
			}
			return true
		})
	}
	e.rep.acked(ids)
	return nil
}

type reportingMetrics struct {
	*exporter.MetricExporter
	rep *reporter
}

func (e reportingMetrics) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	var ids []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range s.DataPoints {
					if v, ok := p.Attributes.Value(fakeingest.IDProperty); ok {
						ids = append(ids, v.AsString())
					}
				}
			}
		}
	}
	if err := e.MetricExporter.Export(ctx, rm); err != nil {
		return err
	}
	e.rep.acked(ids)
	return nil
}

// TestSignalsCrashChild is the child's body; it does nothing in a normal
// run.
func TestSignalsCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("runs only as the child of TestSIGKILLLogsAndMetricsLoseNothingAcknowledged")
	}
	base, _ := strconv.Atoi(os.Getenv(crashEnvBase))
	ctx := context.Background()
	p, err := exporter.NewPipeline(ctx, exporter.WithConnectionString(os.Getenv(crashEnvCS)),
		exporter.WithSpoolDir(dir), exporter.WithLogger(quietLogger()), exporter.WithSenderConfig(fastSender()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	le, err := exporter.NewLogExporter(ctx, exporter.WithPipeline(p), exporter.WithLogger(quietLogger()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	me, err := exporter.NewMetricExporter(ctx, exporter.WithPipeline(p), exporter.WithLogger(quietLogger()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	rep := &reporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(reportingLogs{le, rep},
		sdklog.WithExportInterval(10*time.Millisecond), sdklog.WithMaxQueueSize(1<<16))))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(reportingMetrics{me, rep},
		sdkmetric.WithInterval(25*time.Millisecond))))
	logger := lp.Logger("crash")
	counter, _ := mp.Meter("crash").Int64Counter("ops")
	for i := base; ; i++ {
		var r otellog.Record
		r.SetBody(attribute.StringValue("operation " + strconv.Itoa(i)))
		r.AddAttributes(attribute.String(fakeingest.IDProperty, "L"+strconv.Itoa(i)))
		logger.Emit(ctx, r)
		counter.Add(ctx, 1, metric.WithAttributes(attribute.String(fakeingest.IDProperty, "M"+strconv.Itoa(i))))
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestSIGKILLLogsAndMetricsLoseNothingAcknowledged kills producers of logs
// and metrics with SIGKILL, then drains their spool, and checks that every
// record whose Export returned nil was delivered.
func TestSIGKILLLogsAndMetricsLoseNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	ep, _ := startEndpoint(t, "healthy")
	dir := filepath.Join(t.TempDir(), "spool")
	acked := map[string]bool{}
	const kills = 5
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSignalsCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvCS+"="+ep.ConnectionString(""),
			crashEnvBase+"="+strconv.Itoa(k*10_000_000))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string)
		var sawLogs, sawPoints atomic.Bool
		go func() {
			var ids []string
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) > 0 && f[0] == "error" {
					t.Errorf("child: %s", sc.Text())
				}
				if len(f) > 1 && f[0] == "acked" {
					ids = append(ids, f[1:]...) // a torn last line only loses a claim
					if strings.HasPrefix(f[1], "L") {
						sawLogs.Store(true)
					} else {
						sawPoints.Store(true)
					}
				}
			}
			lines <- ids
		}()
		// Kill at a random moment once the child acknowledged both kinds
		// (a slow machine or the race detector can delay its start).
		for deadline := time.Now().Add(20 * time.Second); !(sawLogs.Load() && sawPoints.Load()) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ids := <-lines
		_ = cmd.Wait()
		for _, id := range ids {
			acked[id] = true
		}
	}
	var logs, points int
	for id := range acked {
		if strings.HasPrefix(id, "L") {
			logs++
		} else {
			points++
		}
	}
	if logs == 0 || points == 0 {
		t.Fatalf("children acknowledged %d log records and %d points: nothing to check", logs, points)
	}

	// Restart: a pipeline on the same directory delivers the rest.
	ctx := context.Background()
	p, err := exporter.NewPipeline(ctx, exporter.WithConnectionString(ep.ConnectionString("")),
		exporter.WithSpoolDir(dir), exporter.WithLogger(quietLogger()), exporter.WithSenderConfig(fastSender()))
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Sender().Flush(fctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	report := ep.Report()
	var lost []string
	for id := range acked {
		if report.IDs[id].Accepted == 0 {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged records never delivered, e.g. %v", len(lost), len(acked), lost[:min(len(lost), 10)])
	}
	t.Logf("%d kills: %d log records and %d metric points acknowledged, all delivered (%d items accepted in all)",
		kills, logs, points, report.Stats.ItemsAccepted)
}
