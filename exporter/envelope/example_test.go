package envelope_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

func ExampleConverter_AppendSpan() {
	conv, err := envelope.NewConverter(envelope.Config{
		InstrumentationKey: "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a",
	})
	if err != nil {
		log.Fatal(err)
	}

	// A finished HTTP server span with one exception event, as an exporter
	// receives it in ExportSpans.
	start := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	span := tracetest.SpanStub{
		Name: "GET /users/{id}",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
		}),
		SpanKind:  trace.SpanKindServer,
		StartTime: start,
		EndTime:   start.Add(1500 * time.Millisecond),
		Attributes: []attribute.KeyValue{
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/users/{id}"),
			attribute.Int("http.response.status_code", 500),
		},
		Events: []sdktrace.Event{{Name: "exception", Time: start, Attributes: []attribute.KeyValue{
			attribute.String("exception.type", "*net.OpError"),
			attribute.String("exception.message", "connection refused"),
		}}},
		Resource: resource.NewSchemaless(attribute.String("service.name", "users-api")),
	}.Snapshot()

	var buf envelope.Buffer
	n, err := conv.AppendSpan(&buf, span)
	if err != nil {
		log.Print(err) // counted in conv.Stats(); the span is skipped
	}
	fmt.Println(n, "records")

	// Each record is one JSON line, ready for the spool.
	for _, rec := range buf.Records(nil) {
		var env envelope.Envelope
		if err := json.Unmarshal(rec, &env); err != nil {
			log.Fatal(err)
		}
		fmt.Println(env.Name, env.Tags["ai.operation.name"], env.Tags["ai.cloud.role"], rec[len(rec)-1] == '\n')
		if req, ok := env.Data.BaseData.(*envelope.RequestData); ok {
			fmt.Println(req.Name, req.ResponseCode, req.Success, req.Duration)
		}
	}
	// Output:
	// 2 records
	// Microsoft.ApplicationInsights.Request GET /users/{id} users-api true
	// GET /users/{id} 500 false 0.00:00:01.5000000
	// Microsoft.ApplicationInsights.Exception GET /users/{id} users-api true
}

// ExampleValidateCompact checks envelopes as the daemon's intake does: a
// valid one as an encoder writes it is compact, so it can be stored as it
// was received; one with whitespace between its tokens is valid but is
// compacted before it is stored; an invalid one says what is wrong.
func ExampleValidateCompact() {
	for _, raw := range []string{
		`{"name":"Microsoft.ApplicationInsights.Message","time":"2026-12-07T08:00:00Z","iKey":"k","data":{"baseType":"MessageData","baseData":{"ver":2,"message":"hello"}}}`,
		`{"name": "Microsoft.ApplicationInsights.Message", "time": "2026-12-07T08:00:00Z", "iKey": "k", "data": {"baseType": "MessageData", "baseData": {"ver": 2, "message": "hello"}}}`,
		`{"name":"Microsoft.ApplicationInsights.Message","time":"yesterday","iKey":"k","data":{"baseType":"MessageData","baseData":{"ver":2,"message":"hello"}}}`,
	} {
		compact, err := envelope.ValidateCompact([]byte(raw))
		fmt.Println(compact, err)
	}
	// Output:
	// true <nil>
	// false <nil>
	// false envelope: time: envelope: malformed: not an RFC 3339 time
}
