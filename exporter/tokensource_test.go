package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aispool/aispool/sender"
)

// WithTokenSource: the in-process sender sends the source's bearer token,
// which a connection string with Authorization=AAD requires.
func TestWithTokenSource(t *testing.T) {
	var (
		mu    sync.Mutex
		auths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer exporter-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"itemsReceived":1,"itemsAccepted":1,"errors":[]}`)
	}))
	defer srv.Close()
	cs := "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=" + srv.URL + ";Authorization=AAD"
	src := sender.TokenSourceFunc(func(_ context.Context, scope string) (sender.AccessToken, error) {
		if scope != "https://monitor.azure.com//.default" {
			return sender.AccessToken{}, fmt.Errorf("scope %q", scope)
		}
		return sender.AccessToken{Token: "exporter-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	opts := []Option{WithConnectionString(cs), withLookupEnv(noEnv), WithLogger(quiet()),
		WithSenderConfig(sender.Config{PollInterval: 10 * time.Millisecond, MaxBatchItems: 1})}

	// Authorization=AAD without a token source is a configuration error
	// that names the fix.
	if _, err := NewTraceExporter(context.Background(), append(opts, WithSpoolDir(filepath.Join(t.TempDir(), "a")))...); err == nil || !strings.Contains(err.Error(), "TokenSource") {
		t.Fatalf("AAD without a token source: %v", err)
	}

	e, err := NewTraceExporter(context.Background(), append(opts, WithSpoolDir(filepath.Join(t.TempDir(), "b")), WithTokenSource(src))...)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(e))
	for i := range 3 {
		_, sp := tp.Tracer("t").Start(context.Background(), fmt.Sprintf("op-%d", i))
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
	if len(auths) != 3 {
		t.Errorf("%d requests, want 3", len(auths))
	}
	for _, a := range auths {
		if a != "Bearer exporter-token" {
			t.Errorf("Authorization %q", a)
		}
	}

	// A pipeline's exporters take the pipeline's token source.
	p, err := NewPipeline(context.Background(), WithConnectionString(cs), withLookupEnv(noEnv), WithLogger(quiet()), WithoutSender(),
		WithSpoolDir(filepath.Join(t.TempDir(), "c")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if _, err := NewTraceExporter(context.Background(), WithPipeline(p), WithTokenSource(src)); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "WithTokenSource") {
		t.Errorf("WithTokenSource with WithPipeline: %v", err)
	}
}
