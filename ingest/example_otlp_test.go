package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/spool"
)

// An OpenTelemetry SDK exports a log record in OTLP JSON: it is converted
// into an envelope, durable in the spool before the 200 answer goes out.
func ExampleHandler_OTLP() {
	dir, err := os.MkdirTemp("", "ingest-otlp-example-")
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
	otlp, err := h.OTLP(ingest.OTLPConfig{Envelope: envelope.Config{InstrumentationKey: "11111111-2222-3333-4444-555555555555"}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(otlp)
	defer srv.Close()

	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},` +
		`"scopeLogs":[{"logRecords":[{"timeUnixNano":"1764071921833000000","severityNumber":13,` +
		`"body":{"stringValue":"disk almost full"}}]}]}]}`
	resp, err := http.Post(srv.URL+"/v1/logs", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(answer))

	b, err := sp.Lease(ctx, 10, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	rec := b.Records[0].Data
	fmt.Println(bytes.Contains(rec, []byte(`"baseType":"MessageData"`)), bytes.Contains(rec, []byte(`"ai.cloud.role":"checkout"`)),
		bytes.Contains(rec, []byte(`"severityLevel":2`)))
	// Output:
	// 200 {}
	// true true true
}
