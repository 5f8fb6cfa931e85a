package envelope

import (
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// mappedKeys are fed the fuzzer's string so that every mapping rule sees
// arbitrary input.
var mappedKeys = []string{
	"http.request.method", "url.full", "http.url", "url.scheme", "url.path", "url.query", "http.target",
	"http.route", "server.address", "http.host", "net.peer.name", "client.address", "peer.service",
	"db.namespace", "db.query.text", "messaging.destination.name", "user_agent.original", "enduser.id",
	"microsoft.sample_rate", "az.namespace", OperationNameKey,
}

// FuzzConvert converts spans with arbitrary attribute keys and values
// (strings, ints, bools, floats including NaN and ±Inf) and checks that
// every record is compact, valid JSON that passes Validate.
func FuzzConvert(f *testing.F) {
	f.Add("custom.key", "value", int64(200), 0.5, true, uint8(1), "GET")
	f.Fuzz(func(t *testing.T, key, value string, n int64, x float64, b bool, kind uint8, name string) {
		attrs := []attribute.KeyValue{
			attribute.String(key, value),
			attribute.Int64(key+".int", n),
			attribute.Float64(key+".float", x),
			attribute.Bool(key+".bool", b),
			attribute.StringSlice(key+".strings", []string{value, key}),
			attribute.Float64Slice(key+".floats", []float64{x, -x}),
			attribute.Int64("server.port", n),
			attribute.Int64("http.response.status_code", n),
			attribute.Float64("_MS.sampleRate", x),
		}
		// Vary which families apply: each bit of n switches a group.
		for i, k := range mappedKeys {
			if n>>(i%16)&1 == 1 || b {
				attrs = append(attrs, attribute.String(k, value))
			}
		}
		switch n % 4 {
		case 1:
			attrs = append(attrs, attribute.String("db.system.name", value))
		case 2:
			attrs = append(attrs, attribute.String("rpc.system", value), attribute.Int64("rpc.grpc.status_code", n))
		case 3:
			attrs = append(attrs, attribute.String("messaging.system", value))
		}
		s := stub(trace.SpanKind(kind%6), name, attrs...)
		s.EndTime = s.StartTime.Add(time.Duration(n))
		s.Events = []sdktrace.Event{
			{Name: value, Time: s.StartTime, Attributes: attrs[:2]},
			{Name: "exception", Time: s.StartTime, Attributes: []attribute.KeyValue{
				attribute.String("exception.type", key), attribute.String("exception.message", value),
				attribute.String("exception.stacktrace", name), attribute.String(key, value),
			}},
		}
		s.Links = []sdktrace.Link{link("0102030405060708090a0b0c0d0e0f10", "0102030405060708")}
		c := newTestConverter(t, Config{})
		var buf Buffer
		if _, err := c.AppendSpan(&buf, s.Snapshot()); err != nil {
			t.Fatalf("AppendSpan: %v", err)
		}
		if buf.Len() != 3 {
			t.Fatalf("%d records, want 3", buf.Len())
		}
		checkRecords(t, &buf)
	})
}

// FuzzValidate feeds arbitrary bytes to Validate: it must not panic, and
// what it accepts must be a JSON object that decodes into the model (which
// encoding/json reads with case-insensitive keys) and holds the required
// fields under their exact keys (as the ingestion service reads them).
func FuzzValidate(f *testing.F) {
	c := newTestConverter(f, Config{})
	var buf Buffer
	c.AppendSpan(&buf, withEvents(httpServerStub(), event("exception", 0), event("log", 0)).Snapshot())
	for _, r := range buf.Records(nil) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if Validate(raw) != nil {
			return
		}
		var env Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("Validate accepted %q, which does not decode: %v", raw, err)
		}
		if env.Name == "" || env.Time == "" || env.IKey == "" || env.Data.BaseType == "" {
			t.Fatalf("Validate accepted %q without its required fields", raw)
		}
		var exact struct {
			Top  map[string]json.RawMessage
			Data map[string]json.RawMessage
		}
		if err := json.Unmarshal(raw, &exact.Top); err != nil {
			t.Fatalf("Validate accepted %q, which is not an object: %v", raw, err)
		}
		if err := json.Unmarshal(exact.Top["data"], &exact.Data); err != nil {
			t.Fatalf("Validate accepted %q, whose data is not an object: %v", raw, err)
		}
		for _, k := range []string{"name", "time", "iKey", "data"} {
			if _, ok := exact.Top[k]; !ok {
				t.Fatalf("Validate accepted %q without the exact key %q", raw, k)
			}
		}
		for _, k := range []string{"baseType", "baseData"} {
			if _, ok := exact.Data[k]; !ok {
				t.Fatalf("Validate accepted %q without the exact key data.%s", raw, k)
			}
		}
	})
}
