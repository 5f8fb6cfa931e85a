package breeze

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/aispool/aispool/internal/testkit"
)

// gz compresses s as one gzip member.

// want describes one expected item: its Raw, or the sentinel its Err wraps
// and a fragment of its message.
type want struct {
	raw string
	err error
	msg string
}

func ok(raw string) want             { return want{raw: raw} }
func bad(err error, msg string) want { return want{err: err, msg: msg} }
func checkItems(t *testing.T, got []Item, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if w.err == nil {
			if g.Err != nil || string(g.Raw) != w.raw {
				t.Errorf("item %d = %q, %v; want %q", i, g.Raw, g.Err, w.raw)
			}
			continue
		}
		if g.Raw != nil || !errors.Is(g.Err, w.err) || !strings.Contains(fmt.Sprint(g.Err), w.msg) {
			t.Errorf("item %d = %q, %v; want error %v containing %q", i, g.Raw, g.Err, w.err, w.msg)
		}
	}
}

func TestDecode(t *testing.T) {
	small := Limits{MaxItemBytes: 16}
	tests := []struct {
		name     string
		body     string
		gzip     bool   // compress body
		encoding string // Content-Encoding
		lim      Limits
		err      error // whole-body error
		errMsg   string
		items    []want
	}{
		{name: "array", body: `[{"a":1},{"b":2}]`, items: []want{ok(`{"a":1}`), ok(`{"b":2}`)}},
		{name: "array single", body: `[{}]`, items: []want{ok(`{}`)}},
		{name: "array nested whitespace",
			body:  "\n [\n  {\n    \"a\" : [ 1 , { \"b\" : \"x y\\n\" } ],\r\n\t\"s\": \"  \"\n  } ,\n{ }\n ]\n\n",
			items: []want{ok(`{"a":[1,{"b":"x y\n"}],"s":"  "}`), ok(`{}`)}},
		{name: "array strings with brackets",
			body:  `[{"a":"]}\"[{"},{"b":"\\"},{"c":"\\\""}]`,
			items: []want{ok(`{"a":"]}\"[{"}`), ok(`{"b":"\\"}`), ok(`{"c":"\\\""}`)}},
		{name: "array bad elements",
			body: `[{"a":1}, 2, "s]", null, true, [1,{}], {"b":tru}, {"c":1 2}, {"d":"` + "\x01" + `"}, -1e5]`,
			items: []want{ok(`{"a":1}`),
				bad(ErrNotObject, "item 1: not a JSON object (found a number)"),
				bad(ErrNotObject, "item 2: not a JSON object (found a string)"),
				bad(ErrNotObject, "found null"),
				bad(ErrNotObject, "found a boolean"),
				bad(ErrNotObject, "item 5: not a JSON object (found an array)"),
				bad(ErrInvalidJSON, "item 6: invalid JSON"),
				bad(ErrInvalidJSON, "item 7: invalid JSON"),
				bad(ErrInvalidJSON, "item 8: invalid JSON"),
				bad(ErrNotObject, "item 9"),
			}},
		{name: "array garbage element", body: `[{"a":1},garbage]`,
			items: []want{ok(`{"a":1}`), bad(ErrInvalidJSON, "item 1: invalid JSON")}},
		{name: "ndjson", body: "{\"a\":1}\n{\"b\":2}\n", items: []want{ok(`{"a":1}`), ok(`{"b":2}`)}},
		{name: "ndjson no final newline", body: "{\"a\":1}\n{\"b\":2}", items: []want{ok(`{"a":1}`), ok(`{"b":2}`)}},
		{name: "ndjson crlf and blank lines",
			body:  "\r\n\n  {\"a\": 1}\r\n\r\n \t \n{ \"b\" : [ 2 ] }  \r\n\n",
			items: []want{ok(`{"a":1}`), ok(`{"b":[2]}`)}},
		{name: "ndjson mixed bad lines",
			body: "{\"a\":1}\nnot json\n[1]\n\n{\"b\":2}\n\"s\"\n{\"c\":",
			items: []want{ok(`{"a":1}`),
				bad(ErrInvalidJSON, "line 2: invalid JSON"),
				bad(ErrNotObject, "line 3: not a JSON object"),
				ok(`{"b":2}`),
				bad(ErrNotObject, "line 6"),
				bad(ErrInvalidJSON, "line 7: invalid JSON"),
			}},
		{name: "ndjson line numbers after leading blank lines",
			body:  "\n\n{\"a\":1}\n{x}\n",
			items: []want{ok(`{"a":1}`), bad(ErrInvalidJSON, "line 4:")}},
		{name: "ndjson pretty object is per-line errors",
			body:  "{\n\"a\":1\n}\n",
			items: []want{bad(ErrInvalidJSON, "line 1"), bad(ErrInvalidJSON, "line 2"), bad(ErrInvalidJSON, "line 3")}},
		{name: "bom array", body: "\uFEFF[{\"a\":1}]", items: []want{ok(`{"a":1}`)}},
		{name: "bom ndjson", body: "\uFEFF{\"a\":1}\n", items: []want{ok(`{"a":1}`)}},
		{name: "invalid utf8 replaced ndjson", body: "{\"m\":\"a\xffb\xc3\"}\n",
			items: []want{ok("{\"m\":\"a\uFFFDb\uFFFD\"}")}},
		{name: "invalid utf8 replaced array", body: "[{\"m\":\"\xed\xa0\x80x\"}]",
			items: []want{ok("{\"m\":\"\uFFFDx\"}")}},
		{name: "invalid utf8 outside strings", body: "{\"a\":1}\xff\n", items: []want{bad(ErrInvalidJSON, "line 1")}},
		{name: "valid utf8 kept", body: `[{"m":"héllo ✓ 🚀 \u00e9"}]`, items: []want{ok(`{"m":"héllo ✓ 🚀 \u00e9"}`)}},
		{name: "deep nesting", body: "[" + strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200) + "]",
			items: []want{ok(strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200))}},

		{name: "item over MaxItemBytes", lim: small, body: "{\"a\":\"0123456789abcdef\"}\n{\"a\":1}\n",
			items: []want{bad(ErrItemTooLarge, "line 1: item too large: 24 bytes (limit 16 bytes)"), ok(`{"a":1}`)}},
		{name: "item compacts under MaxItemBytes", lim: small, body: "[ { \"a\" :   1 , \"b\" : 2 } ]",
			items: []want{ok(`{"a":1,"b":2}`)}},
		{name: "item far over raw cap ndjson", lim: small, body: "{\"a\":\"" + strings.Repeat("x", 100) + "\"}\n{}",
			items: []want{bad(ErrItemTooLarge, "line 1: item too large: over 64 bytes before compaction"), ok(`{}`)}},
		{name: "item far over raw cap array", lim: small, body: `[{"a":"` + strings.Repeat("x", 100) + `"},{}]`,
			items: []want{bad(ErrItemTooLarge, "item 0: item too large: over 64 bytes"), ok(`{}`)}},
		{name: "item exactly at raw cap", lim: small, body: "{" + strings.Repeat(" ", 62) + "}\n",
			items: []want{ok(`{}`)}},
		{name: "item one over raw cap", lim: small, body: "{" + strings.Repeat(" ", 63) + "}",
			items: []want{bad(ErrItemTooLarge, "line 1")}},
		{name: "items at MaxItems", lim: Limits{MaxItems: 2}, body: "{}\n{}\n\n",
			items: []want{ok(`{}`), ok(`{}`)}},
		{name: "items over MaxItems ndjson", lim: Limits{MaxItems: 2}, body: "{}\n{}\n{}\n",
			err: ErrTooLarge, errMsg: "more than 2 items"},
		{name: "items over MaxItems array", lim: Limits{MaxItems: 2}, body: "[{},1,{}]",
			err: ErrTooLarge, errMsg: "more than 2 items"},
		{name: "body at MaxBodyBytes", lim: Limits{MaxBodyBytes: 10}, body: `[{"a":12}]`,
			items: []want{ok(`{"a":12}`)}},
		{name: "body over MaxBodyBytes", lim: Limits{MaxBodyBytes: 10}, body: `[{"a":123}]`,
			err: ErrTooLarge, errMsg: "body exceeds 10 bytes"},
		{name: "gzip over MaxBodyBytes", lim: Limits{MaxBodyBytes: 20}, gzip: true, encoding: "gzip",
			body: `[{"a":1}]`, err: ErrTooLarge, errMsg: "body exceeds 20 bytes"},
		{name: "gzip over MaxDecodedBytes", lim: Limits{MaxDecodedBytes: 100}, gzip: true, encoding: "gzip",
			body: "[" + strings.Repeat(" ", 100) + "{}]", err: ErrTooLarge, errMsg: "body exceeds 100 bytes after decompression"},
		{name: "plain over MaxDecodedBytes", lim: Limits{MaxDecodedBytes: 10}, body: `[{"a":123}]`,
			err: ErrTooLarge, errMsg: "after decompression"},

		{name: "gzip array", gzip: true, encoding: "gzip", body: `[{"a":1},{"b":2}]`, items: []want{ok(`{"a":1}`), ok(`{"b":2}`)}},
		{name: "gzip ndjson", gzip: true, encoding: "gzip", body: "{\"a\":1}\n{\"b\":2}\n", items: []want{ok(`{"a":1}`), ok(`{"b":2}`)}},
		{name: "gzip upper case", gzip: true, encoding: " GZIP ", body: "{}", items: []want{ok(`{}`)}},
		{name: "x-gzip", gzip: true, encoding: "x-gzip", body: "{}", items: []want{ok(`{}`)}},
		{name: "gzip with identity", gzip: true, encoding: "identity, gzip", body: "{}", items: []want{ok(`{}`)}},
		{name: "gzip sniffed", gzip: true, encoding: "", body: "[{}]", items: []want{ok(`{}`)}},
		{name: "gzip sniffed identity", gzip: true, encoding: "identity", body: "[{}]", items: []want{ok(`{}`)}},
		{name: "gzip mixed bad lines", gzip: true, body: "{}\n{\n", items: []want{ok(`{}`), bad(ErrInvalidJSON, "line 2")}},

		{name: "empty", body: "", err: ErrMalformed, errMsg: "empty body"},
		{name: "whitespace only", body: " \r\n\t\n", err: ErrMalformed, errMsg: "empty body"},
		{name: "bom only", body: "\uFEFF", err: ErrMalformed, errMsg: "empty body"},
		{name: "empty gzip body", encoding: "gzip", body: "", err: ErrMalformed, errMsg: "empty body"},
		{name: "gzip of nothing", gzip: true, encoding: "gzip", body: "", err: ErrMalformed, errMsg: "empty body"},
		{name: "empty array", body: " [ ] ", err: ErrMalformed, errMsg: "no items"},
		{name: "not json", body: "hello", err: ErrMalformed, errMsg: "neither a JSON array nor"},
		{name: "zeros", body: "\x00\x00\x00", err: ErrMalformed, errMsg: "neither"},
		{name: "array unterminated", body: `[{"a":1}`, err: ErrMalformed, errMsg: "before the array's closing"},
		{name: "array element cut", body: `[{"a":1},{"b":`, err: ErrMalformed, errMsg: "inside item 1"},
		{name: "array string cut", body: `[{"a":"]}`, err: ErrMalformed, errMsg: "inside item 0"},
		{name: "array missing comma", body: `[{} {}]`, err: ErrMalformed, errMsg: "expected ',' or ']' after item 0"},
		{name: "array trailing comma", body: `[{},]`, err: ErrMalformed, errMsg: "expected an item after item 0"},
		{name: "array double comma", body: `[{},,{}]`, err: ErrMalformed, errMsg: "expected an item"},
		{name: "array leading comma", body: `[,{}]`, err: ErrMalformed, errMsg: "found ','"},
		{name: "array trailing data", body: `[{}] {}`, err: ErrMalformed, errMsg: "data after the array"},
		{name: "two arrays", body: `[{}][{}]`, err: ErrMalformed, errMsg: "data after the array"},
		{name: "not gzip", encoding: "gzip", body: `[{}]`, err: ErrMalformed, errMsg: "body is not gzip data"},
		{name: "not gzip one byte", encoding: "gzip", body: `x`, err: ErrMalformed, errMsg: "invalid gzip data: truncated"},
		{name: "unsupported br", encoding: "br", body: `[{}]`, err: ErrUnsupportedEncoding, errMsg: `"br"`},
		{name: "unsupported deflate", encoding: "deflate", body: `[{}]`, err: ErrUnsupportedEncoding},
		{name: "gzip twice", encoding: "gzip, gzip", body: `[{}]`, err: ErrUnsupportedEncoding},
	}
	bufs := new(Buffers) // reused from case to case
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.gzip {
				body = testkit.Gzip(tt.body)
			}
			items, err := Decode(bytes.NewReader(body), tt.encoding, tt.lim)
			checkLines(t, items, err, body, tt.encoding, tt.lim, bufs)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(fmt.Sprint(err), tt.errMsg) || items != nil {
					t.Fatalf("Decode = %d items, %v; want error %v containing %q", len(items), err, tt.err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkItems(t, items, tt.items)
			checkInvariants(t, items, tt.lim.WithDefaults())
		})
	}
}

// checkInvariants checks what Decode promises of every item.
func checkInvariants(t testing.TB, items []Item, lim Limits) {
	t.Helper()
	if len(items) == 0 || len(items) > lim.MaxItems {
		t.Fatalf("%d items, limit %d", len(items), lim.MaxItems)
	}
	var buf bytes.Buffer
	for i, it := range items {
		if (it.Raw == nil) == (it.Err == nil) {
			t.Fatalf("item %d: Raw %q and Err %v", i, it.Raw, it.Err)
		}
		if it.Err != nil {
			if !errors.Is(it.Err, ErrInvalidJSON) && !errors.Is(it.Err, ErrNotObject) && !errors.Is(it.Err, ErrItemTooLarge) {
				t.Fatalf("item %d: error %v wraps no item sentinel", i, it.Err)
			}
			continue
		}
		buf.Reset()
		if err := json.Compact(&buf, it.Raw); err != nil || !bytes.Equal(buf.Bytes(), it.Raw) {
			t.Fatalf("item %d: %q is not compact JSON (%v)", i, it.Raw, err)
		}
		if it.Raw[0] != '{' || !utf8.Valid(it.Raw) || len(it.Raw) > lim.MaxItemBytes || cap(it.Raw) != len(it.Raw) {
			t.Fatalf("item %d: %q breaks an invariant", i, it.Raw)
		}
	}
}

func TestDecodeGzipErrors(t *testing.T) {
	full := testkit.Gzip(`[{"a":1},{"b":2}]`)
	corrupt := bytes.Clone(full)
	corrupt[len(corrupt)-6] ^= 0xff // CRC-32 in the trailer
	member := testkit.Gzip("{\"a\":1}\n")
	tests := []struct {
		name string
		body []byte
		err  error
		msg  string
	}{
		{"truncated", full[:len(full)-4], ErrMalformed, "invalid gzip data: truncated"},
		{"truncated in data", full[:15], ErrMalformed, ""},
		{"bad checksum", corrupt, ErrMalformed, "invalid gzip data"},
		{"garbage after member", append(bytes.Clone(full), "junk"...), ErrMalformed, "invalid gzip data"},
		{"long garbage after member", append(bytes.Clone(full), "junk after the gzip member"...), ErrMalformed, "invalid gzip data"},
		{"header only", full[:10], ErrMalformed, ""},
		{"two members", append(bytes.Clone(member), member...), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Decode(bytes.NewReader(tt.body), "gzip", Limits{})
			if tt.err == nil {
				if err != nil || len(items) != 2 {
					t.Fatalf("Decode = %d items, %v", len(items), err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Decode err = %v, want %v containing %q", err, tt.err, tt.msg)
			}
		})
	}
}

func TestDecodeReadError(t *testing.T) {
	boom := errors.New("connection reset")
	for _, enc := range []string{"", "gzip"} {
		body := []byte("{\"a\":1}\n{\"b\":2}\n")
		if enc == "gzip" {
			body = testkit.Gzip(body)
		}
		r := io.MultiReader(bytes.NewReader(body[:len(body)/2]), iotest.ErrReader(boom))
		_, err := Decode(r, enc, Limits{})
		if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) {
			t.Errorf("encoding %q: err = %v, want the read error only", enc, err)
		}
	}
}

// TestDecodeOneByteReads feeds the body a byte at a time, so that every
// element and line crosses buffer refills.
func TestDecodeOneByteReads(t *testing.T) {
	var arr, nd strings.Builder
	arr.WriteString("[\n")
	for i := range 500 {
		if i > 0 {
			arr.WriteString(",\n")
		}
		fmt.Fprintf(&arr, `  { "i" : %d, "s" : "%s\"]}" }`, i, strings.Repeat("x", i*7))
		fmt.Fprintf(&nd, "{ \"i\" : %d, \"s\" : \"%s\\\"]}\" }\r\n", i, strings.Repeat("x", i*7))
	}
	arr.WriteString("\n]")
	for name, body := range map[string]string{"array": arr.String(), "ndjson": nd.String()} {
		t.Run(name, func(t *testing.T) {
			items, err := Decode(iotest.OneByteReader(strings.NewReader(body)), "", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 500 {
				t.Fatalf("%d items", len(items))
			}
			for i, it := range items {
				want := fmt.Sprintf(`{"i":%d,"s":"%s\"]}"}`, i, strings.Repeat("x", i*7))
				if string(it.Raw) != want {
					t.Fatalf("item %d = %.80q..., %v", i, it.Raw, it.Err)
				}
			}
		})
	}
}

// TestDecodeItemsIndependent checks that Raw slices do not alias: appending
// to one must not change the next.
func TestDecodeItemsIndependent(t *testing.T) {
	items, err := Decode(strings.NewReader("{\"a\":1}\n{\"b\":2}\n"), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_ = append(items[0].Raw, "XXXXXXXX"...)
	if string(items[1].Raw) != `{"b":2}` {
		t.Fatalf("item 1 changed to %q", items[1].Raw)
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	got := Limits{}.WithDefaults()
	want := Limits{MaxBodyBytes: 64 << 20, MaxDecodedBytes: 128 << 20, MaxItems: 64000, MaxItemBytes: 64 << 10}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	got = Limits{MaxBodyBytes: 1 << 20, MaxItems: -1}.WithDefaults()
	if got.MaxDecodedBytes != 2<<20 || got.MaxItems != DefaultMaxItems {
		t.Fatalf("derived defaults = %+v", got)
	}
	if got := (Limits{MaxBodyBytes: 1 << 62}).WithDefaults().MaxDecodedBytes; got != 1<<62 {
		t.Fatalf("overflowing default = %d", got)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB",
		64 << 20: "64 MiB", 1 << 30: "1 GiB", 100_000_000: "95.4 MiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestDecodeCharged: the charge function sees every decompressed byte and
// ItemOverhead per item, and an error from it stops the decode and is
// returned wrapped.
func TestDecodeCharged(t *testing.T) {
	items := []string{`{"a":1}`, `{"b":[1,2,3]}`, `{"c":"x"}`}
	nd := strings.Join(items, "\n") + "\n"
	arr := "[ " + strings.Join(items, " , ") + " ]"
	errBudget := errors.New("over budget")
	for _, tt := range []struct {
		name, body, enc string
		decoded         int64
		stopAfter       int64 // charge fails once more than this is charged; 0: never
	}{
		{"ndjson", nd, "", int64(len(nd)), 0},
		{"array gzip", string(testkit.Gzip(arr)), "gzip", int64(len(arr)), 0},
		{"ndjson stopped", nd, "", int64(len(nd)), 10},
		{"array gzip stopped", string(testkit.Gzip(arr)), "gzip", int64(len(arr)), int64(len(arr)) + ItemOverhead},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var charged int64
			calls := 0
			charge := func(n int64) error {
				calls++
				if tt.stopAfter > 0 && charged+n > tt.stopAfter {
					return errBudget
				}
				charged += n
				return nil
			}
			got, err := DecodeCharged(strings.NewReader(tt.body), tt.enc, Limits{}, charge)
			if tt.stopAfter > 0 {
				if !errors.Is(err, errBudget) || got != nil {
					t.Fatalf("DecodeCharged = %d items, %v; want the charge's error", len(got), err)
				}
				if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) {
					t.Fatalf("error %v is classified as a body error", err)
				}
				return
			}
			if err != nil || len(got) != len(items) {
				t.Fatalf("DecodeCharged = %d items, %v", len(got), err)
			}
			if want := tt.decoded + int64(len(items))*ItemOverhead; charged != want {
				t.Fatalf("charged %d bytes in %d calls, want %d (decoded bytes + ItemOverhead per item)", charged, calls, want)
			}
		})
	}
}

// TestBuffersReuseItemMemory checks that a Buffers hands the memory of
// one decode's items to the next: a second decode of a body of typical
// size allocates next to nothing, and returns the same items as a fresh
// decode.
func TestBuffersReuseItemMemory(t *testing.T) {
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, `{"name":"Microsoft.ApplicationInsights.Request","time":"2026-12-07T00:00:00Z","iKey":"k","data":{"baseType":"RequestData","baseData":{"ver":2,"id":"%04d","name":"GET /x","duration":"00:00:00.001","responseCode":"200","success":true,"properties":{"a":"%s"}}}}`+"\n", i, strings.Repeat("v", 500))
	}
	body := testkit.Gzip(sb.String())
	want, err := DecodeLines(bytes.NewReader(body), "gzip", Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bufs := new(Buffers)
	if _, err := bufs.DecodeLines(bytes.NewReader(body), "gzip", Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	var got []Item
	allocs := testing.AllocsPerRun(5, func() {
		got, err = bufs.DecodeLines(bytes.NewReader(body), "gzip", Limits{}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d items, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Raw, want[i].Raw) || got[i].Err != nil {
			t.Fatalf("item %d: %q, %v; want %q", i, got[i].Raw, got[i].Err, want[i].Raw)
		}
	}
	// The readers and their limits; not the items' arenas (about 25 of
	// them for this body) nor their slice.
	if allocs > 10 {
		t.Errorf("a decode with reused Buffers allocates %v times, want at most 10", allocs)
	}
}

// TestBuffersKeepNoOtherMemory checks that a Buffers holds no more of
// earlier decodes than Retained reports: the items of a large body must
// not keep its arenas (those past what Buffers keeps) reachable once a
// later, smaller decode has run, since a server charges a pooled Buffers
// only its Retained memory.
func TestBuffersKeepNoOtherMemory(t *testing.T) {
	var big strings.Builder
	for range 400 { // 400 items of 50 KB: 20 MB of arenas, few enough items for the Item slice to be kept
		fmt.Fprintf(&big, `{"a":"%s"}`+"\n", strings.Repeat("x", 50_000))
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	bufs := new(Buffers)
	if _, err := bufs.DecodeLines(strings.NewReader(`{"a":1}`+"\n"), "", Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	body := big.String()
	base := heap()
	items, err := bufs.DecodeLines(strings.NewReader(body), "", Limits{}, nil)
	if err != nil || len(items) != 400 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	if _, err := bufs.DecodeLines(strings.NewReader(`{"a":1}`+"\n"), "", Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	held := heap() - base
	if limit := bufs.Retained() + 4<<20; held > limit {
		t.Errorf("Buffers holds %d bytes after a small decode that followed a 20 MB one; Retained reports %d", held, bufs.Retained())
	}
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(body)
}
