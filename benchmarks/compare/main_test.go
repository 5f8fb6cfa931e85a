package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// TestMain lets the test binary play the children's roles: the harness
// re-executes its own binary (here, the test binary) with -role=....
func TestMain(m *testing.M) {
	if benchkit.IsChild(os.Args[1:]) {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want summary
		cell string
	}{
		{"empty", nil, summary{}, "—"},
		{"one", []float64{3}, summary{3, 3, 3, 1}, "3.000"},
		{"odd", []float64{5, 1, 3}, summary{3, 1, 5, 3}, "3.000 (1.000–5.000)"},
		{"even", []float64{4, 1, 2, 10}, summary{3, 1, 10, 4}, "3.000 (1.000–10.000)"},
		{"equal", []float64{2, 2}, summary{2, 2, 2, 2}, "2.000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(tc.in)
			if got != tc.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			if c := got.cell(secs); c != tc.cell {
				t.Errorf("cell = %q, want %q", c, tc.cell)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 300000: "300,000", 1234567: "1,234,567", -20000: "-20,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{3 * time.Second: "3 s", 200 * time.Millisecond: "200 ms", 1500 * time.Millisecond: "1.5s"} {
		if got := dur(d); got != want {
			t.Errorf("dur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRotate(t *testing.T) {
	s := []string{"a", "b", "c"}
	for k, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotate(s, k), ""); got != want {
			t.Errorf("rotate(%v, %d) = %q, want %q", s, k, got, want)
		}
	}
	if got := strings.Join(s, ""); got != "abc" {
		t.Errorf("rotate changed its input: %q", got)
	}
}

func TestParseOptionsListsEveryProblem(t *testing.T) {
	_, err := parseOptions([]string{"-shapes", "ua7", "-shippers", "aispool,fluentd", "-spans", "0"}, io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`unknown span shape "ua7"`, `unknown shipper "fluentd"`, "-spans"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	o, err := parseOptions([]string{"-shippers", " aispool, sdk,aispool ", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.shippers, ","); got != "aispool,sdk" {
		t.Errorf("shippers = %q", got)
	}
	if got := strings.Join(o.shapes, ","); got != "ua101,ua41" {
		t.Errorf("default shapes = %q", got)
	}
}

func TestUserAgentLengths(t *testing.T) {
	for shape, n := range map[string]int{shapeUA101: 101, shapeUA41: 41} {
		if got := len(userAgents[shape]); got != n {
			t.Errorf("%s: user agent of %d characters, want %d", shape, got, n)
		}
	}
}

// recordSpans makes spans through a real SDK and returns them as exported.
func recordSpans(t *testing.T, f func(trace.Tracer)) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(benchResource()))
	f(tp.Tracer("test-scope", trace.WithInstrumentationVersion("1.2.3")))
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rec.Ended()
}

func TestToTraces(t *testing.T) {
	ctx := context.Background()
	spans := recordSpans(t, func(tr trace.Tracer) {
		var attrs [8]attribute.KeyValue
		pctx, parent := tr.Start(ctx, "parent", trace.WithSpanKind(trace.SpanKindServer))
		_, child := tr.Start(pctx, "child", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.Bool("b", true), attribute.Float64("f", 1.5), attribute.StringSlice("ss", []string{"x", "y"}),
			attribute.Int64Slice("is", []int64{1, 2})))
		child.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", "boom")))
		child.SetStatus(codes.Error, "failed")
		child.End()
		parent.SetStatus(codes.Ok, "")
		parent.End()
		serverSpan(ctx, tr, 7, userAgents[shapeUA101], &attrs)
	})
	td := toTraces(spans)
	if td.ResourceSpans().Len() != 1 || td.ResourceSpans().At(0).ScopeSpans().Len() != 1 {
		t.Fatalf("want one resource and one scope, got %d resources", td.ResourceSpans().Len())
	}
	rs := td.ResourceSpans().At(0)
	if v, ok := rs.Resource().Attributes().Get("service.name"); !ok || v.Str() != "checkout" {
		t.Errorf("resource service.name = %v", v.AsString())
	}
	ss := rs.ScopeSpans().At(0)
	if ss.Scope().Name() != "test-scope" || ss.Scope().Version() != "1.2.3" {
		t.Errorf("scope = %q %q", ss.Scope().Name(), ss.Scope().Version())
	}
	if ss.Spans().Len() != 3 {
		t.Fatalf("%d spans, want 3", ss.Spans().Len())
	}
	byName := map[string]ptrace.Span{}
	for i := range ss.Spans().Len() {
		byName[ss.Spans().At(i).Name()] = ss.Spans().At(i)
	}
	child, parent, server := byName["child"], byName["parent"], byName["GET /api/orders/{id}"]
	if child.Kind() != ptrace.SpanKindClient || parent.Kind() != ptrace.SpanKindServer {
		t.Errorf("kinds %v %v", child.Kind(), parent.Kind())
	}
	if child.ParentSpanID() != parent.SpanID() || child.TraceID() != parent.TraceID() || !parent.ParentSpanID().IsEmpty() {
		t.Errorf("ids: child %v/%v parent %v/%v", child.TraceID(), child.ParentSpanID(), parent.TraceID(), parent.SpanID())
	}
	if child.Status().Code() != ptrace.StatusCodeError || child.Status().Message() != "failed" || parent.Status().Code() != ptrace.StatusCodeOk {
		t.Errorf("status: child %v %q, parent %v", child.Status().Code(), child.Status().Message(), parent.Status().Code())
	}
	if child.Events().Len() != 1 || child.Events().At(0).Name() != "exception" {
		t.Errorf("events: %d", child.Events().Len())
	} else if v, _ := child.Events().At(0).Attributes().Get("exception.message"); v.Str() != "boom" {
		t.Errorf("event attribute %q", v.Str())
	}
	ca := child.Attributes()
	if v, _ := ca.Get("b"); !v.Bool() {
		t.Error("bool attribute lost")
	}
	if v, _ := ca.Get("f"); v.Double() != 1.5 {
		t.Error("float attribute lost")
	}
	if v, _ := ca.Get("ss"); v.Slice().Len() != 2 || v.Slice().At(1).Str() != "y" {
		t.Error("string slice attribute lost")
	}
	if v, _ := ca.Get("is"); v.Slice().Len() != 2 || v.Slice().At(1).Int() != 2 {
		t.Error("int slice attribute lost")
	}
	if server.Attributes().Len() != 8 {
		t.Errorf("server span has %d attributes, want 8", server.Attributes().Len())
	}
	if v, _ := server.Attributes().Get("server.port"); v.Int() != 443 {
		t.Errorf("server.port = %v", v.AsString())
	}
	if v, _ := server.Attributes().Get("user_agent.original"); len(v.Str()) != 101 {
		t.Errorf("user agent %q", v.Str())
	}
	if !server.EndTimestamp().AsTime().After(server.StartTimestamp().AsTime()) && server.EndTimestamp() != server.StartTimestamp() {
		t.Error("timestamps out of order")
	}
	if server.StartTimestamp() == 0 {
		t.Error("no start timestamp")
	}
}

// TestShippersDeliverValidEnvelopes runs every shipper in this process
// against the fake endpoint in its decoding mode, which refuses any item
// that is not a valid envelope: each must deliver every span, and nothing
// may be refused. This proves the adapters (pdata conversion, the
// ApplicationInsights-Go mapping) feed their shippers what they expect.
func TestShippersDeliverValidEnvelopes(t *testing.T) {
	const n = 300
	for _, s := range shippers {
		if !s.endpoint {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			ep, err := fakeingest.New(fakeingest.Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if err := ep.Start(); err != nil {
				t.Fatal(err)
			}
			defer ep.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f := childFlags{shipper: s.name, shape: shapeUA101, producers: 2, batch: 128, queue: 256,
				dir: t.TempDir(), endpoint: ep.URL(), shutdown: 5 * time.Second}
			p, tp, err := newChildPipeline(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if err := handOver(ctx, p, tp, f, n); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for ep.Stats().ItemsAccepted < n && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			var r childResult
			shutdown(ctx, tp, f, &r)
			if r.ShutdownErr != "" {
				t.Errorf("shutdown: %s", r.ShutdownErr)
			}
			st := ep.Stats()
			if st.ItemsAccepted != n || st.ItemsReceived != n {
				t.Errorf("endpoint accepted %d and received %d items, want %d of %d (outcomes %v)", st.ItemsAccepted, st.ItemsReceived, n, n, st.ByOutcome)
			}
		})
	}
}

// TestSmoke runs the whole program at a tiny size: every shipper on both
// shapes, the probe, the report. It starts some fifty child processes.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts some fifty child processes; skipped with -short")
	}
	dir := t.TempDir()
	report := filepath.Join(dir, "REPORT.md")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-spans=3000", "-rounds=2", "-load=1", "-probe-spans=1000", "-probe-delay=200ms", "-probe-wait=3s",
		"-out=" + dir, "-report=" + report, "-timeout=5m"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## The issue's span shape (`ua101`)", "## The README's span shape (`ua41`)", "## Durability probe", "## Every run",
		"| OpenTelemetry Collector azuremonitorexporter v0.161.0, file_storage queue, fsync on | ",
		"| ApplicationInsights-Go v0.4.4 (memory only) | ",
		"| **aispool** exporter (durable, README's settings) | ",
		"| the OpenTelemetry SDK alone, discarding exporter | ",
		"aispool vs the Collector with file_storage (medians)",
		"azuremonitorexporter v0.161.0", "ApplicationInsights-Go v0.4.4",
		// Every shipper also ran on ua101 under load, and aispool reported
		// its group commits, quiet and loaded.
		"## Under load: `ua101`, 1 busy goroutine in another process",
		"its rise is ",
		"## aispool's group commits",
		"| ua101 | quiet | 2 | ", "| ua101 | 1 busy goroutine | 2 | ", "| ua41 | quiet | 2 | ",
		// aispool keeps and delivers everything after a SIGKILL and after a
		// clean shutdown.
		"| **aispool** exporter (durable, README's settings) | yes | 1,000 of 1,000 (in ",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := bytes.Count(md, []byte("1,000 of 1,000 (in ")); n < 2 {
		t.Errorf("aispool delivered everything in %d of its 2 probes", n)
	}
	// No throughput run may have lost or duplicated a span.
	for line := range strings.Lines(string(md)) {
		if strings.Contains(line, "⚠") && strings.Contains(line, "round ") {
			t.Errorf("report flags a run: %s", line)
		}
	}
	if !strings.Contains(stdout.String(), "report written to") {
		t.Errorf("stdout: %s", stdout.String())
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("scratch left behind: %v %v", entries, err)
	}
}

func TestProbeNeedsASignal(t *testing.T) {
	// A fill phase that gets no signal gives up at its timeout with an
	// error naming why.
	ep, err := fakeingest.New(fakeingest.Config{Bodies: fakeingest.CountBodies, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ep.SetUnavailable(true)
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f := childFlags{role: roleProbe, phase: phaseFill, shipper: shipAispool, shape: shapeUA41, spans: 10, producers: 1,
		batch: 16, queue: 32, dir: t.TempDir(), endpoint: ep.URL(), shutdown: time.Second}
	err = probeMain(ctx, f)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no signal came") {
		t.Errorf("probeMain = %v", err)
	}
}
