package envelope

import (
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkConvertHTTPServerSpan converts and encodes an HTTP server span
// with 8 attributes into a reused buffer.
func BenchmarkConvertHTTPServerSpan(b *testing.B) {
	c := newTestConverter(b, Config{})
	s := httpServerStub().Snapshot()
	var buf Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := c.AppendSpan(&buf, s); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Size()))
}

// BenchmarkEncodingJSONBaseline marshals the same envelope, already built
// as the model struct, with encoding/json: the converter must beat this
// (which does not even include the conversion) by at least 1.5x.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	env := baselineEnvelope(b)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		out, err := json.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.SetBytes(int64(size))
}

// baselineEnvelope is the converter's output for httpServerStub, decoded
// into the model.
func baselineEnvelope(tb testing.TB) *Envelope {
	c := newTestConverter(tb, Config{})
	var buf Buffer
	if _, err := c.AppendSpan(&buf, httpServerStub().Snapshot()); err != nil {
		tb.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(buf.Record(0), &env); err != nil {
		tb.Fatal(err)
	}
	return &env
}

// TestBaselineIsTheSameEnvelope makes sure the baseline marshals exactly
// what the converter writes (same members, same values).
func TestBaselineIsTheSameEnvelope(t *testing.T) {
	env := baselineEnvelope(t)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	c := newTestConverter(t, Config{})
	var buf Buffer
	c.AppendSpan(&buf, httpServerStub().Snapshot())
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Record(0), &b); err != nil {
		t.Fatal(err)
	}
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Errorf("baseline differs from converter output:\n%s\n%s", ja, jb)
	}
	if len(env.Data.BaseData.(*RequestData).Properties) == 0 || len(env.Tags) < 6 {
		t.Errorf("benchmark envelope lacks properties or tags: %s", out)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkValidate validates the envelopes of a request captured from the
// Node.js Azure Monitor exporter, as the daemon's intake does for each item.
func BenchmarkValidate(b *testing.B) {
	raw, err := os.ReadFile("testdata/node-exporter-v2.1-track.json")
	if err != nil {
		b.Fatal(err)
	}
	var sample struct {
		Body []json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		b.Fatal(err)
	}
	var size int
	for _, env := range sample.Body {
		size += len(env)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, env := range sample.Body {
			if err := Validate(env); err != nil {
				b.Fatal(err)
			}
		}
	}
}
