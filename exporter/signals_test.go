package exporter

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

func baseOpts(t *testing.T) []Option {
	return []Option{WithConnectionString(testCS), WithSpoolDir(filepath.Join(t.TempDir(), "spool")), WithLogger(quiet()), withLookupEnv(noEnv), WithoutSender()}
}

func reopen(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	s, err := spool.Open(context.Background(), dir, &spool.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLogExporterThroughProviders emits log records through the SDK's
// logger provider, inside and outside spans, and checks the envelopes in
// the spool: classification, severity, trace context and operation name.
func TestLogExporterThroughProviders(t *testing.T) {
	ctx := context.Background()
	le, err := NewLogExporter(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(NewOperationNameProcessor()),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(le)),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewOperationNameProcessor()))
	tr := tp.Tracer("t")
	lg := lp.Logger("l")
	emit := func(ctx context.Context, sev otellog.Severity, body string, kvs ...attribute.KeyValue) {
		var r otellog.Record
		r.SetSeverity(sev)
		r.SetBody(attribute.StringValue(body))
		r.AddAttributes(kvs...)
		lg.Emit(ctx, r)
	}
	reqCtx, req := tr.Start(ctx, "GET /users/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/users/{id}")))
	emit(reqCtx, otellog.SeverityInfo, "in the request")
	depCtx, dep := tr.Start(reqCtx, "SELECT", trace.WithSpanKind(trace.SpanKindClient))
	emit(depCtx, otellog.SeverityError, "query failed", attribute.String("exception.type", "SQLError"),
		attribute.String("exception.message", "timeout"))
	dep.End()
	req.End()
	_, job := tr.Start(ctx, "nightly-job")
	jobCtx := trace.ContextWithSpan(ctx, job)
	emit(jobCtx, otellog.SeverityWarn, "", attribute.String("microsoft.custom_event.name", "job.started"))
	job.End()
	emit(ctx, 0, "outside any span", attribute.String(envelope.OperationNameKey, "explicit"))
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := le.Export(ctx, nil); !errors.Is(err, ErrShutdown) || !errors.Is(err, sdklog.ErrExporterShutdown) {
		t.Fatalf("Export after Shutdown = %v", err)
	}
	envs := readBack(t, reopen(t, le.Spool().Dir()))
	if len(envs) != 4 {
		t.Fatalf("%d envelopes, want 4", len(envs))
	}
	byMsg := map[string]envelopeJSON{}
	for _, e := range envs {
		key, _ := e.Data.BaseData["message"].(string)
		if e.Data.BaseType == "ExceptionData" {
			key = "exception"
		}
		if e.Data.BaseType == "EventData" {
			key = e.Data.BaseData["name"].(string)
		}
		byMsg[key] = e
	}
	reqTrace := req.SpanContext().TraceID().String()
	for _, tc := range []struct {
		key, baseType, opName, opID, parent string
		severity                            float64
	}{
		{"in the request", "MessageData", "GET /users/{id}", reqTrace, req.SpanContext().SpanID().String(), 1},
		{"exception", "ExceptionData", "GET /users/{id}", reqTrace, dep.SpanContext().SpanID().String(), 3},
		{"job.started", "EventData", "nightly-job", job.SpanContext().TraceID().String(), job.SpanContext().SpanID().String(), -1},
		{"outside any span", "MessageData", "explicit", "", "", 1},
	} {
		e, ok := byMsg[tc.key]
		if !ok {
			t.Errorf("no envelope %q in %+v", tc.key, byMsg)
			continue
		}
		if e.Data.BaseType != tc.baseType || e.Tags["ai.operation.name"] != tc.opName ||
			e.Tags["ai.operation.id"] != tc.opID || e.Tags["ai.operation.parentId"] != tc.parent {
			t.Errorf("%s: %s tags %v", tc.key, e.Data.BaseType, e.Tags)
		}
		sev, has := e.Data.BaseData["severityLevel"].(float64)
		if tc.severity >= 0 && sev != tc.severity || tc.severity < 0 && has {
			t.Errorf("%s: severityLevel %v", tc.key, e.Data.BaseData["severityLevel"])
		}
		if props, _ := e.Data.BaseData["properties"].(map[string]any); props[envelope.OperationNameKey] != nil {
			t.Errorf("%s: operation name left in properties", tc.key)
		}
	}
	if st := le.Stats(); st.Converted != 4 {
		t.Errorf("Stats = %+v", st)
	}
}

func envelopeConfigForTest() envelope.Config { return envelope.Config{} }

func senderConfigForTest() sender.Config { return sender.Config{PollInterval: 10 * time.Millisecond} }

func TestTemporalitySelector(t *testing.T) {
	for k, want := range map[sdkmetric.InstrumentKind]metricdata.Temporality{
		sdkmetric.InstrumentKindCounter:                 metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindObservableCounter:       metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindHistogram:               metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindUpDownCounter:           metricdata.CumulativeTemporality,
		sdkmetric.InstrumentKindObservableUpDownCounter: metricdata.CumulativeTemporality,
		sdkmetric.InstrumentKindObservableGauge:         metricdata.CumulativeTemporality,
		sdkmetric.InstrumentKindGauge:                   metricdata.CumulativeTemporality,
	} {
		if got := TemporalitySelector(k); got != want {
			t.Errorf("%s: %s, want %s", k, got, want)
		}
	}
}

type metricEnv struct {
	name, kind         string
	value, count       float64
	min, max           any
	props              map[string]any
	hasOperationIDTags bool
}

func metricEnvs(t *testing.T, envs []envelopeJSON) []metricEnv {
	t.Helper()
	var out []metricEnv
	for _, e := range envs {
		if e.Data.BaseType != "MetricData" || e.Name != "Microsoft.ApplicationInsights.Metric" {
			t.Fatalf("not a metric: %+v", e)
		}
		ms := e.Data.BaseData["metrics"].([]any)
		if len(ms) != 1 {
			t.Fatalf("%d data points in one envelope", len(ms))
		}
		m := ms[0].(map[string]any)
		kind, _ := m["kind"].(string)
		props, _ := e.Data.BaseData["properties"].(map[string]any)
		_, hasOp := e.Tags["ai.operation.id"]
		out = append(out, metricEnv{name: m["name"].(string), kind: kind, value: m["value"].(float64),
			count: m["count"].(float64), min: m["min"], max: m["max"], props: props, hasOperationIDTags: hasOp})
	}
	return out
}

// TestMetricExporterTemporality records through the SDK's meter provider
// with two collections: counters and histograms come as deltas, up-down
// counters cumulative.
func TestMetricExporterTemporality(t *testing.T) {
	ctx := context.Background()
	me, err := NewMetricExporter(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour))))
	m := mp.Meter("m")
	ctr, _ := m.Int64Counter("orders")
	updown, _ := m.Int64UpDownCounter("in_flight")
	hist, _ := m.Float64Histogram("latency_ms")
	route := metric.WithAttributes(attribute.String("route", "/orders"))
	ctr.Add(ctx, 5, route)
	updown.Add(ctx, 3)
	for _, v := range []float64{1, 2, 3} {
		hist.Record(ctx, v)
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	ctr.Add(ctx, 5, route)
	updown.Add(ctx, 2)
	hist.Record(ctx, 10)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string][]metricEnv{}
	for _, m := range metricEnvs(t, readBack(t, reopen(t, me.Spool().Dir()))) {
		got[m.name] = append(got[m.name], m)
	}
	check := func(name string, i int, kind string, value, count float64, min, max any) {
		t.Helper()
		if len(got[name]) <= i {
			t.Fatalf("%s: %d points", name, len(got[name]))
		}
		p := got[name][i]
		if p.kind != kind || p.value != value || p.count != count || p.min != min || p.max != max || p.hasOperationIDTags {
			t.Errorf("%s[%d] = %+v, want kind %q value %v count %v min %v max %v", name, i, p, kind, value, count, min, max)
		}
	}
	check("orders", 0, "", 5, 1, nil, nil)
	check("orders", 1, "", 5, 1, nil, nil) // delta: not 10
	if got["orders"][0].props["route"] != "/orders" {
		t.Errorf("point attributes not in properties: %v", got["orders"][0].props)
	}
	check("in_flight", 0, "", 3, 1, nil, nil)
	check("in_flight", 1, "", 5, 1, nil, nil) // cumulative
	check("latency_ms", 0, "Aggregation", 6, 3, 1.0, 3.0)
	check("latency_ms", 1, "Aggregation", 10, 1, 10.0, 10.0)
	if st := me.Stats(); st.Converted != 6 || st.Unstored != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestMetricExporterKeepsUnstored: an export whose append fails returns the
// error and keeps its envelopes; the next export stores them first. Past
// MaxUnstoredMetricBytes the oldest are dropped and counted.
func TestMetricExporterKeepsUnstored(t *testing.T) {
	ctx := context.Background()
	me, err := NewMetricExporter(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	point := func(name string, n int) *metricdata.ResourceMetrics {
		pts := make([]metricdata.DataPoint[int64], n)
		for i := range pts {
			pts[i] = metricdata.DataPoint[int64]{Time: time.Now(), Value: int64(i), Attributes: attribute.NewSet(attribute.Int("i", i))}
		}
		return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
			{Name: name, Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, DataPoints: pts}}}}}}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := me.Export(cancelled, point("first", 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Export with a cancelled context = %v", err)
	}
	if st := me.Stats(); st.Unstored != 3 {
		t.Fatalf("Unstored = %d, want 3", st.Unstored)
	}
	if err := me.Export(ctx, point("second", 2)); err != nil {
		t.Fatal(err)
	}
	if st := me.Stats(); st.Unstored != 0 || st.DroppedUnstored != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	// Overflow: each failed export adds ~2 MiB of envelopes.
	big := point("big", 6000)
	for range 3 {
		if err := me.Export(cancelled, big); err == nil {
			t.Fatal("Export with a cancelled context succeeded")
		}
	}
	st := me.Stats()
	if st.DroppedUnstored == 0 || st.Unstored == 0 || st.Unstored+int(st.DroppedUnstored) != 18000 {
		t.Fatalf("after overflow: %+v", st)
	}
	kept := st.Unstored
	if err := me.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, m := range metricEnvs(t, readBack(t, reopen(t, me.Spool().Dir()))) {
		names[m.name]++
	}
	if names["first"] != 3 || names["second"] != 2 || names["big"] != kept {
		t.Fatalf("stored %v, want first 3, second 2, big %d", names, kept)
	}
}

// TestPipelineSharedByThreeExporters: one spool and one sender for
// traces, logs and metrics; exporters leave the pipeline open.
func TestPipelineSharedByThreeExporters(t *testing.T) {
	ctx := context.Background()
	p, err := NewPipeline(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithPipeline(p), WithLogger(quiet()), withLookupEnv(noEnv)}
	te, err := NewTraceExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	le, err := NewLogExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	me, err := NewMetricExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if te.Spool() != p.Spool() || le.Spool() != p.Spool() || me.Spool() != p.Spool() || p.Sender() != nil {
		t.Fatal("exporters do not share the pipeline's spool")
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(te))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(le)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me)))
	_, sp := tp.Tracer("t").Start(ctx, "op")
	sp.End()
	var r otellog.Record
	r.SetBody(attribute.StringValue("hello"))
	lp.Logger("l").Emit(ctx, r)
	g, _ := mp.Meter("m").Int64Gauge("g")
	g.Record(ctx, 7)
	for _, shut := range []func(context.Context) error{tp.Shutdown, lp.Shutdown, mp.Shutdown} {
		if err := shut(ctx); err != nil {
			t.Fatal(err)
		}
	}
	types := map[string]int{}
	for _, e := range readBack(t, p.Spool()) { // still open
		types[e.Data.BaseType]++
	}
	if types["RemoteDependencyData"] != 1 || types["MessageData"] != 1 || types["MetricData"] != 1 {
		t.Fatalf("shared spool holds %v", types)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestConfigurationErrors: conflicting options are refused with an error
// that lists every problem.
func TestConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	p, err := NewPipeline(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	for _, tc := range []struct {
		name string
		opts []Option
		want []string
	}{
		{"pipeline and own settings", []Option{WithPipeline(p), WithConnectionString(testCS), WithSpoolDir(t.TempDir()), WithoutSender()},
			[]string{"WithConnectionString", "WithSpoolDir", "WithoutSender"}},
		{"offline storage off and a spool", []Option{WithoutOfflineStorage(), WithSpoolDir(t.TempDir()), WithoutSender()},
			[]string{"WithSpoolDir", "nothing would deliver"}},
		{"bad environment", []Option{withLookupEnv(func(k string) (string, bool) {
			if k == EnvDisableOfflineStorage {
				return "perhaps", true
			}
			return "", false
		})}, []string{EnvDisableOfflineStorage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithLogger(quiet()), withLookupEnv(noEnv)}, tc.opts...)
			for _, build := range []func() error{
				func() error { _, err := NewTraceExporter(ctx, opts...); return err },
				func() error { _, err := NewLogExporter(ctx, opts...); return err },
				func() error { _, err := NewMetricExporter(ctx, opts...); return err },
			} {
				err := build()
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
			}
		})
	}
	if _, err := NewPipeline(ctx, WithPipeline(p), WithEnvelopeConfig(envelopeConfigForTest()), withLookupEnv(noEnv), WithConnectionString(testCS)); !errors.Is(err, ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "WithEnvelopeConfig") || !strings.Contains(err.Error(), "WithPipeline") {
		t.Errorf("NewPipeline with exporter options: %v", err)
	}
}

// TestEnvironmentParity: the same environment gives the three exporters
// sibling spool directories (each alone has its own drainer), and
// disabling offline storage gives each a temporary spool removed at
// shutdown.
func TestEnvironmentParity(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	env := map[string]string{EnvConnectionString: testCS, EnvStorageDirectory: base, "OTEL_SERVICE_NAME": "shop"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	opts := []Option{withLookupEnv(lookup), WithLogger(quiet()), WithoutSender()}
	te, err := NewTraceExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	le, err := NewLogExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	me, err := NewMetricExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for e, want := range map[string]string{te.Spool().Dir(): "shop", le.Spool().Dir(): "shop-logs", me.Spool().Dir(): "shop-metrics"} {
		if e != filepath.Join(base, want) {
			t.Errorf("spool %s, want %s", e, filepath.Join(base, want))
		}
	}
	for _, shut := range []func(context.Context) error{te.Shutdown, le.Shutdown, me.Shutdown} {
		if err := shut(ctx); err != nil {
			t.Fatal(err)
		}
	}
	env[EnvDisableOfflineStorage] = "true"
	vol, err := NewLogExporter(ctx, withLookupEnv(lookup), WithLogger(quiet()),
		WithSenderConfig(senderConfigForTest()))
	if err != nil {
		t.Fatal(err)
	}
	dir := vol.Spool().Dir()
	if strings.HasPrefix(dir, base) {
		t.Errorf("volatile spool %s is in the storage directory", dir)
	}
	if err := vol.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volatile spool %s left behind: %v", dir, err)
	}
}

// TestSlogBridgeCorrelation: slog records through the OpenTelemetry slog
// bridge carry the span's trace context and the request's operation name;
// an error attribute makes an ExceptionData.
func TestSlogBridgeCorrelation(t *testing.T) {
	ctx := context.Background()
	le, err := NewLogExporter(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(NewOperationNameProcessor()), sdklog.WithProcessor(sdklog.NewBatchProcessor(le)))
	logger := slog.New(otelslog.NewHandler("test", otelslog.WithLoggerProvider(lp)))
	tp := sdktrace.NewTracerProvider()
	reqCtx, req := tp.Tracer("t").Start(ctx, "POST /pay", trace.WithSpanKind(trace.SpanKindServer))
	logger.InfoContext(reqCtx, "paying", "amount", 12.5)
	logger.ErrorContext(reqCtx, "payment failed", "err", errors.New("card declined"))
	req.End()
	logger.WarnContext(ctx, "no span here")
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	envs := readBack(t, reopen(t, le.Spool().Dir()))
	if len(envs) != 3 {
		t.Fatalf("%d envelopes", len(envs))
	}
	sc := req.SpanContext()
	for i, e := range envs[:2] {
		if e.Tags["ai.operation.id"] != sc.TraceID().String() || e.Tags["ai.operation.parentId"] != sc.SpanID().String() ||
			e.Tags["ai.operation.name"] != "POST /pay" {
			t.Errorf("record %d not correlated: %v", i, e.Tags)
		}
	}
	if e := envs[0]; e.Data.BaseType != "MessageData" || e.Data.BaseData["message"] != "paying" ||
		e.Data.BaseData["properties"].(map[string]any)["amount"] != "12.5" {
		t.Errorf("info record: %+v", e.Data)
	}
	ex := envs[1].Data.BaseData
	details := ex["exceptions"].([]any)[0].(map[string]any)
	if envs[1].Data.BaseType != "ExceptionData" || details["message"] != "card declined" || details["typeName"] == "" ||
		ex["properties"].(map[string]any)[envelope.LogBodyKey] != "payment failed" || ex["severityLevel"] != 3.0 {
		t.Errorf("error record: %+v", envs[1].Data)
	}
	if e := envs[2]; e.Tags["ai.operation.id"] != "" || e.Data.BaseData["severityLevel"] != 2.0 {
		t.Errorf("record outside a span: %+v", e)
	}
}

// TestMetricExporterFullSpool: under the RejectNew policy a full spool
// fails the export with spool.ErrFull; the envelopes wait in memory and are
// stored once the spool has room again.
func TestMetricExporterFullSpool(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	me, err := NewMetricExporter(ctx, WithConnectionString(testCS), WithSpoolDir(dir), WithLogger(quiet()), withLookupEnv(noEnv),
		WithoutSender(), WithSpoolOptions(spool.Options{MaxBytes: 512 << 10, SegmentMaxBytes: 256 << 10, Policy: spool.RejectNew, Logger: quiet()}))
	if err != nil {
		t.Fatal(err)
	}
	defer me.Shutdown(ctx)
	batch := func(i int) *metricdata.ResourceMetrics {
		pts := make([]metricdata.DataPoint[float64], 100)
		for j := range pts {
			pts[j] = metricdata.DataPoint[float64]{Time: time.Now(), Value: float64(j),
				Attributes: attribute.NewSet(attribute.String("pad", strings.Repeat("x", 500)), attribute.Int("batch", i))}
		}
		return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
			{Name: "g", Data: metricdata.Gauge[float64]{DataPoints: pts}}}}}}
	}
	stored := 0
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		if err := me.Export(ctx, batch(i)); err != nil {
			full = err
		} else {
			stored += 100
		}
	}
	if !errors.Is(full, spool.ErrFull) {
		t.Fatalf("Export on a full spool = %v, want spool.ErrFull", full)
	}
	if st := me.Stats(); st.Unstored != 100 || stored == 0 {
		t.Fatalf("after the full spool: %+v (%d stored)", st, stored)
	}
	// Drain everything; once the spool has room the next export stores
	// the waiting envelopes first.
	got := len(readBack(t, me.Spool()))
	if got != stored {
		t.Fatalf("drained %d, want %d", got, stored)
	}
	var err2 error
	attempts := 0
	for attempts < 50 {
		attempts++
		if err2 = me.Export(ctx, batch(1000)); err2 == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("Export after draining: %v", err2)
	}
	if st := me.Stats(); st.Unstored != 0 || st.DroppedUnstored != 0 {
		t.Fatalf("after room came back: %+v", st)
	}
	if got, want := len(readBack(t, me.Spool())), 100+100*attempts; got != want {
		t.Fatalf("drained %d after room came back, want %d: the 100 waiting and every later export", got, want)
	}
}
