package envelope

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the envelope mapping's reference test vectors (T1 to T19).
const (
	testIKey     = "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a"
	testHostName = "testhost"
)

var (
	testTraceID  = mustTraceID("23bf4de5a2f2d94b94aa5163e3a39119")
	testSpanID   = mustSpanID("23bf4de5a2f2d94c")
	testParentID = mustSpanID("23bf4de5a2f2d94d")
	testStart    = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
)

func mustTraceID(s string) trace.TraceID {
	id, err := trace.TraceIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return id
}

func mustSpanID(s string) trace.SpanID {
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return id
}

// testResource is the vectors' resource: role ns1.foo, instance 112345.
func testResource() *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "foo"),
		attribute.String("service.namespace", "ns1"),
		attribute.String("service.instance.id", "112345"),
	)
}

func spanContext(traceID trace.TraceID, spanID trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	})
}

// stub returns a 60 s span with the vectors' ids, parent and resource.
func stub(kind trace.SpanKind, name string, attrs ...attribute.KeyValue) tracetest.SpanStub {
	return tracetest.SpanStub{
		Name:        name,
		SpanContext: spanContext(testTraceID, testSpanID),
		Parent:      spanContext(testTraceID, testParentID),
		SpanKind:    kind,
		StartTime:   testStart,
		EndTime:     testStart.Add(60 * time.Second),
		Attributes:  attrs,
		Resource:    testResource(),
	}
}

func withStatus(s tracetest.SpanStub, code codes.Code, desc string) tracetest.SpanStub {
	s.Status = sdktrace.Status{Code: code, Description: desc}
	return s
}

func root(s tracetest.SpanStub) tracetest.SpanStub {
	s.Parent = trace.SpanContext{}
	return s
}

func newTestConverter(tb testing.TB, cfg Config) *Converter {
	tb.Helper()
	if cfg.InstrumentationKey == "" {
		cfg.InstrumentationKey = testIKey
	}
	if cfg.HostName == "" {
		cfg.HostName = testHostName
	}
	if cfg.Version == "" {
		cfg.Version = "1.2.3"
	}
	c, err := NewConverter(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var sdkVersionPattern = regexp.MustCompile(`^go[0-9][^:]*:otel[0-9][^:]*:aispool`)

// checkRecords checks the record framing of buf (compact JSON objects, one
// per line), validates every envelope and decodes them as generic JSON,
// replacing the version-dependent sdkVersion tag by a placeholder.
func checkRecords(tb testing.TB, buf *Buffer) []any {
	tb.Helper()
	var out []any
	if got, want := len(bytes.Split(buf.Bytes(), []byte("\n"))), buf.Len()+1; got != want {
		tb.Fatalf("buffer holds %d lines, want %d records", got-1, buf.Len())
	}
	for i := 0; i < buf.Len(); i++ {
		rec := buf.Record(i)
		if len(rec) == 0 || rec[len(rec)-1] != '\n' || bytes.Count(rec, []byte("\n")) != 1 {
			tb.Fatalf("record %d is not one line ending in a newline: %q", i, rec)
		}
		body := rec[:len(rec)-1]
		if len(body) > MaxEnvelopeBytes {
			tb.Errorf("record %d has %d bytes, over %d", i, len(body), MaxEnvelopeBytes)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil {
			tb.Fatalf("record %d is not valid JSON: %v\n%s", i, err, body)
		}
		if !bytes.Equal(compact.Bytes(), body) {
			tb.Errorf("record %d is not compact JSON:\n%s", i, body)
		}
		if err := Validate(rec); err != nil {
			tb.Errorf("record %d fails validation: %v\n%s", i, err, body)
		}
		var env Envelope
		if err := json.Unmarshal(body, &env); err != nil {
			tb.Errorf("record %d does not decode into Envelope: %v", i, err)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			tb.Fatal(err)
		}
		if tags, ok := v["tags"].(map[string]any); ok {
			sv, _ := tags["ai.internal.sdkVersion"].(string)
			if !sdkVersionPattern.MatchString(sv) {
				tb.Errorf("record %d: sdkVersion %q does not match %s", i, sv, sdkVersionPattern)
			}
			tags["ai.internal.sdkVersion"] = "<go version>:<otel version>:aispool<version>"
		}
		out = append(out, v)
	}
	return out
}

// convert converts spans with c and returns the decoded envelopes.
func convert(tb testing.TB, c *Converter, spans ...tracetest.SpanStub) []any {
	tb.Helper()
	var buf Buffer
	for _, s := range spans {
		if _, err := c.AppendSpan(&buf, s.Snapshot()); err != nil {
			tb.Fatalf("AppendSpan(%q): %v", s.Name, err)
		}
	}
	return checkRecords(tb, &buf)
}

// decodeOne converts one span and returns its envelopes in the typed model.
func decodeOne(tb testing.TB, c *Converter, s tracetest.SpanStub) []Envelope {
	tb.Helper()
	var buf Buffer
	if _, err := c.AppendSpan(&buf, s.Snapshot()); err != nil {
		tb.Fatal(err)
	}
	checkRecords(tb, &buf)
	var envs []Envelope
	for i := 0; i < buf.Len(); i++ {
		var e Envelope
		if err := json.Unmarshal(buf.Record(i), &e); err != nil {
			tb.Fatal(err)
		}
		envs = append(envs, e)
	}
	return envs
}
