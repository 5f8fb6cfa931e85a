package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/spool"
)

// An SDK posts two envelopes, one of them invalid: the valid one is durable
// in the spool before the 206 answer goes out, and the answer names the
// invalid one by index.
func Example() {
	dir, err := os.MkdirTemp("", "ingest-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	sp, err := spool.Open(ctx, filepath.Join(dir, "spool"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()

	h, err := ingest.New(ingest.Config{Spool: sp})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := `{"name":"Microsoft.ApplicationInsights.Message","time":"2026-11-25T11:58:41.833Z",` +
		`"iKey":"11111111-2222-3333-4444-555555555555",` +
		`"data":{"baseType":"MessageData","baseData":{"ver":2,"message":"hello"}}}` + "\n" +
		`{"name":"Microsoft.ApplicationInsights.Message"}` + "\n"
	resp, err := http.Post(srv.URL+"/v2.1/track", "application/x-json-stream", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(answer)))

	b, err := sp.Lease(ctx, 10, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("spool: %d record, %.48s...\n", len(b.Records), b.Records[0].Data)
	// Output:
	// 206 {"itemsReceived":2,"itemsAccepted":1,"errors":[{"index":1,"statusCode":400,"message":"envelope: time: required field missing or empty"}]}
	// spool: 1 record, {"name":"Microsoft.ApplicationInsights.Message",...
}

// A daemon serves the endpoint over HTTPS until SIGTERM, then finishes the
// requests in flight before the spool is closed.
func ExampleListenAndServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.Default()
	sp, err := spool.Open(ctx, "/var/lib/aispool", &spool.Options{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close() // after ListenAndServe returned: no request is in flight
	h, err := ingest.New(ingest.Config{Spool: sp, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	// SDKs then use "IngestionEndpoint=https://localhost:8443/" in their
	// connection string.
	if err := ingest.ListenAndServe(ctx, "localhost:8443", "/etc/aispool/tls.crt", "/etc/aispool/tls.key", h, logger); err != nil {
		log.Fatal(err)
	}
}

// An endpoint in a server of one's own, bounded like the daemon's: a
// memory budget shared by the requests in flight, a minimum body rate, and
// a cap on the connections open at once.
func ExampleLimitListener() {
	logger := slog.Default()
	sp, err := spool.Open(context.Background(), "/var/lib/aispool", &spool.Options{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()
	h, err := ingest.New(ingest.Config{
		Spool:        sp,
		Logger:       logger,
		MemoryBudget: 32 << 20, // requests past it wait, then get 503 with Retry-After
		MinBodyRate:  4 << 10,  // bytes per second after 5 s, or 408
		AfterBurst:   func(int64) { debug.FreeOSMemory() },
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:4320")
	if err != nil {
		log.Fatal(err)
	}
	srv := ingest.NewServer(h, logger)
	log.Fatal(srv.Serve(ingest.LimitListener(ln, 256, logger)))
}
