package exporter

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

const testCS = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://example.invalid/"

func noEnv(string) (string, bool) { return "", false }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestExporter(t *testing.T, opts ...Option) *TraceExporter {
	t.Helper()
	base := []Option{WithConnectionString(testCS), WithSpoolDir(filepath.Join(t.TempDir(), "spool")), WithLogger(quiet()), withLookupEnv(noEnv), WithoutSender()}
	e, err := NewTraceExporter(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

type envelopeJSON struct {
	Name       string            `json:"name"`
	IKey       string            `json:"iKey"`
	SampleRate float64           `json:"sampleRate"`
	Tags       map[string]string `json:"tags"`
	Data       struct {
		BaseType string         `json:"baseType"`
		BaseData map[string]any `json:"baseData"`
	} `json:"data"`
}

// readBack drains the spool and decodes every record.
func readBack(t *testing.T, s *spool.Spool) []envelopeJSON {
	t.Helper()
	var out []envelopeJSON
	for {
		b, err := s.Lease(context.Background(), 1000, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out
		}
		for _, r := range b.Records {
			if !strings.HasSuffix(string(r.Data), "}\n") || strings.Count(string(r.Data), "\n") != 1 {
				t.Fatalf("record is not one JSON line: %q", r.Data)
			}
			var e envelopeJSON
			if err := json.Unmarshal(r.Data, &e); err != nil {
				t.Fatalf("record is not JSON: %v", err)
			}
			out = append(out, e)
		}
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEndToEndThroughTracerProvider(t *testing.T) {
	e := newTestExporter(t)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(NewOperationNameProcessor()),
		sdktrace.WithBatcher(e),
	)
	tr := tp.Tracer("test")
	ctx, req := tr.Start(context.Background(), "GET /users/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/users/{id}"),
			attribute.Int("http.response.status_code", 200), attribute.String("url.path", "/users/7"),
			attribute.String("url.scheme", "https"), attribute.String("server.address", "api.example.com")))
	_, dep := tr.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("server.address", "db.internal"),
			attribute.String("db.name", "users"), attribute.String("db.statement", "SELECT 1")))
	dep.RecordError(errors.New("boom"))
	dep.End()
	req.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The exporter's spool is closed by Shutdown: reopen it to read.
	s, err := spool.Open(context.Background(), e.Spool().Dir(), &spool.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	envs := readBack(t, s)
	byType := map[string]envelopeJSON{}
	for _, env := range envs {
		if env.IKey != "11111111-2222-3333-4444-555555555555" {
			t.Errorf("iKey = %q", env.IKey)
		}
		byType[env.Data.BaseType] = env
	}
	if len(envs) != 3 {
		t.Fatalf("got %d envelopes, want request + dependency + exception: %+v", len(envs), byType)
	}
	reqEnv, depEnv, exEnv := byType["RequestData"], byType["RemoteDependencyData"], byType["ExceptionData"]
	if reqEnv.Name != "Microsoft.ApplicationInsights.Request" || reqEnv.Data.BaseData["responseCode"] != "200" {
		t.Errorf("request envelope: %+v", reqEnv)
	}
	if depEnv.Data.BaseData["type"] != "postgresql" || !strings.Contains(depEnv.Data.BaseData["target"].(string), "db.internal") {
		t.Errorf("dependency envelope: %+v", depEnv.Data.BaseData)
	}
	for _, env := range []envelopeJSON{depEnv, exEnv} {
		if env.Tags["ai.operation.name"] != "GET /users/{id}" {
			t.Errorf("%s carries operation name %q, want the request's", env.Data.BaseType, env.Tags["ai.operation.name"])
		}
		if env.Tags["ai.operation.id"] != reqEnv.Tags["ai.operation.id"] {
			t.Errorf("%s in another operation", env.Data.BaseType)
		}
	}
}

func TestExportAfterShutdownAndIdempotentShutdown(t *testing.T) {
	e := newTestExporter(t)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	span := tracetest.SpanStub{Name: "x", SpanKind: trace.SpanKindServer}.Snapshot()
	if err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{span}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("ExportSpans after Shutdown = %v", err)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownHonoursContext(t *testing.T) {
	e := newTestExporter(t)
	e.mu.Lock() // an export that never ends
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := e.ForceFlush(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ForceFlush = %v, want DeadlineExceeded", err)
	}
	e.mu.Unlock()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionStringSources(t *testing.T) {
	dir := t.TempDir()
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == EnvConnectionString && v != "" {
				return v, true
			}
			return "", false
		}
	}
	const secret = "InstrumentationKey=not-a-guid;IngestionEndpoint=https://x.invalid/;Secret=hunter2"
	for _, tc := range []struct {
		name     string
		opts     []Option
		wantErr  string
		wantIKey string
	}{
		{"env only", []Option{withLookupEnv(env(testCS))}, "", "11111111-2222-3333-4444-555555555555"},
		{"option beats env", []Option{withLookupEnv(env("InstrumentationKey=bad")), WithConnectionString("InstrumentationKey=aaaaaaaa-2222-3333-4444-555555555555")}, "", "aaaaaaaa-2222-3333-4444-555555555555"},
		{"none", []Option{withLookupEnv(noEnv)}, "connection string", ""},
		{"bad key", []Option{withLookupEnv(noEnv), WithConnectionString(secret)}, "InstrumentationKey", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithSpoolDir(filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))), WithLogger(quiet()), WithoutSender()}, tc.opts...)
			e, err := NewTraceExporter(context.Background(), opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error echoes the connection string: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			if e.conn.InstrumentationKey != tc.wantIKey {
				t.Fatalf("ikey = %s", e.conn.InstrumentationKey)
			}
		})
	}
}

func TestSharedSpoolNotClosed(t *testing.T) {
	s, err := spool.Open(context.Background(), filepath.Join(t.TempDir(), "s"), &spool.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := newTestExporter(t, WithSpool(s))
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	span := tracetest.SpanStub{Name: "job", SpanContext: sc, SpanKind: trace.SpanKindInternal, StartTime: time.Now(), EndTime: time.Now()}.Snapshot()
	if err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{span}); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, s); len(got) != 1 || got[0].Data.BaseType != "RemoteDependencyData" {
		t.Fatalf("shared spool holds %+v", got)
	}
}

func TestDefaultSpoolDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := defaultSpoolDir(func(k string) (string, bool) {
		if k == "OTEL_SERVICE_NAME" {
			return "shop/api", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "shop_api" || filepath.Base(filepath.Dir(dir)) != "aispool" {
		t.Fatalf("default spool dir = %s", dir)
	}
}

// TestInProcessSenderDelivers runs the whole path in one process: tracer
// provider → exporter → spool → in-process sender → a loopback ingestion
// endpoint that gunzips and counts what it receives.
func TestInProcessSenderDelivers(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2.1/track" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		mu.Lock()
		for _, l := range lines {
			var e envelopeJSON
			if err := json.Unmarshal([]byte(l), &e); err == nil {
				got[e.Data.BaseData["name"].(string)]++
			}
		}
		mu.Unlock()
		fmt.Fprintf(w, `{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, len(lines), len(lines))
	}))
	defer srv.Close()
	cs := "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=" + srv.URL
	e, err := NewTraceExporter(context.Background(), WithConnectionString(cs), withLookupEnv(noEnv),
		WithSpoolDir(filepath.Join(t.TempDir(), "spool")), WithLogger(quiet()),
		WithSenderConfig(sender.Config{PollInterval: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(e))
	const n = 200
	for i := range n {
		_, sp := tp.Tracer("t").Start(context.Background(), fmt.Sprintf("job-%d", i))
		sp.End()
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Sender().Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("endpoint received %d distinct spans, want %d", len(got), n)
	}
	if st := e.Sender().Stats(); st.Sent != n {
		t.Fatalf("sender stats: %+v", st)
	}
}
