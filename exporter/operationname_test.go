package exporter

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

func newProvider(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(NewOperationNameProcessor()),
		sdktrace.WithSyncer(exp),
	)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), exp
}

func opNameAttr(s tracetest.SpanStub) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == envelope.OperationNameKey {
			return kv.Value.AsString(), true
		}
	}
	return "", false
}

func TestOperationNameProcessor(t *testing.T) {
	tracer, exp := newProvider(t)
	ctx := context.Background()

	// A request whose route is only known after routing, as with most
	// routers: children started afterwards see it.
	ctx1, req := tracer.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET")))
	req.SetAttributes(attribute.String("http.route", "/orders/{id}"))
	ctx2, dep := tracer.Start(ctx1, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient))
	_, inner := tracer.Start(ctx2, "decode")
	inner.End()
	dep.End()
	req.End()

	// A background job: a root internal span names its operation.
	ctx3, job := tracer.Start(ctx, "nightly cleanup")
	_, step := tracer.Start(ctx3, "delete expired")
	step.End()
	job.End()

	// Under a remote parent, a non-request span has no known operation.
	remote := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true,
	}))
	_, orphan := tracer.Start(remote, "orphan")
	orphan.End()

	// A new root started from a context holding a span is not its child.
	_, fresh := tracer.Start(ctx1, "fresh root", trace.WithNewRoot())
	fresh.End()

	want := map[string]string{
		"decode":          "GET /orders/{id}",
		"SELECT orders":   "GET /orders/{id}",
		"nightly cleanup": "nightly cleanup",
		"delete expired":  "nightly cleanup",
		"fresh root":      "fresh root",
	}
	for _, s := range exp.GetSpans() {
		got, ok := opNameAttr(s)
		w, wantOK := want[s.Name]
		if ok != wantOK || got != w {
			t.Errorf("span %q: operation name %q (set %v), want %q (set %v)", s.Name, got, ok, w, wantOK)
		}
	}
}

// TestOperationNameEndToEnd converts the spans of a request and checks that
// dependencies and their events carry the request's operation name as a tag
// and never as a property.
func TestOperationNameEndToEnd(t *testing.T) {
	tracer, exp := newProvider(t)
	ctx, req := tracer.Start(context.Background(), "POST /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "/checkout")))
	_, dep := tracer.Start(ctx, "charge", trace.WithSpanKind(trace.SpanKindClient))
	dep.AddEvent("retrying")
	dep.RecordError(errTest{})
	dep.End()
	req.End()

	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a"})
	if err != nil {
		t.Fatal(err)
	}
	var buf envelope.Buffer
	records, skipped := conv.AppendSpans(&buf, exp.GetSpans().Snapshots())
	if records != 4 || skipped != 0 {
		t.Fatalf("%d records, %d skipped; want 4, 0", records, skipped)
	}
	for _, rec := range buf.Records(nil) {
		if err := envelope.Validate(rec); err != nil {
			t.Error(err)
		}
		var env struct {
			Name string            `json:"name"`
			Tags map[string]string `json:"tags"`
			Data struct {
				BaseData struct {
					Properties map[string]string `json:"properties"`
				} `json:"baseData"`
			} `json:"data"`
		}
		if err := json.Unmarshal(rec, &env); err != nil {
			t.Fatal(err)
		}
		if got := env.Tags["ai.operation.name"]; got != "POST /checkout" {
			t.Errorf("%s: ai.operation.name = %q, want POST /checkout", env.Name, got)
		}
		if _, ok := env.Data.BaseData.Properties[envelope.OperationNameKey]; ok {
			t.Errorf("%s: the helper attribute leaked into properties", env.Name)
		}
	}
}

type errTest struct{}

func (errTest) Error() string { return "card declined" }
