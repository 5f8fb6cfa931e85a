package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// otlpID names an envelope made from an item of the OTLP tests by its base
// type and the otlp.id attribute every span, log record and data point
// carries, so that the upstream's report says what arrived, and as what.
var otlpID = fakeingest.TypedID("otlp.id")

// startOTLPUpstream is startUpstream reconciling envelopes by otlpID.
func startOTLPUpstream(t *testing.T) *fakeingest.Endpoint {
	t.Helper()
	p, _ := fakeingest.ProfileByName("healthy")
	ep, err := fakeingest.New(fakeingest.Config{Profile: p, Seed: 1, ID: otlpID, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

// TestOTLPGoSDKExporters: the OpenTelemetry Go SDK's own OTLP exporters,
// over HTTP and gRPC, send spans, log records and metric points to the
// daemon; every one arrives upstream, converted (a request, a message, a
// metric).
func TestOTLPGoSDKExporters(t *testing.T) {
	up := startOTLPUpstream(t)
	d := startDaemon(t, testConfig(t, up.ConnectionString("")))
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "otlp-test"))
	var want []string
	for _, proto := range []string{"http", "grpc"} {
		var (
			spanExp   sdktrace.SpanExporter
			logExp    sdklog.Exporter
			metricExp sdkmetric.Exporter
			err       error
		)
		if proto == "http" {
			spanExp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(d.OTLPHTTPURL()+"/v1/traces"))
			if err == nil {
				logExp, err = otlploghttp.New(ctx, otlploghttp.WithEndpointURL(d.OTLPHTTPURL()+"/v1/logs"))
			}
			if err == nil {
				metricExp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(d.OTLPHTTPURL()+"/v1/metrics"))
			}
		} else {
			addr := d.OTLPGRPCAddr()
			spanExp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
			if err == nil {
				logExp, err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(addr), otlploggrpc.WithInsecure())
			}
			if err == nil {
				metricExp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(addr), otlpmetricgrpc.WithInsecure())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExp), sdktrace.WithResource(res))
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)), sdklog.WithResource(res))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)), sdkmetric.WithResource(res))
		tracer := tp.Tracer("otlp-test")
		logger := lp.Logger("otlp-test")
		counter, err := mp.Meter("otlp-test").Int64Counter("orders")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			id := fmt.Sprintf("%s-%d", proto, i)
			_, span := tracer.Start(ctx, "GET /orders", trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("otlp.id", id), attribute.String("http.request.method", "GET")))
			span.End()
			var rec otellog.Record
			rec.SetBody(attribute.StringValue("order " + id))
			rec.SetSeverity(otellog.SeverityInfo)
			rec.AddAttributes(attribute.String("otlp.id", id))
			logger.Emit(ctx, rec)
			counter.Add(ctx, 1, metric.WithAttributes(attribute.String("otlp.id", id)))
			want = append(want, "RequestData:"+id, "MessageData:"+id, "MetricData:"+id)
		}
		for _, err := range []error{tp.ForceFlush(ctx), lp.ForceFlush(ctx), mp.ForceFlush(ctx)} {
			if err != nil {
				t.Fatalf("%s: export failed: %v", proto, err)
			}
		}
		_ = tp.Shutdown(ctx)
		_ = lp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	}
	waitDelivered(t, up, want)
	st := d.OTLP().Stats()
	for _, sig := range []string{"traces", "logs", "metrics"} {
		if st.Accepted[sig] < 100 || st.Rejected[sig] != 0 {
			t.Errorf("%s: stats %+v", sig, st)
		}
	}
}

// TestOTLPExposure: the OTLP intake has the Breeze intake's guard: over
// HTTP a secret path prefix works as OTEL_EXPORTER_OTLP_ENDPOINT's base
// path; over gRPC a bearer token in the metadata; without credentials
// both refuse, saying why.
func TestOTLPExposure(t *testing.T) {
	up := startOTLPUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	dir := t.TempDir()
	secretFile, tokenFile := filepath.Join(dir, "secret"), filepath.Join(dir, "token")
	const secret, token = "s3cret-path-0123456789", "t0ken-0123456789abcdef"
	for f, v := range map[string]string{secretFile: secret, tokenFile: token} {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Exposure.PathSecretFile, cfg.Exposure.BearerTokenFile = secretFile, tokenFile
	d := startDaemon(t, cfg)
	ctx := context.Background()
	span := func(exp sdktrace.SpanExporter, id string) error {
		defer exp.Shutdown(ctx)
		var rec tracetest.SpanRecorder
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(&rec))
		_, s := tp.Tracer("t").Start(ctx, "op", trace.WithAttributes(attribute.String("otlp.id", id)))
		s.End()
		return exp.ExportSpans(ctx, rec.Ended())
	}
	exporters := func(id string, h map[string]string, base string) []sdktrace.SpanExporter {
		he, _ := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(base+"/v1/traces"), otlptracehttp.WithHeaders(h),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{}))
		ge, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(d.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithHeaders(h), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{}))
		return []sdktrace.SpanExporter{he, ge}
	}
	// Without credentials: refused, saying what is missing.
	var refusals []string
	for _, exp := range exporters("none", nil, d.OTLPHTTPURL()) {
		err := span(exp, "none")
		if err == nil {
			t.Fatal("a span without credentials was accepted")
		}
		refusals = append(refusals, err.Error())
	}
	if !strings.Contains(refusals[0], "401") || !strings.Contains(refusals[1], "Unauthenticated") ||
		!strings.Contains(refusals[1], "bearer token") {
		t.Errorf("refusals: %q", refusals)
	}
	// The secret path over HTTP, the token over both.
	auth := map[string]string{"Authorization": "Bearer " + token}
	for i, exp := range append(exporters("p", nil, d.OTLPHTTPURL()+"/"+secret)[:1], exporters("t", auth, d.OTLPHTTPURL())...) {
		if err := span(exp, fmt.Sprint("ok-", i)); err != nil {
			t.Errorf("exporter %d: %v", i, err)
		}
	}
	waitDelivered(t, up, []string{"RemoteDependencyData:ok-0", "RemoteDependencyData:ok-1", "RemoteDependencyData:ok-2"})
	// A wrong token over gRPC.
	ge, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(d.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer wrong"}), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{}))
	if err := span(ge, "wrong"); status.Code(unwrapStatus(err)) != codes.Unauthenticated {
		t.Errorf("wrong token: %v", err)
	}
}

// unwrapStatus finds the gRPC status error in err's chain.
func unwrapStatus(err error) error {
	for e := err; e != nil; {
		if _, ok := status.FromError(e); ok {
			return e
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return err
}

// TestOTLPDefaultPortInUse: at its default address, a port in use leaves
// the listener off with a warning naming the flag; at any other address
// it is an error.
func TestOTLPDefaultPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	var logs testkit.SyncBuffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logs, nil))}
	got, err := d.listenOTLP("--otlp-http-listen", taken, taken)
	if got != nil || err != nil || !strings.Contains(logs.String(), "--otlp-http-listen is off") {
		t.Errorf("default address in use: %v, %v, log %q", got, err, logs.String())
	}
	if _, err := d.listenOTLP("--otlp-grpc-listen", taken, DefaultOTLPGRPCListen); err == nil || !strings.Contains(err.Error(), "--otlp-grpc-listen "+taken) {
		t.Errorf("explicit address in use: %v", err)
	}
	// The whole daemon: both OTLP listeners at a taken "default".
	up := startOTLPUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	cfg.OTLPHTTPListen, cfg.OTLPGRPCListen = "", taken
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("New with --otlp-grpc-listen in use: %v", err)
	}
}

// TestValidateOTLPListeners: the OTLP addresses are checked like the
// others, and no two listeners may share one.
func TestValidateOTLPListeners(t *testing.T) {
	c := testConfig(t, cs)
	c.OTLPHTTPListen, c.OTLPGRPCListen = "127.0.0.1:4318", "127.0.0.1:4318"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--otlp-http-listen and --otlp-grpc-listen: both are 127.0.0.1:4318") {
		t.Errorf("Validate = %v", err)
	}
	c.OTLPHTTPListen, c.OTLPGRPCListen = "nohost", ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `--otlp-http-listen "nohost": not host:port`) {
		t.Errorf("Validate = %v", err)
	}
	c.OTLPHTTPListen, c.OTLPGRPCListen = "0.0.0.0:4318", "0.0.0.0:4317"
	if w := c.IntakeExposureWarnings(); len(w) != 4 || !strings.Contains(strings.Join(w, "\n"), "--otlp-grpc-listen 0.0.0.0:4317 is reachable") {
		t.Errorf("warnings %q", w)
	}
}

// TestOTLPMetrics: the admin endpoint exposes the OTLP intake's counters.
func TestOTLPMetrics(t *testing.T) {
	up := startOTLPUpstream(t)
	d := startDaemon(t, testConfig(t, up.ConnectionString("")))
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(d.OTLPHTTPURL()+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	var rec tracetest.SpanRecorder
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(&rec))
	for range 3 {
		_, s := tp.Tracer("t").Start(ctx, "op")
		s.End()
	}
	if err := exp.ExportSpans(ctx, rec.Ended()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(d.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`aispool_otlp_requests_total{code="200",protocol="http"} 1`,
		`aispool_otlp_items_total{outcome="accepted",signal="traces"} 3`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
