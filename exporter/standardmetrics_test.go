package exporter

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestStandardMetricsCountEverySpanUnderSampling: with the recording
// sampler at 50%, about half the spans are exported, but the standard
// metrics count every request and dependency, with the dimensions of the
// mapping spec (6.1) computed as in the envelopes, and the exported spans
// carry _MS.ProcessedByMetricExtractors.
func TestStandardMetricsCountEverySpanUnderSampling(t *testing.T) {
	ctx := context.Background()
	p, err := NewPipeline(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	opts := []Option{WithPipeline(p), WithLogger(quiet()), withLookupEnv(noEnv)}
	te, err := NewTraceExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	me, err := NewMetricExporter(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "api"), attribute.String("service.namespace", "shop"),
		attribute.String("service.instance.id", "pod-1"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour))))
	std, err := NewStandardMetricsProcessor(mp)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(NewRecordingSampler(0.5)),
		sdktrace.WithSpanProcessor(NewOperationNameProcessor()), sdktrace.WithSpanProcessor(std), sdktrace.WithBatcher(te))
	tr := tp.Tracer("t")
	const n = 200
	for i := range n {
		code := 200
		if i%4 == 0 {
			code = 500
		}
		rctx, req := tr.Start(ctx, "GET /orders", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", "GET"), attribute.String("http.route", "/orders"),
			attribute.Int("http.response.status_code", code)))
		_, dep := tr.Start(rctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("db.system.name", "postgresql"), attribute.String("server.address", "db.local"),
			attribute.String("db.namespace", "orders")))
		if i%10 == 0 {
			dep.SetStatus(codes.Error, "timeout")
		}
		dep.End()
		req.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	envs := readBack(t, p.Spool())
	var requests, deps int
	counts := map[string]float64{}
	for _, e := range envs {
		switch e.Data.BaseType {
		case "RequestData", "RemoteDependencyData":
			if e.Data.BaseType == "RequestData" {
				requests++
			} else {
				deps++
			}
			props, _ := e.Data.BaseData["properties"].(map[string]any)
			if props[ProcessedByExtractorsKey] != "True" || e.SampleRate != 50 {
				t.Errorf("%s: properties %v, sampleRate %v", e.Data.BaseType, props, e.SampleRate)
			}
		case "MetricData":
			m := e.Data.BaseData["metrics"].([]any)[0].(map[string]any)
			props := e.Data.BaseData["properties"].(map[string]any)
			if props["_MS.MetricId"] != m["name"] || props["_MS.IsAutocollected"] != "True" || m["kind"] != "Aggregation" ||
				props["cloud/roleName"] != "shop.api" || props["cloud/roleInstance"] != "pod-1" {
				t.Errorf("standard metric %v %v", m, props)
			}
			var key string
			if m["name"] == RequestDurationMetric {
				key = "req " + props["request/resultCode"].(string) + " " + props["Request.Success"].(string)
			} else {
				key = "dep " + props["Dependency.Type"].(string) + " " + props["dependency/target"].(string) + " " +
					props["dependency/resultCode"].(string) + " " + props["Dependency.Success"].(string)
			}
			counts[key] += m["count"].(float64)
		}
	}
	if requests == 0 || requests == n || deps != requests {
		t.Errorf("exported %d requests and %d dependencies of %d: the sampler should keep about half", requests, deps, n)
	}
	want := map[string]float64{
		"req 200 True": 150, "req 500 False": 50,
		"dep postgresql db.local|orders 0 True": 180, "dep postgresql db.local|orders 0 False": 20,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("count[%s] = %v, want %v (all %v)", k, counts[k], v, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("dimension sets %v, want %v", counts, want)
	}
}
