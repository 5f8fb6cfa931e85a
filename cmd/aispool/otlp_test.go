package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// otlpID names an envelope made from an item of the OTLP tests by its base
// type and the otlp.id attribute every span, log record and data point
// carries, so that the upstream's report says what arrived, and as what.
var otlpID = fakeingest.TypedID("otlp.id")

// freePorts returns n loopback addresses free now, to keep across the
// daemon's restarts (so that the SDK's exporters keep their endpoint).
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return out
}

// otlpClient exports batches of one signal over one protocol until
// stopped, and keeps the ids of the items whose export returned success.
type otlpClient struct {
	name   string
	export func(ctx context.Context, ids []string) error
	kind   string // the envelope's base type
}

func otlpClients(t *testing.T, httpAddr, grpcAddr string) []otlpClient {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "otlp-crash"), attribute.String("service.instance.id", "c1"))
	// Short retries: an export during a restart may succeed once the
	// daemon is back, as with an application's exporter.
	const maxElapsed = 3 * time.Second
	httpURL := "http://" + httpAddr
	th, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(httpURL+"/v1/traces"),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	tg, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	lh, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(httpURL+"/v1/logs"),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	lg, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(grpcAddr), otlploggrpc.WithInsecure(),
		otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	mh, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(httpURL+"/v1/metrics"),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	mg, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(grpcAddr), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 300 * time.Millisecond, MaxElapsedTime: maxElapsed}))
	must(t, err)
	t.Cleanup(func() {
		for _, s := range []func(context.Context) error{th.Shutdown, tg.Shutdown, lh.Shutdown, lg.Shutdown, mh.Shutdown, mg.Shutdown} {
			_ = s(ctx)
		}
	})
	spans := func(exp sdktrace.SpanExporter) func(context.Context, []string) error {
		return func(ctx context.Context, ids []string) error {
			batch := make([]sdktrace.ReadOnlySpan, len(ids))
			now := time.Now()
			for i, id := range ids {
				var tid trace.TraceID
				var sid trace.SpanID
				copy(tid[:], fmt.Sprintf("%016s", id))
				copy(sid[:], fmt.Sprintf("%08d", i+1))
				batch[i] = tracetest.SpanStub{Name: "GET /orders/{id}", SpanKind: trace.SpanKindServer, StartTime: now, EndTime: now.Add(time.Millisecond),
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
					Attributes:  []attribute.KeyValue{attribute.String("otlp.id", id), attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)},
					Resource:    res}.Snapshot()
			}
			return exp.ExportSpans(ctx, batch)
		}
	}
	logs := func(exp sdklog.Exporter) func(context.Context, []string) error {
		return func(ctx context.Context, ids []string) error {
			batch := make([]sdklog.Record, len(ids))
			for i, id := range ids {
				batch[i] = logtest.RecordFactory{Timestamp: time.Now(), Severity: otellog.SeverityWarn, Body: attribute.StringValue("order " + id),
					Attributes: []attribute.KeyValue{attribute.String("otlp.id", id)}, Resource: res}.NewRecord()
			}
			return exp.Export(ctx, batch)
		}
	}
	type metricExporter interface {
		Export(context.Context, *metricdata.ResourceMetrics) error
	}
	metrics := func(exp metricExporter) func(context.Context, []string) error {
		return func(ctx context.Context, ids []string) error {
			pts := make([]metricdata.DataPoint[int64], len(ids))
			for i, id := range ids {
				pts[i] = metricdata.DataPoint[int64]{Time: time.Now(), Value: int64(i), Attributes: attribute.NewSet(attribute.String("otlp.id", id))}
			}
			rm := metricdata.ResourceMetrics{Resource: res, ScopeMetrics: []metricdata.ScopeMetrics{{
				Metrics: []metricdata.Metrics{{Name: "queue.depth", Data: metricdata.Gauge[int64]{DataPoints: pts}}}}}}
			return exp.Export(ctx, &rm)
		}
	}
	return []otlpClient{
		{"traces-http", spans(th), "RequestData"}, {"traces-grpc", spans(tg), "RequestData"},
		{"logs-http", logs(lh), "MessageData"}, {"logs-grpc", logs(lg), "MessageData"},
		{"metrics-http", metrics(mh), "MetricData"}, {"metrics-grpc", metrics(mg), "MetricData"},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOTLPSIGKILLLosesNothingAcknowledged (issue 15): the OpenTelemetry Go
// SDK's own OTLP exporters (traces, logs and metrics, over HTTP and gRPC)
// send to `aispool run` while it is SIGKILLed and restarted, again and
// again; every span, log record and data point whose export returned
// success arrives upstream, converted (a request, a message, a metric).
func TestOTLPSIGKILLLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	p, _ := fakeingest.ProfileByName("healthy")
	ep, err := fakeingest.New(fakeingest.Config{Profile: p, Seed: 1, ID: otlpID, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	must(t, ep.Start())
	t.Cleanup(func() { _ = ep.Close() })
	dir := filepath.Join(t.TempDir(), "spool")
	addrs := freePorts(t, 2)
	otlpArgs := []string{"--otlp-http-listen", addrs[0], "--otlp-grpc-listen", addrs[1]}
	clients := otlpClients(t, addrs[0], addrs[1])

	var (
		mu       sync.Mutex
		acked    []string
		failures = map[string]int{}
		stop     atomic.Bool
		seq      atomic.Int64
		wg       sync.WaitGroup
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ids := make([]string, 20)
				for j := range ids {
					ids[j] = fmt.Sprintf("%s-%d", c.name, seq.Add(1))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := c.export(ctx, ids)
				cancel()
				mu.Lock()
				if err == nil {
					for _, id := range ids {
						acked = append(acked, c.kind+":"+id)
					}
				} else {
					failures[c.name]++
				}
				mu.Unlock()
			}
		}()
	}
	const kills = 6
	for range kills {
		d := startDaemon(t, dir, ep.ConnectionString(""), otlpArgs...)
		time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
		must(t, d.cmd.Process.Signal(syscall.SIGKILL))
		_ = d.cmd.Wait()
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
	}
	d := startDaemon(t, dir, ep.ConnectionString(""), otlpArgs...)
	time.Sleep(300 * time.Millisecond) // the clients export to the last daemon too
	stop.Store(true)
	wg.Wait()

	var missing []string
	if !testkit.Poll(60*time.Second, 50*time.Millisecond, func() bool {
		rep := ep.Report()
		mu.Lock()
		missing = rep.Unaccounted(acked)
		mu.Unlock()
		return len(missing) == 0
	}) {
		t.Fatalf("%d of %d acknowledged items never arrived upstream (first %s)\n%s", len(missing), len(acked), missing[0], d.logs)
	}
	perKind := map[string]int{}
	for _, id := range acked {
		perKind[id[:strings.IndexByte(id, ':')]]++
	}
	t.Logf("%d kills: %d items acknowledged (%v), all delivered upstream converted; failed exports by client %v; %d duplicates",
		kills, len(acked), perKind, failures, ep.Report().Duplicates)
	for _, kind := range []string{"RequestData", "MessageData", "MetricData"} {
		if perKind[kind] < 100 {
			t.Errorf("only %d %s acknowledged: the test proved little", perKind[kind], kind)
		}
	}
	must(t, d.cmd.Process.Signal(syscall.SIGTERM))
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
