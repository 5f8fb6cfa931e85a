package envelope

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestNewConverterErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{InstrumentationKey: "not-a-guid"},
		{InstrumentationKey: testIKey + "0"},
		{InstrumentationKey: testIKey, NonErrorStatusCodes: []int{99}},
	} {
		if _, err := NewConverter(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewConverter(%+v) error = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	c, err := NewConverter(Config{InstrumentationKey: " " + strings.ToUpper(testIKey) + " "})
	if err != nil {
		t.Fatalf("upper-case key with spaces: %v", err)
	}
	if c.cfg.HostName == "" || c.cfg.Version == "" {
		t.Errorf("defaults not filled: %+v", c.cfg)
	}
}

// TestNewConverterListsEveryProblem: a configuration with several problems
// gets all of them at once, each wrapping ErrInvalidConfig and naming what
// is wrong.
func TestNewConverterListsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"empty key and two bad codes", Config{NonErrorStatusCodes: []int{99, 404, 600}},
			[]string{"instrumentation key is empty", "status code 99 ", "status code 600 "}},
		{"bad key and a bad code", Config{InstrumentationKey: "not-a-guid", NonErrorStatusCodes: []int{0}},
			[]string{"instrumentation key is not a GUID", "status code 0 "}},
		{"one problem", Config{InstrumentationKey: testIKey, NonErrorStatusCodes: []int{1000}},
			[]string{"status code 1000 "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConverter(tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %v is not joined", err)
			}
			errs := joined.Unwrap()
			if len(errs) != len(tc.want) {
				t.Fatalf("%d problems, want %d: %v", len(errs), len(tc.want), err)
			}
			for i, e := range errs {
				if !errors.Is(e, ErrInvalidConfig) {
					t.Errorf("problem %d %q does not wrap ErrInvalidConfig", i, e)
				}
				if !strings.Contains(e.Error(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to name %q", i, e, tc.want[i])
				}
			}
		})
	}
}

func TestNewConverterValidCodes(t *testing.T) {
	c, err := NewConverter(Config{InstrumentationKey: testIKey, NonErrorStatusCodes: []int{100, 404, 599}})
	if err != nil {
		t.Fatalf("valid codes refused: %v", err)
	}
	if c.cfg.HostName == "" || c.cfg.Version == "" {
		t.Errorf("defaults not filled: %+v", c.cfg)
	}
}

func TestSDKVersion(t *testing.T) {
	got := sdkVersion("go1.26.8", "1.47.0", "v0.3.0")
	if want := "go1.26.8:otel1.47.0:aispool0.3.0"; got != want {
		t.Errorf("sdkVersion = %q, want %q", got, want)
	}
	c := newTestConverter(t, Config{Version: strings.Repeat("9", 100)})
	env := decodeOne(t, c, stub(internal, "x"))[0]
	if n := len(env.Tags["ai.internal.sdkVersion"]); n != maxTagSDKVersion {
		t.Errorf("sdkVersion tag has %d characters, want it cut to %d", n, maxTagSDKVersion)
	}
}

// panicSpan is a ReadOnlySpan whose attributes blow up.
type panicSpan struct{ sdktrace.ReadOnlySpan }

func (panicSpan) Attributes() []attribute.KeyValue { panic("boom") }

func TestBadSpansAreSkippedAndCounted(t *testing.T) {
	c := newTestConverter(t, Config{})
	good := stub(internal, "good").Snapshot()
	invalid := stub(internal, "no ids")
	invalid.SpanContext = trace.SpanContext{}
	var buf Buffer
	records, skipped := c.AppendSpans(&buf, []sdktrace.ReadOnlySpan{
		good, nil, invalid.Snapshot(), panicSpan{good}, good,
	})
	if records != 2 || skipped != 3 || buf.Len() != 2 {
		t.Fatalf("AppendSpans = %d records, %d skipped (buffer %d); want 2, 3, 2", records, skipped, buf.Len())
	}
	checkRecords(t, &buf)

	_, err := c.AppendSpan(&buf, nil)
	if !errors.Is(err, ErrInvalidSpan) {
		t.Errorf("nil span: %v, want ErrInvalidSpan", err)
	}
	_, err = c.AppendSpan(&buf, panicSpan{good})
	if !errors.Is(err, ErrConversion) {
		t.Errorf("panicking span: %v, want ErrConversion", err)
	}
	st := c.Stats()
	want := map[SkipReason]uint64{SkipInvalidSpan: 3, SkipTooLarge: 0, SkipInternal: 2}
	for r, n := range want {
		if st.Skipped[r] != n {
			t.Errorf("Skipped[%s] = %d, want %d", r, st.Skipped[r], n)
		}
	}
	if st.Converted != 2 || st.Envelopes != 2 {
		t.Errorf("Stats = %+v, want 2 converted, 2 envelopes", st)
	}
	if buf.Len() != 2 {
		t.Errorf("failed spans left records behind: %d", buf.Len())
	}
}

func TestTrimLargestPropertiesFirst(t *testing.T) {
	c := newTestConverter(t, Config{})
	attrs := []attribute.KeyValue{str("small", "kept")}
	for i := 0; i < 12; i++ {
		// Twelve values of 8192 characters: about 98 KB in all.
		attrs = append(attrs, str("big"+strconv.Itoa(i), strings.Repeat(strconv.Itoa(i%10), 8192)))
	}
	attrs = append(attrs, str("medium", strings.Repeat("m", 4000)))
	env := decodeOne(t, c, stub(internal, "big", attrs...))
	props := env[0].Data.BaseData.(*RemoteDependencyData).Properties
	if props["small"] != "kept" || props["medium"] == "" {
		t.Errorf("small properties were dropped: %v", keys(props))
	}
	bigKept := 0
	for k := range props {
		if strings.HasPrefix(k, "big") {
			bigKept++
		}
	}
	if bigKept == 0 || bigKept >= 12 {
		t.Errorf("%d of 12 big properties kept; want some dropped, not all", bigKept)
	}
	if got := c.Stats().Trimmed; got != 1 {
		t.Errorf("Trimmed = %d, want 1", got)
	}
}

func TestTrimLongFields(t *testing.T) {
	c := newTestConverter(t, Config{})
	// A message and a stack of 32768 escaped characters each are far over
	// 64 KB; so is a dependency whose data needs six bytes per character.
	s := withEvents(stub(client, "huge", str("db.system", "postgresql"), str("db.statement", strings.Repeat("\x01", 8192)),
		str("p", strings.Repeat("p", 8192))),
		event("exception", 0, str("exception.message", strings.Repeat("m", 40000)),
			str("exception.stacktrace", strings.Repeat("\x00", 40000))))
	var buf Buffer
	n, err := c.AppendSpan(&buf, s.Snapshot())
	if err != nil || n != 2 {
		t.Fatalf("AppendSpan = %d, %v", n, err)
	}
	checkRecords(t, &buf)
	if got := c.Stats().Trimmed; got != 1 {
		t.Errorf("Trimmed = %d, want 1 (the exception)", got)
	}
	env := decodeOne(t, c, s)
	ex := env[1].Data.BaseData.(*ExceptionData).Exceptions[0]
	if ex.HasFullStack || ex.Stack == "" || len(ex.Message) >= 32768 {
		t.Errorf("exception not trimmed as expected: hasFullStack=%v stack=%d message=%d", ex.HasFullStack, len(ex.Stack), len(ex.Message))
	}
}

func TestSpanEventLimitsAndOptions(t *testing.T) {
	s := withEvents(stub(internal, "events"), event(strings.Repeat("a", 32769), 0), event("", 0))
	env := decodeOne(t, newTestConverter(t, Config{}), s)
	if len(env) != 3 {
		t.Fatalf("%d envelopes, want 3", len(env))
	}
	if got := env[1].Data.BaseData.(*MessageData).Message; len(got) != 32768 {
		t.Errorf("message has %d characters, want 32768", len(got))
	}
	if got := env[2].Data.BaseData.(*MessageData).Message; got != "n/a" {
		t.Errorf("empty event name gives %q, want n/a", got)
	}
	env = decodeOne(t, newTestConverter(t, Config{SkipSpanEventMessages: true}),
		withEvents(stub(internal, "events"), event("note", 0), event("exception", 0)))
	if len(env) != 2 || env[1].Data.BaseType != "ExceptionData" {
		t.Errorf("SkipSpanEventMessages: got %d envelopes", len(env))
	}
}

func TestLinksCapped(t *testing.T) {
	s := stub(internal, "fan-in")
	for i := 0; i < 150; i++ {
		s.Links = append(s.Links, link("0102030405060708090a0b0c0d0e0f10", "0102030405060708"))
	}
	env := decodeOne(t, newTestConverter(t, Config{}), s)
	v := env[0].Data.BaseData.(*RemoteDependencyData).Properties[msLinksKey]
	if n := strings.Count(v, "operation_Id"); n != maxLinks {
		t.Errorf("_MS.links holds %d links, want %d", n, maxLinks)
	}
}

func TestBuffer(t *testing.T) {
	c := newTestConverter(t, Config{})
	var buf Buffer
	for i := 0; i < 3; i++ {
		if _, err := c.AppendSpan(&buf, withEvents(stub(internal, "s"+strconv.Itoa(i)), event("e", 0)).Snapshot()); err != nil {
			t.Fatal(err)
		}
	}
	recs := buf.Records(nil)
	if len(recs) != 6 || buf.Len() != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	total := 0
	for i, r := range recs {
		total += len(r)
		if string(r) != string(buf.Record(i)) || !utf8.Valid(r) {
			t.Errorf("record %d differs", i)
		}
	}
	if total != buf.Size() || string(buf.Bytes()) != strings.Join(bytesToStrings(recs), "") {
		t.Errorf("records do not concatenate to the buffer")
	}
	buf.Reset()
	if buf.Len() != 0 || buf.Size() != 0 {
		t.Errorf("Reset left %d records", buf.Len())
	}
}

// With headroom, every record follows that many bytes of scratch space
// (Framed), and reads the same as without it, trimmed ones included.
func TestBufferHeadroom(t *testing.T) {
	spans := []sdktrace.ReadOnlySpan{
		withEvents(stub(internal, "s0"), event("e", 0)).Snapshot(),
		withEvents(stub(client, "huge", str("p", strings.Repeat("p", 8192))),
			event("exception", 0, str("exception.message", strings.Repeat("m", 40000)),
				str("exception.stacktrace", strings.Repeat("\x00", 40000)))).Snapshot(),
		httpServerStub().Snapshot(),
	}
	var plain, framed Buffer
	framed.SetHeadroom(21)
	for _, s := range spans {
		if _, err := newTestConverter(t, Config{}).AppendSpan(&plain, s); err != nil {
			t.Fatal(err)
		}
		if _, err := newTestConverter(t, Config{}).AppendSpan(&framed, s); err != nil {
			t.Fatal(err)
		}
	}
	frames := framed.Framed(nil)
	if framed.Len() != plain.Len() || len(frames) != plain.Len() || plain.Len() != 5 {
		t.Fatalf("%d records with headroom, %d framed, %d without; want 5", framed.Len(), len(frames), plain.Len())
	}
	checkRecords(t, &plain)
	for i, f := range frames {
		if string(framed.Record(i)) != string(plain.Record(i)) || string(f[21:]) != string(plain.Record(i)) || len(f) != 21+len(plain.Record(i)) {
			t.Errorf("record %d differs with headroom", i)
		}
	}
	if framed.Size() != plain.Size()+5*21 {
		t.Errorf("Size = %d with headroom, want %d", framed.Size(), plain.Size()+5*21)
	}
}

// TestConvertAllocations checks that converting a typical span allocates
// nothing once the buffer and the converter's scratch space have grown.
func TestConvertAllocations(t *testing.T) {
	c := newTestConverter(t, Config{})
	s := withLinks(withEvents(httpServerStub(), event("exception", 0, str("exception.type", "E"))),
		link("0102030405060708090a0b0c0d0e0f10", "0102030405060708")).Snapshot()
	var buf Buffer
	allocs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		if _, err := c.AppendSpan(&buf, s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendSpan allocates %.1f times per span, want 0", allocs)
	}
}

func TestRequestName(t *testing.T) {
	attrs := []attribute.KeyValue{str("http.request.method", "GET"), str("http.route", "users/{id}")}
	if got := RequestName(server, "span", attrs); got != "GET /users/{id}" {
		t.Errorf("RequestName = %q", got)
	}
	if got := RequestName(client, "span", attrs); got != "span" {
		t.Errorf("RequestName for a client span = %q, want the span name", got)
	}
	if got := RequestName(consumer, "span", []attribute.KeyValue{str("http.method", "POST"), str("http.route", "{controller}/x"), str("http.target", "/a/b?c")}); got != "POST /a/b" {
		t.Errorf("RequestName with {controller} route = %q", got)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func bytesToStrings(bs [][]byte) []string {
	var ss []string
	for _, b := range bs {
		ss = append(ss, string(b))
	}
	return ss
}

// httpServerStub is the benchmark's span: an HTTP server span with 8
// attributes.
func httpServerStub() tracetest.SpanStub {
	return stub(server, "GET /api/users/{id}",
		str("http.request.method", "GET"),
		str("http.route", "/api/users/{id}"),
		str("url.scheme", "https"),
		str("server.address", "api.example.com"),
		str("url.path", "/api/users/42"),
		num("http.response.status_code", 200),
		str("client.address", "203.0.113.7"),
		str("app.tenant", "contoso"),
	)
}
