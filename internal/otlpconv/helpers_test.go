package otlpconv

import (
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/aispool/aispool/exporter/envelope"
)

const testIKey = "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a"

var (
	testStart   = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	testTraceID = pcommon.TraceID{0x23, 0xbf, 0x4d, 0xe5, 0xa2, 0xf2, 0xd9, 0x4b, 0x94, 0xaa, 0x51, 0x63, 0xe3, 0xa3, 0x91, 0x19}
	testSpanID  = pcommon.SpanID{0x23, 0xbf, 0x4d, 0xe5, 0xa2, 0xf2, 0xd9, 0x4c}
)

func newTestConverter(tb testing.TB) *Converter {
	tb.Helper()
	c, err := envelope.NewConverter(envelope.Config{InstrumentationKey: testIKey, HostName: "host", Version: "1.2.3"})
	if err != nil {
		tb.Fatal(err)
	}
	return New(c)
}

// httpServerSpans returns n HTTP server spans of one resource, the shape
// of envelope's BenchmarkConvertHTTPServerSpan.
func httpServerSpans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	rs.Resource().Attributes().PutStr("service.instance.id", "api-1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetTraceID(testTraceID)
		id := testSpanID
		id[7] = byte(i)
		s.SetSpanID(id)
		s.SetName("GET /api/users/{id}")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(12 * time.Millisecond)))
		a := s.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/users/{id}")
		a.PutStr("url.scheme", "https")
		a.PutStr("server.address", "api.example.com")
		a.PutStr("url.path", "/api/users/42")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("client.address", "203.0.113.7")
		a.PutStr("app.tenant", "contoso")
	}
	return td
}

// decoded returns the records of buf as generic JSON.
func decoded(t *testing.T, buf *envelope.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i := 0; i < buf.Len(); i++ {
		if err := envelope.Validate(buf.Record(i)); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Record(i), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func baseData(m map[string]any) map[string]any {
	return m["data"].(map[string]any)["baseData"].(map[string]any)
}

func properties(m map[string]any) map[string]any {
	p, _ := baseData(m)["properties"].(map[string]any)
	return p
}

func typicalLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "orders")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr("order 1234 shipped to warehouse 7")
		lr.SetTraceID(testTraceID)
		lr.SetSpanID(testSpanID)
		a := lr.Attributes()
		a.PutStr("order.id", "1234")
		a.PutInt("items", 3)
		a.PutDouble("total", 99.5)
		a.PutBool("express", true)
	}
	return ld
}

func sumPoints(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.requests")
	sum := m.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range n {
		p := sum.DataPoints().AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
		p.SetIntValue(int64(i))
		p.Attributes().PutStr("route", "/api/")
		p.Attributes().PutInt("code", int64(200+i))
	}
	return md
}
