package envelope

import (
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// What the OTLP conformance test (conformance_test.go, package
// envelope_test) needs of this package's tests. It cannot live in this
// package: it imports internal/otlpconv, which imports this package.

// ConformanceCase is one golden case: its inputs as the SDK hands them to
// an exporter, and the converter's configuration.
//
// Two kinds of input cannot cross OTLP as they are, and are adapted:
// invalid UTF-8 in a string (protobuf refuses it: the SDK's exporter fails)
// is replaced by U+FFFD, which the converter writes for it anyway; and a
// log record's severity above 24 (outside OTLP's enum: the SDK's exporter
// sends it as unspecified) is left out, its envelope's index in Omit.
type ConformanceCase struct {
	Name    string
	Config  Config
	Spans   []sdktrace.ReadOnlySpan
	Logs    []sdklog.Record
	Metrics *metricdata.ResourceMetrics
	Omit    []int // envelopes of the golden file without an input here
}

// ConformanceCases returns every golden case of spans, logs and metrics.
func ConformanceCases() []ConformanceCase {
	var out []ConformanceCase
	for _, gc := range goldenCases() {
		cc := ConformanceCase{Name: gc.name, Config: gc.cfg}
		for _, s := range gc.spans {
			s.Attributes = validUTF8(s.Attributes)
			cc.Spans = append(cc.Spans, s.Snapshot())
		}
		out = append(out, cc)
	}
	for _, gc := range logGoldenCases() {
		cc := ConformanceCase{Name: gc.name}
		for i, f := range gc.records {
			if f.Severity > 24 {
				cc.Omit = append(cc.Omit, i)
				continue
			}
			f.Attributes = validUTF8(f.Attributes)
			if f.Body.Type() == attribute.STRING {
				f.Body = attribute.StringValue(strings.ToValidUTF8(f.Body.AsString(), "\uFFFD"))
			}
			cc.Logs = append(cc.Logs, f.NewRecord())
		}
		out = append(out, cc)
	}
	for _, gc := range metricGoldenCases() {
		rm := gc.rm
		out = append(out, ConformanceCase{Name: gc.name, Metrics: &rm})
	}
	return out
}

// NewTestConverter is the converter the golden files were made with.
func NewTestConverter(tb testing.TB, cfg Config) *Converter { return newTestConverter(tb, cfg) }

// CompareGolden checks the records of buf and compares them with the
// golden file of the case, as TestGolden does; it never rewrites the file
// (-update regenerates the golden files from the SDK path only).
// Envelopes at the indexes omit are left out of the comparison; the order
// of the envelopes does not matter (the SDK's OTLP exporters group spans by
// resource through a map, so a case with several resources comes in any
// order).
func CompareGolden(t *testing.T, name string, buf *Buffer, omit []int) {
	t.Helper()
	if *update {
		t.Skip("-update rewrites the golden files from the SDK path only")
	}
	got := checkRecords(t, buf)
	for _, i := range omit { // put placeholders where the golden file has more
		got = slices.Insert(got, i, any(nil))
	}
	compareGolden(t, name, got, omit, true)
}

// validUTF8 replaces invalid UTF-8 in string values by U+FFFD.
func validUTF8(kvs []attribute.KeyValue) []attribute.KeyValue {
	out := slices.Clone(kvs)
	for i, kv := range out {
		if kv.Value.Type() == attribute.STRING {
			out[i].Value = attribute.StringValue(strings.ToValidUTF8(kv.Value.AsString(), "\uFFFD"))
		}
	}
	return out
}
