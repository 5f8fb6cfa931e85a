package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/exporter"
	"github.com/aispool/aispool/sender"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// received is what the fake endpoint accepted, by id: the decoded
// envelope of its first acceptance.
type received struct {
	mu   sync.Mutex
	envs map[string]map[string]any
}

// idFunc wraps fakeingest.DefaultID (the chaos.id property, else baseData.id)
// and keeps each accepted envelope.
func (r *received) idFunc(raw []byte) (string, bool) {
	id, ok := fakeingest.DefaultID(raw)
	if !ok {
		return id, ok
	}
	var env map[string]any
	if json.Unmarshal(raw, &env) == nil {
		r.mu.Lock()
		if _, seen := r.envs[id]; !seen {
			r.envs[id] = env
		}
		r.mu.Unlock()
	}
	return id, ok
}

func (r *received) get(id string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.envs[id]
}

// startEndpoint starts the chaos kit's fake ingestion endpoint on loopback
// with a profile, recording accepted envelopes.
func startEndpoint(t *testing.T, profile string) (*fakeingest.Endpoint, *received) {
	t.Helper()
	prof, err := fakeingest.ProfileByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	rec := &received{envs: map[string]map[string]any{}}
	return fakeingest.StartForTest(t, fakeingest.Config{Profile: prof, Seed: 14, ID: rec.idFunc, Logger: quietLogger()}), rec
}

// fastSender retries quickly, for tests against a flaky endpoint.
func fastSender() sender.Config {
	return sender.Config{PollInterval: 10 * time.Millisecond, RequestTimeout: 2 * time.Second,
		BackoffInitial: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, MaxBatchItems: 25}
}

func baseData(env map[string]any) map[string]any {
	return env["data"].(map[string]any)["baseData"].(map[string]any)
}

func tags(env map[string]any) map[string]any { return env["tags"].(map[string]any) }

// TestEndToEndAllSignalsThroughFlakyEndpoint drives spans, logs and metrics
// through the real SDK providers, one shared pipeline (spool and
// in-process sender) and the chaos kit's flaky endpoint, and checks that
// every record arrived, converted as expected, with no duplicate the
// endpoint cannot explain.
func TestEndToEndAllSignalsThroughFlakyEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against a flaky endpoint")
	}
	ctx := context.Background()
	ep, rec := startEndpoint(t, "flaky")
	p, err := exporter.NewPipeline(ctx, exporter.WithConnectionString(ep.ConnectionString("")),
		exporter.WithSpoolDir(filepath.Join(t.TempDir(), "spool")), exporter.WithLogger(quietLogger()),
		exporter.WithSenderConfig(fastSender()))
	if err != nil {
		t.Fatal(err)
	}
	opts := []exporter.Option{exporter.WithPipeline(p), exporter.WithLogger(quietLogger())}
	te, err := exporter.NewTraceExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	le, err := exporter.NewLogExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	me, err := exporter.NewMetricExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "shop"), attribute.String("service.instance.id", "i-1"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(exporter.NewOperationNameProcessor()),
		sdktrace.WithBatcher(te, sdktrace.WithBatchTimeout(20*time.Millisecond)))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(exporter.NewOperationNameProcessor()),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(le, sdklog.WithExportInterval(20*time.Millisecond), sdklog.WithMaxQueueSize(100000))))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(50*time.Millisecond))))
	tracer, logger, meter := tp.Tracer("e2e"), lp.Logger("e2e"), mp.Meter("e2e")
	counter, _ := meter.Int64Counter("orders")
	hist, _ := meter.Float64Histogram("latency_ms")

	const n = 300
	type spanWant struct{ traceID, spanID string }
	spans := make([]spanWant, n)
	for i := range n {
		reqCtx, req := tracer.Start(ctx, "GET /items/{id}", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/items/{id}"),
				attribute.Int("http.response.status_code", 200)))
		var r otellog.Record
		r.SetSeverity(otellog.SeverityInfo)
		r.SetBody(attribute.StringValue(fmt.Sprintf("item %d served", i)))
		r.AddAttributes(attribute.String(fakeingest.IDProperty, fmt.Sprintf("log-%d", i)))
		switch i % 10 {
		case 3:
			r.SetSeverity(otellog.SeverityError)
			r.AddAttributes(attribute.String("exception.type", "TimeoutError"), attribute.String("exception.message", "slow"))
		case 7:
			r.AddAttributes(attribute.String("microsoft.custom_event.name", "item.viewed"))
		}
		logger.Emit(reqCtx, r)
		counter.Add(reqCtx, 1, metric.WithAttributes(attribute.String(fakeingest.IDProperty, fmt.Sprintf("ctr-%d", i))))
		hist.Record(reqCtx, float64(i), metric.WithAttributes(attribute.String(fakeingest.IDProperty, fmt.Sprintf("hist-%d", i))))
		req.End()
		spans[i] = spanWant{req.SpanContext().TraceID().String(), req.SpanContext().SpanID().String()}
		if i%50 == 0 {
			time.Sleep(10 * time.Millisecond) // let exports interleave
		}
	}
	for _, flush := range []func(context.Context) error{tp.ForceFlush, lp.ForceFlush, mp.ForceFlush} {
		if err := flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := p.Sender().Flush(fctx); err != nil {
		t.Fatalf("Flush: %v (sender %+v)", err, p.Sender().Stats())
	}
	for _, shut := range []func(context.Context) error{tp.Shutdown, lp.Shutdown, mp.Shutdown, p.Shutdown} {
		if err := shut(ctx); err != nil {
			t.Fatal(err)
		}
	}

	report := ep.Report()
	var want []string
	for i := range n {
		want = append(want, spans[i].spanID, fmt.Sprintf("log-%d", i), fmt.Sprintf("ctr-%d", i), fmt.Sprintf("hist-%d", i))
	}
	for _, id := range want {
		if report.IDs[id].Accepted == 0 {
			t.Errorf("%s never accepted: %+v", id, report.IDs[id])
		}
	}
	if st := report.Stats; st.UnexplainedDuplicates != 0 || st.InvalidItems != 0 {
		t.Errorf("endpoint stats: %+v", st)
	}
	if t.Failed() {
		t.FailNow()
	}
	for i := range n {
		sp := spans[i]
		req := rec.get(sp.spanID)
		if baseData(req)["name"] != "GET /items/{id}" || tags(req)["ai.cloud.role"] != "shop" {
			t.Errorf("request %d: %v", i, req)
		}
		lg := rec.get(fmt.Sprintf("log-%d", i))
		wantType := map[int]string{3: "Microsoft.ApplicationInsights.Exception", 7: "Microsoft.ApplicationInsights.Event"}[i%10]
		if wantType == "" {
			wantType = "Microsoft.ApplicationInsights.Message"
		}
		lt := tags(lg)
		if lg["name"] != wantType || lt["ai.operation.id"] != sp.traceID || lt["ai.operation.parentId"] != sp.spanID ||
			lt["ai.operation.name"] != "GET /items/{id}" || lt["ai.cloud.roleInstance"] != "i-1" {
			t.Errorf("log %d: %v", i, lg)
		}
		ctr := baseData(rec.get(fmt.Sprintf("ctr-%d", i)))["metrics"].([]any)[0].(map[string]any)
		if ctr["name"] != "orders" || ctr["value"] != 1.0 || ctr["count"] != 1.0 {
			t.Errorf("counter point %d: %v", i, ctr)
		}
		h := baseData(rec.get(fmt.Sprintf("hist-%d", i)))["metrics"].([]any)[0].(map[string]any)
		if h["name"] != "latency_ms" || h["kind"] != "Aggregation" || h["value"] != float64(i) || h["count"] != 1.0 ||
			h["min"] != float64(i) || h["max"] != float64(i) {
			t.Errorf("histogram point %d: %v", i, h)
		}
	}
	t.Logf("endpoint: %d requests, %d items accepted, %d duplicates (explained), outcomes %v",
		report.Stats.Requests, report.Stats.ItemsAccepted, report.Stats.DuplicateItems, report.Stats.ByOutcome)
}
