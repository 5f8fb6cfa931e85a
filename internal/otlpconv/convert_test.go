package otlpconv

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/aispool/aispool/exporter/envelope"
)

// TestRejectedSpansDoNotFailTheRest: spans without valid ids and a span
// whose envelope cannot be made small enough are counted and explained;
// the others are converted.
func TestRejectedSpansDoNotFailTheRest(t *testing.T) {
	td := httpServerSpans(4)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(1).SetTraceID(pcommon.TraceID{})
	spans.At(2).SetSpanID(pcommon.SpanID{})
	// Over 64,000 bytes whatever is trimmed: the name alone is limited to
	// 1024 characters, so use many properties whose keys are all kept.
	big := spans.At(3).Attributes()
	for i := range 2000 {
		big.PutStr(fmt.Sprintf("k%04d", i), strings.Repeat("v", 100))
	}
	c := newTestConverter(t)
	var buf envelope.Buffer
	res, err := c.AppendTraces(&buf, td, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 4 || res.Rejected != 2 || res.Records != buf.Len() {
		t.Errorf("result %+v with %d records, want 4 items, 2 rejected", res, buf.Len())
	}
	if !strings.Contains(res.Message, "2 of 4 spans not converted") || !strings.Contains(res.Message, "2 without valid trace and span ids") {
		t.Errorf("message %q", res.Message)
	}
	// The big span is trimmed, not rejected: its envelope is still there.
	envs := decoded(t, &buf)
	if len(envs) != 2 {
		t.Fatalf("%d envelopes, want 2", len(envs))
	}
}

// TestAppendAttrsDedup: OTLP requires unique keys, but a decoder cannot
// rely on it (pdata keeps repeats as decoded); an envelope never repeats a
// property. Both ways of finding repeats (scan, index map) are covered.
func TestAppendAttrsDedup(t *testing.T) {
	for _, n := range []int{4, dedupLinear + 8} {
		// Decode a request whose attributes repeat a key: the only way to
		// get duplicates into a pcommon.Map.
		var js strings.Builder
		js.WriteString(`{"resourceSpans":[{"resource":{"attributes":[`)
		for i := range n {
			fmt.Fprintf(&js, `{"key":"k%d","value":{"stringValue":"v%d"}},`, i%3, i)
		}
		js.WriteString(`{"key":"last","value":{"intValue":"7"}}]}}]}`)
		var u ptrace.JSONUnmarshaler
		td, err := u.UnmarshalTraces([]byte(js.String()))
		if err != nil {
			t.Fatal(err)
		}
		m := td.ResourceSpans().At(0).Resource().Attributes()
		if m.Len() != n+1 {
			t.Fatalf("pdata kept %d attributes, want %d (the test needs raw duplicates)", m.Len(), n+1)
		}
		got := appendAttrs(nil, m, map[string]int{"stale": 99})
		if len(got) != 4 {
			t.Fatalf("n=%d: %d attributes after dedup, want 4: %v", n, len(got), got)
		}
		for i, want := range []string{"k0", "k1", "k2", "last"} {
			if string(got[i].Key) != want {
				t.Errorf("n=%d: attribute %d is %q, want %q (first place kept)", n, i, got[i].Key, want)
			}
		}
		// The last value wins.
		for _, kv := range got[:3] {
			k := int(kv.Key[1] - '0')
			last := k + 3*((n-1-k)/3)
			if want := fmt.Sprintf("v%d", last); kv.Value.AsString() != want {
				t.Errorf("n=%d: %s = %s, want %s", n, kv.Key, kv.Value.AsString(), want)
			}
		}
	}
}

// TestChargeStopsTheConversion: a Charge error ends the conversion and is
// returned wrapped; what it was told adds up to the buffer's size.
func TestChargeStopsTheConversion(t *testing.T) {
	c := newTestConverter(t)
	var buf envelope.Buffer
	var charged int64
	res, err := c.AppendTraces(&buf, httpServerSpans(10), func(n int64) error {
		charged += n
		return nil
	})
	if err != nil || charged != int64(buf.Size()) || res.Records != 10 {
		t.Fatalf("charged %d of %d bytes, %+v, %v", charged, buf.Size(), res, err)
	}
	boom := errors.New("no memory")
	calls := 0
	buf.Reset()
	_, err = c.AppendLogs(&buf, typicalLogs(10), func(int64) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !errors.Is(err, ErrCharged) || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// TestMetricPoints covers the point kinds, flags and values that OTLP has
// and the SDK's metricdata does not.
func TestMetricPoints(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("gauge")
	pts := g.SetEmptyGauge().DataPoints()
	pts.AppendEmpty().SetDoubleValue(1.5)
	pts.AppendEmpty()                // no value: rejected
	pts.AppendEmpty().SetIntValue(3) // no recorded value: left out
	pts.At(2).SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	pts.AppendEmpty().SetDoubleValue(math.Inf(1)) // rejected
	ms.AppendEmpty().SetName("untyped")           // rejected
	h := ms.AppendEmpty()
	h.SetName("hist")
	hp := h.SetEmptyHistogram().DataPoints()
	p := hp.AppendEmpty()
	p.SetCount(4)
	p.SetSum(10)
	p.SetMin(1)
	p.SetMax(5)
	p.Attributes().PutStr("route", "/a")
	hp.AppendEmpty() // counted nothing: left out
	s := ms.AppendEmpty()
	s.SetName("summary")
	sp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetCount(2)
	sp.SetSum(8)

	c := newTestConverter(t)
	var buf envelope.Buffer
	res, err := c.AppendMetrics(&buf, md, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 8 || res.Records != 3 || res.Rejected != 3 {
		t.Errorf("result %+v, want 8 items, 3 records, 3 rejected", res)
	}
	for _, want := range []string{"3 of 8 data points not converted", "1 without a finite value", "1 number point(s) without a value", "1 point(s) of a metric without a known type"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q lacks %q", res.Message, want)
		}
	}
	envs := decoded(t, &buf)
	hist := baseData(envs[1])["metrics"].([]any)[0].(map[string]any)
	if hist["name"] != "hist" || hist["kind"] != "Aggregation" || hist["value"] != 10.0 || hist["count"] != 4.0 ||
		hist["min"] != 1.0 || hist["max"] != 5.0 || properties(envs[1])["route"] != "/a" {
		t.Errorf("histogram envelope %v", envs[1])
	}
}

// TestValues: every OTLP value type becomes a property as the SDK's
// attribute of the same value would.
func TestValues(t *testing.T) {
	td := httpServerSpans(1)
	a := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	a.Clear()
	a.PutStr("s", "x")
	a.PutInt("i", -3)
	a.PutDouble("d", 0.5)
	a.PutBool("b", true)
	a.PutEmptyBytes("bytes").FromRaw([]byte("hi"))
	ss := a.PutEmptySlice("strs")
	ss.AppendEmpty().SetStr("a")
	ss.AppendEmpty().SetStr("b")
	mixed := a.PutEmptySlice("mixed")
	mixed.AppendEmpty().SetStr("a")
	mixed.AppendEmpty().SetInt(1)
	a.PutEmptyMap("map").PutStr("k", "v")
	a.PutEmpty("empty")
	c := newTestConverter(t)
	var buf envelope.Buffer
	if _, err := c.AppendTraces(&buf, td, nil); err != nil {
		t.Fatal(err)
	}
	props := properties(decoded(t, &buf)[0])
	want := map[string]any{"s": "x", "i": "-3", "d": "0.5", "b": "true", "bytes": "aGk=",
		"strs": `["a","b"]`, "mixed": `["a",1]`, "map": `{"k":"v"}`}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("property %s = %v, want %v", k, props[k], v)
		}
	}
	if _, ok := props["empty"]; ok {
		t.Error("an empty value became a property")
	}
}

// TestConvertAllocations: converting spans and log records with scalar
// attributes allocates nothing per item once the scratch space has grown
// (the resource is built once per resource block).
func TestConvertAllocations(t *testing.T) {
	c := newTestConverter(t)
	td, ld, md := httpServerSpans(100), typicalLogs(100), sumPoints(100)
	var buf envelope.Buffer
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"spans", func() { _, _ = c.AppendTraces(&buf, td, nil) }},
		{"logs", func() { _, _ = c.AppendLogs(&buf, ld, nil) }},
		{"metrics", func() { _, _ = c.AppendMetrics(&buf, md, nil) }},
	} {
		allocs := testing.AllocsPerRun(20, func() {
			buf.Reset()
			tc.f()
		})
		// Per request: the resource (a handful) and the stats snapshot.
		if allocs > 20 {
			t.Errorf("%s: %.0f allocations for 100 items", tc.name, allocs)
		}
	}
}
