package envelope_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/otlpconv"
)

// TestOTLPConformance keeps the two inputs of the converter from
// drifting: every golden case (spans, log records, metric points) is sent
// by the OpenTelemetry Go SDK's own OTLP/HTTP exporters to a loopback
// server, and what they sent is decoded as the daemon decodes it
// (protobuf, and the same request through OTLP JSON), converted through
// internal/otlpconv, and compared field for field with the golden file
// that the SDK path produces (TestGolden, TestGoldenLogs,
// TestGoldenMetrics).
func TestOTLPConformance(t *testing.T) {
	for _, cc := range envelope.ConformanceCases() {
		t.Run(cc.Name, func(t *testing.T) {
			body := captureOTLP(t, cc)
			for _, encoding := range []string{"protobuf", "json"} {
				t.Run(encoding, func(t *testing.T) {
					var buf envelope.Buffer
					conv := otlpconv.New(envelope.NewTestConverter(t, cc.Config))
					var res otlpconv.Result
					var err error
					switch {
					case cc.Spans != nil:
						req, js := ptraceotlp.NewExportRequest(), ptraceotlp.NewExportRequest()
						if decode(t, encoding, body, req.UnmarshalProto, req.MarshalJSON, js.UnmarshalJSON) {
							req = js
						}
						res, err = conv.AppendTraces(&buf, req.Traces(), nil)
					case cc.Logs != nil:
						req, js := plogotlp.NewExportRequest(), plogotlp.NewExportRequest()
						if decode(t, encoding, body, req.UnmarshalProto, req.MarshalJSON, js.UnmarshalJSON) {
							req = js
						}
						res, err = conv.AppendLogs(&buf, req.Logs(), nil)
					default:
						req, js := pmetricotlp.NewExportRequest(), pmetricotlp.NewExportRequest()
						if decode(t, encoding, body, req.UnmarshalProto, req.MarshalJSON, js.UnmarshalJSON) {
							req = js
						}
						res, err = conv.AppendMetrics(&buf, req.Metrics(), nil)
					}
					if err != nil {
						t.Fatal(err)
					}
					if res.Rejected != 0 {
						t.Errorf("%d items rejected: %s", res.Rejected, res.Message)
					}
					envelope.CompareGolden(t, cc.Name, &buf, cc.Omit)
				})
			}
		})
	}
}

// decode fills a request from the captured protobuf body; for "json" it
// encodes it as OTLP JSON (pdata's encoder) and decodes that into another
// request (the daemon's decoder), and reports true.
func decode(t *testing.T, encoding string, body []byte, unmarshalProto func([]byte) error,
	marshalJSON func() ([]byte, error), unmarshalJSON func([]byte) error) bool {
	t.Helper()
	if err := unmarshalProto(body); err != nil {
		t.Fatalf("decoding the SDK's request: %v", err)
	}
	if encoding != "json" {
		return false
	}
	js, err := marshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarshalJSON(js); err != nil {
		t.Fatalf("decoding OTLP JSON: %v\n%s", err, js)
	}
	return true
}

// captureOTLP exports the case's inputs with the SDK's OTLP/HTTP exporter
// to a loopback server and returns the protobuf body it sent.
func captureOTLP(t *testing.T, cc envelope.ConformanceCase) []byte {
	t.Helper()
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	ctx := context.Background()
	var err error
	switch {
	case cc.Spans != nil:
		exp, nerr := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{}))
		if nerr != nil {
			t.Fatal(nerr)
		}
		err = exp.ExportSpans(ctx, cc.Spans)
		_ = exp.Shutdown(ctx)
	case cc.Logs != nil:
		exp, nerr := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(srv.URL+"/v1/logs"), otlploghttp.WithRetry(otlploghttp.RetryConfig{}))
		if nerr != nil {
			t.Fatal(nerr)
		}
		err = exp.Export(ctx, cc.Logs)
		_ = exp.Shutdown(ctx)
	default:
		exp, nerr := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{}))
		if nerr != nil {
			t.Fatal(nerr)
		}
		err = exp.Export(ctx, cc.Metrics)
		_ = exp.Shutdown(ctx)
	}
	if err != nil {
		t.Fatalf("the SDK's OTLP exporter failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("the exporter sent %d requests, want 1", len(bodies))
	}
	return bodies[0]
}
