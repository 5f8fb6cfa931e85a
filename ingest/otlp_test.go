package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

const otlpTestIKey = "11111111-2222-3333-4444-555555555555"

// newOTLP returns the OTLP intake of a Handler made from cfg.
func newOTLP(t testing.TB, cfg Config) (*Handler, *OTLP) {
	t.Helper()
	h := newHandler(t, cfg)
	o, err := h.OTLP(OTLPConfig{Envelope: envelope.Config{InstrumentationKey: otlpTestIKey, HostName: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return h, o
}

// testSpans returns n server spans of one resource; ids start at first.
func testSpans(n, first int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := range n {
		s := spans.AppendEmpty()
		id := first + i
		s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), 1, 1, 1, 1})
		s.SetSpanID(pcommon.SpanID{9, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), 1, 1, 1})
		s.SetName(fmt.Sprintf("GET /item/%d", id))
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		s.Attributes().PutStr("http.request.method", "GET")
		s.Attributes().PutInt("http.response.status_code", 200)
	}
	return td
}

func testLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.Body().SetStr(fmt.Sprintf("log line %d", i))
	}
	return ld
}

func testMetrics(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("queue.depth")
	pts := m.SetEmptyGauge().DataPoints()
	for i := range n {
		p := pts.AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		p.SetIntValue(int64(i))
	}
	return md
}

// otlpBody encodes a request of sig holding n items.
func otlpBody(t testing.TB, sig Signal, n int, asJSON bool) []byte {
	t.Helper()
	var b []byte
	var err error
	switch sig {
	case Traces:
		req := ptraceotlp.NewExportRequestFromTraces(testSpans(n, 0))
		b, err = marshal(req.MarshalProto, req.MarshalJSON, asJSON)
	case Logs:
		req := plogotlp.NewExportRequestFromLogs(testLogs(n))
		b, err = marshal(req.MarshalProto, req.MarshalJSON, asJSON)
	default:
		req := pmetricotlp.NewExportRequestFromMetrics(testMetrics(n))
		b, err = marshal(req.MarshalProto, req.MarshalJSON, asJSON)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshal(p, j func() ([]byte, error), asJSON bool) ([]byte, error) {
	if asJSON {
		return j()
	}
	return p()
}

// otlpAnswer is a decoded OTLP/HTTP answer.
type otlpAnswer struct {
	Status     int
	RetryAfter string
	Header     http.Header
	// Of a 200: the partial success.
	Rejected int64
	Message  string
	// Of an error: the google.rpc.Status.
	Code codes.Code
}

// postOTLP posts body to url and decodes the answer in the encoding the
// request asked for.
func postOTLP(t testing.TB, c *http.Client, url string, sig Signal, body []byte, hdr map[string]string) otlpAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentTypeProto)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := otlpAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Header: resp.Header}
	asJSON := resp.Header.Get("Content-Type") == contentTypeJSON
	if !asJSON && resp.Header.Get("Content-Type") != contentTypeProto {
		t.Fatalf("answer %d has Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if wantJSON := req.Header.Get("Content-Type") != contentTypeProto; asJSON != wantJSON && resp.StatusCode != 415 {
		t.Errorf("answer in JSON: %v, request in JSON: %v", asJSON, wantJSON)
	}
	if resp.StatusCode != http.StatusOK {
		var st spb.Status
		if asJSON {
			var js struct {
				Code    int32  `json:"code"`
				Message string `json:"message"`
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&js); err != nil {
				t.Fatalf("answer %d %q: %v", resp.StatusCode, raw, err)
			}
			st.Code, st.Message = js.Code, js.Message
		} else if err := proto.Unmarshal(raw, &st); err != nil {
			t.Fatalf("answer %d %q is not a google.rpc.Status: %v", resp.StatusCode, raw, err)
		}
		if st.Message == "" || st.Code == 0 {
			t.Errorf("answer %d: status %v without code or message", resp.StatusCode, &st)
		}
		a.Code, a.Message = codes.Code(st.Code), st.Message
		return a
	}
	switch sig {
	case Traces:
		r := ptraceotlp.NewExportResponse()
		err = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, raw, asJSON)
		a.Rejected, a.Message = r.PartialSuccess().RejectedSpans(), r.PartialSuccess().ErrorMessage()
	case Logs:
		r := plogotlp.NewExportResponse()
		err = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, raw, asJSON)
		a.Rejected, a.Message = r.PartialSuccess().RejectedLogRecords(), r.PartialSuccess().ErrorMessage()
	default:
		r := pmetricotlp.NewExportResponse()
		err = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, raw, asJSON)
		a.Rejected, a.Message = r.PartialSuccess().RejectedDataPoints(), r.PartialSuccess().ErrorMessage()
	}
	if err != nil {
		t.Fatalf("answer 200 %q: %v", raw, err)
	}
	return a
}

func unmarshal(p, j func([]byte) error, raw []byte, asJSON bool) error {
	if asJSON {
		return j(raw)
	}
	return p(raw)
}

var signalPaths = map[Signal]string{Traces: "/v1/traces", Logs: "/v1/logs", Metrics: "/v1/metrics"}

// checkEnvelopes checks that records are valid envelopes of the signal.
func checkEnvelopes(t testing.TB, sig Signal, records []string) {
	t.Helper()
	want := map[Signal]string{Traces: "Microsoft.ApplicationInsights.Request", Logs: "Microsoft.ApplicationInsights.Message",
		Metrics: "Microsoft.ApplicationInsights.Metric"}[sig]
	for i, r := range records {
		if err := envelope.Validate([]byte(r)); err != nil || !strings.HasSuffix(r, "}\n") || strings.Count(r, "\n") != 1 {
			t.Fatalf("record %d %q: %v", i, r, err)
		}
		if !strings.Contains(r, `"name":"`+want+`"`) || !strings.Contains(r, otlpTestIKey) {
			t.Errorf("record %d is not a %s of the key: %s", i, want, r)
		}
	}
}

// TestOTLPHTTPSignals: each signal, in protobuf and JSON, plain and gzip,
// is answered 200 only once its envelopes are in the spool.
func TestOTLPHTTPSignals(t *testing.T) {
	for sig := Traces; sig < numSignals; sig++ {
		for _, asJSON := range []bool{false, true} {
			for _, gz := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s json=%v gzip=%v", sig, asJSON, gz), func(t *testing.T) {
					sp := openSpool(t, nil)
					_, o := newOTLP(t, Config{Spool: sp})
					srv := startHTTP(t, o)
					body := otlpBody(t, sig, 7, asJSON)
					hdr := map[string]string{}
					if asJSON {
						hdr["Content-Type"] = "application/json; charset=utf-8"
					}
					if gz {
						body = testkit.Gzip(string(body))
						hdr["Content-Encoding"] = "gzip"
					}
					a := postOTLP(t, srv.Client(), srv.URL+signalPaths[sig], sig, body, hdr)
					if a.Status != 200 || a.Rejected != 0 || a.Message != "" {
						t.Fatalf("answer %+v", a)
					}
					got := drain(t, sp)
					if len(got) != 7 {
						t.Fatalf("spool holds %d records, want 7", len(got))
					}
					checkEnvelopes(t, sig, got)
					st := o.Stats()
					if st.Received[sig.String()] != 7 || st.Accepted[sig.String()] != 7 || st.Requests["http 200"] != 1 {
						t.Errorf("stats %+v", st)
					}
				})
			}
		}
	}
}

// TestOTLPHTTPPartialSuccess: spans that cannot be converted are counted
// in partial_success with the reason; the others are stored.
func TestOTLPHTTPPartialSuccess(t *testing.T) {
	sp := openSpool(t, nil)
	_, o := newOTLP(t, Config{Spool: sp})
	srv := startHTTP(t, o)
	td := testSpans(5, 0)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(1).SetTraceID(pcommon.TraceID{})
	spans.At(3).SetSpanID(pcommon.SpanID{})
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	a := postOTLP(t, srv.Client(), srv.URL+"/v1/traces", Traces, body, nil)
	if a.Status != 200 || a.Rejected != 2 || !strings.Contains(a.Message, "2 of 5 spans not converted: 2 without valid trace and span ids") {
		t.Fatalf("answer %+v", a)
	}
	if got := drain(t, sp); len(got) != 3 {
		t.Fatalf("spool holds %d records, want 3", len(got))
	}
	// Nothing convertible: still a 200, everything rejected, nothing stored.
	spans.At(0).SetTraceID(pcommon.TraceID{})
	spans.At(2).SetTraceID(pcommon.TraceID{})
	spans.At(4).SetTraceID(pcommon.TraceID{})
	body, _ = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	a = postOTLP(t, srv.Client(), srv.URL+"/v1/traces", Traces, body, map[string]string{"Content-Type": contentTypeProto})
	if a.Status != 200 || a.Rejected != 5 {
		t.Fatalf("answer %+v", a)
	}
	if got := drain(t, sp); len(got) != 0 {
		t.Fatalf("spool holds %d records", len(got))
	}
	if st := o.Stats(); st.Rejected["traces"] != 7 || st.Accepted["traces"] != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestOTLPHTTPErrors: every refusal has its status and a google.rpc.Status
// saying why, and stores nothing.
func TestOTLPHTTPErrors(t *testing.T) {
	good := otlpBody(t, Traces, 3, false)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		code   codes.Code
		says   string
	}{
		{"not protobuf", "", "/v1/traces", []byte("\xff\xff\xff\xff"), nil, 400, codes.InvalidArgument, "not an OTLP traces export request in protobuf"},
		{"not JSON", "", "/v1/logs", []byte(`{"resourceLogs":[{`), map[string]string{"Content-Type": "application/json"}, 400, codes.InvalidArgument, "in OTLP JSON"},
		{"empty", "", "/v1/metrics", nil, nil, 400, codes.InvalidArgument, "empty body"},
		{"broken gzip", "", "/v1/traces", good, map[string]string{"Content-Encoding": "gzip"}, 400, codes.InvalidArgument, "gzip"},
		{"unknown path", "", "/v1/profiles", good, nil, 404, codes.NotFound, "/v1/traces, /v1/logs or /v1/metrics"},
		{"no leading slash match", "", "/x/v1/traces", good, nil, 404, codes.NotFound, "unknown path"},
		{"GET", http.MethodGet, "/v1/traces", nil, nil, 405, codes.Unimplemented, "use POST"},
		{"text/plain", "", "/v1/traces", good, map[string]string{"Content-Type": "text/plain"}, 415, codes.InvalidArgument, "application/x-protobuf or application/json"},
		{"no content type", "", "/v1/traces", good, map[string]string{"Content-Type": ""}, 415, codes.InvalidArgument, "Content-Type"},
		{"br", "", "/v1/traces", good, map[string]string{"Content-Encoding": "br"}, 415, codes.InvalidArgument, "br"},
		{"too large", "", "/v1/traces", bytes.Repeat([]byte{0}, 2000), nil, 413, codes.InvalidArgument, "over the limit"},
		{"gzip bomb", "", "/v1/traces", testkit.Gzip(strings.Repeat("\x00", 100000)), map[string]string{"Content-Encoding": "gzip"}, 413, codes.InvalidArgument, "after decompression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := openSpool(t, nil)
			_, o := newOTLP(t, Config{Spool: sp, Limits: limitsFor(1024)})
			srv := startHTTP(t, o)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", contentTypeProto)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, raw, tt.status)
			}
			var st spb.Status
			if resp.Header.Get("Content-Type") == contentTypeJSON {
				var js struct {
					Code    int32  `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(raw, &js); err != nil {
					t.Fatalf("%q: %v", raw, err)
				}
				st.Code, st.Message = js.Code, js.Message
			} else if err := proto.Unmarshal(raw, &st); err != nil {
				t.Fatalf("%q: %v", raw, err)
			}
			if codes.Code(st.Code) != tt.code || !strings.Contains(st.Message, tt.says) {
				t.Errorf("status %v, want code %v saying %q", &st, tt.code, tt.says)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Error("405 without Allow: POST")
			}
			if tt.name == "br" && resp.Header.Get("Accept-Encoding") != "gzip" {
				t.Error("415 without Accept-Encoding: gzip")
			}
			if got := drain(t, sp); len(got) != 0 {
				t.Errorf("spool holds %d records", len(got))
			}
		})
	}
}

// limitsFor returns limits with a body limit of n bytes.
func limitsFor(n int64) breeze.Limits { return breeze.Limits{MaxBodyBytes: n} }

// TestOTLPHTTPRefusals: when the spool cannot take a request (full under
// the reject policy, a disk error, too slow) the answer is 503 with
// Retry-After; while memory is held by others, 429 with Retry-After. The
// spool holds nothing of the request.
func TestOTLPHTTPRefusals(t *testing.T) {
	body := otlpBody(t, Logs, 4, false)
	for _, tt := range []struct {
		name   string
		app    func(sp *spool.Spool) Appender
		status int
	}{
		{"full", func(sp *spool.Spool) Appender {
			return &fakeAppender{next: sp, err: func(int, [][]byte) error { return fmt.Errorf("spool: %w", spool.ErrFull) }}
		}, 503},
		{"timeout", func(*spool.Spool) Appender { return &fakeAppender{block: true} }, 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := openSpool(t, nil)
			_, o := newOTLP(t, Config{Spool: tt.app(sp), RetryAfter: 2 * time.Second, AppendTimeout: 200 * time.Millisecond})
			srv := startHTTP(t, o)
			a := postOTLP(t, srv.Client(), srv.URL+"/v1/logs", Logs, body, nil)
			if a.Status != tt.status || a.RetryAfter != "2" || a.Code != codes.Unavailable || !strings.Contains(a.Message, "send it again") {
				t.Fatalf("answer %+v", a)
			}
			if got := drain(t, sp); len(got) != 0 {
				t.Errorf("spool holds %d records", len(got))
			}
			if st := o.Stats(); st.Refused["logs"] != 4 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("memory busy", func(t *testing.T) {
		sp := openSpool(t, nil)
		h, o := newOTLP(t, Config{Spool: sp, MemoryBudget: 1 << 20, MemoryWait: 50 * time.Millisecond})
		srv := startHTTP(t, o)
		// Another request holds most of the budget.
		other := h.budget.lease(context.Background())
		if err := other.take(1<<20 - decodeOverhead/2); err != nil {
			t.Fatal(err)
		}
		a := postOTLP(t, srv.Client(), srv.URL+"/v1/logs", Logs, body, nil)
		if a.Status != 429 || a.RetryAfter == "" || a.Code != codes.ResourceExhausted {
			t.Fatalf("answer %+v", a)
		}
		other.release()
		a = postOTLP(t, srv.Client(), srv.URL+"/v1/logs", Logs, body, nil)
		if a.Status != 200 {
			t.Fatalf("answer %+v after the memory came back", a)
		}
		if got := drain(t, sp); len(got) != 4 {
			t.Errorf("spool holds %d records, want 4", len(got))
		}
	})
	t.Run("reject policy", func(t *testing.T) {
		sp := openSpool(t, &spool.Options{MaxBytes: 1 << 20, SegmentMaxBytes: 256 << 10, Policy: spool.RejectNew})
		_, o := newOTLP(t, Config{Spool: sp})
		srv := startHTTP(t, o)
		acked := 0
		for i := 0; ; i++ {
			if i > 400 {
				t.Fatal("the spool never filled up")
			}
			a := postOTLP(t, srv.Client(), srv.URL+"/v1/traces", Traces, otlpBody(t, Traces, 50, false), nil)
			if a.Status == 503 {
				if a.RetryAfter != "10" || a.Code != codes.Unavailable {
					t.Fatalf("answer %+v", a)
				}
				break
			}
			if a.Status != 200 {
				t.Fatalf("answer %+v", a)
			}
			acked += 50
		}
		if got := drain(t, sp); len(got) != acked {
			t.Fatalf("spool holds %d records, acknowledged %d", len(got), acked)
		}
	})
}

// TestOTLPGuard: the Guard in front of the OTLP intake answers its
// refusals with a google.rpc.Status, and the secret path prefix works as
// OTEL_EXPORTER_OTLP_ENDPOINT's base path.
func TestOTLPGuard(t *testing.T) {
	sp := openSpool(t, nil)
	_, o := newOTLP(t, Config{Spool: sp})
	const secret = "0123456789abcdef0123"
	g, err := NewGuard(o, GuardConfig{PathSecret: secret, Logger: quietLogger(), Refusal: OTLPRefusal, PathHint: OTLPPathHint})
	if err != nil {
		t.Fatal(err)
	}
	srv := startHTTP(t, g)
	body := otlpBody(t, Metrics, 2, false)
	a := postOTLP(t, srv.Client(), srv.URL+"/v1/metrics", Metrics, body, nil)
	if a.Status != 404 || a.Code != codes.NotFound || !strings.Contains(a.Message, OTLPPathHint) {
		t.Fatalf("answer %+v", a)
	}
	a = postOTLP(t, srv.Client(), srv.URL+"/"+secret+"/v1/metrics", Metrics, body, nil)
	if a.Status != 200 {
		t.Fatalf("answer %+v", a)
	}
	if got := drain(t, sp); len(got) != 2 {
		t.Errorf("spool holds %d records", len(got))
	}
}

// TestOTLPHTTPSlowBody: the slow-client rule of the Breeze intake holds for
// OTLP: a body that arrives slower than the minimum rate is cut with 408
// and Connection: close, and nothing is stored.
func TestOTLPHTTPSlowBody(t *testing.T) {
	sp := openSpool(t, nil)
	_, o := newOTLP(t, Config{Spool: sp, MinBodyRate: 1000, BodyRateGrace: 200 * time.Millisecond})
	addr := startServe(t, o)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /v1/traces HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n", addr)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_, _ = c.Write([]byte{0x0a})
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st spb.Status
	if err := proto.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 408 || !resp.Close || !strings.Contains(st.Message, "slower than the minimum") || time.Since(start) > 10*time.Second {
		t.Fatalf("answer %d (close %v) %v after %v", resp.StatusCode, resp.Close, &st, time.Since(start))
	}
	if got := drain(t, sp); len(got) != 0 {
		t.Errorf("spool holds %d records", len(got))
	}
}
