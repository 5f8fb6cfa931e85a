package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// TestBodyForms posts every body form to every track path over loopback
// HTTP and checks the answer and the spool.
func TestBodyForms(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp})
	srv := startHTTP(t, h)
	items := envs("form", 3)
	pretty := "[\n  " + strings.Join(items, ",\n  ") + "\n]\n"
	forms := []struct {
		name, body string
		gzip       bool
		hdr        map[string]string
	}{
		{"array plain", string(testkit.JSONArray(items...)), false, map[string]string{"Content-Type": "application/json"}},
		{"array pretty", pretty, false, nil},
		{"array gzip", string(testkit.JSONArray(items...)), true, map[string]string{"Content-Encoding": "gzip"}},
		{"ndjson plain", string(testkit.NDJSON(items...)), false, map[string]string{"Content-Type": "application/x-json-stream"}},
		{"ndjson crlf", strings.Join(items, "\r\n") + "\r\n\r\n", false, nil},
		{"ndjson gzip", string(testkit.NDJSON(items...)), true, map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-json-stream"}},
		{"ndjson gzip sniffed", string(testkit.NDJSON(items...)), true, map[string]string{"Content-Type": "text/plain"}},
	}
	for _, path := range []string{"/v2/track", "/v2.1/track", "//v2.1/track", "//v2/track?x=1"} {
		for _, f := range forms {
			t.Run(path+" "+f.name, func(t *testing.T) {
				body := []byte(f.body)
				if f.gzip {
					body = testkit.Gzip(f.body)
				}
				r := post(t, srv.Client(), srv.URL+path, bytes.NewReader(body), f.hdr)
				want := `{"itemsReceived":3,"itemsAccepted":3,"errors":[]}` + "\n"
				if r.Status != http.StatusOK || r.Raw != want {
					t.Fatalf("answer %d %q, want 200 %q", r.Status, r.Raw, want)
				}
				if got := drain(t, sp); !slices.Equal(got, records(items)) {
					t.Fatalf("spool holds %q, want %q", got, records(items))
				}
			})
		}
	}
}

// TestNodeSample accepts the request captured from the Node.js exporter,
// with its headers, over HTTPS (the exporter only speaks TLS).
func TestNodeSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/node-exporter-v2.1-track.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Request struct {
			Method, Path string
			Headers      map[string]string
		}
		Body json.RawMessage
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(sample.Body, &elems); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(elems))
	for i, e := range elems {
		var b bytes.Buffer
		if err := json.Compact(&b, e); err != nil {
			t.Fatal(err)
		}
		want[i] = b.String() + "\n"
	}
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp})
	for _, h2 := range []bool{false, true} {
		base, client := startHTTPS(t, h, h2)
		req, err := http.NewRequest(sample.Request.Method, base+sample.Request.Path, bytes.NewReader(sample.Body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range sample.Request.Headers {
			req.Header.Set(k, v)
		}
		r := do(t, client, req)
		if r.Status != http.StatusOK || r.Body.ItemsReceived != len(elems) || r.Body.ItemsAccepted != len(elems) {
			t.Fatalf("h2=%v: answer %d %s, want 200 with %d items", h2, r.Status, r.Raw, len(elems))
		}
		if got := drain(t, sp); !slices.Equal(got, want) {
			t.Fatalf("h2=%v: spool holds %q, want %q", h2, got, want)
		}
	}
}

// TestErrorAnswers checks every whole-request error answer, that none
// stores anything, and that each says why in its message.
func TestErrorAnswers(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp, Limits: breeze.Limits{MaxBodyBytes: 4096, MaxDecodedBytes: 8192, MaxItems: 10}})
	srv := startHTTP(t, h)
	good := string(testkit.JSONArray(envs("err", 2)...))
	tests := []struct {
		name, method, path string
		body               []byte
		hdr                map[string]string
		status             int
		allow              string
		message            string // substring of the answer's message
	}{
		{"unknown path", "POST", "/v2/track/x", []byte(good), nil, 404, "", `unknown path "/v2/track/x"`},
		{"root", "POST", "/", []byte(good), nil, 404, "", "post telemetry to /v2.1/track"},
		{"no version", "POST", "/track", []byte(good), nil, 404, "", `unknown path "/track"`},
		{"other version", "POST", "/v2.2/track", []byte(good), nil, 404, "", `unknown path "/v2.2/track"`},
		{"trailing slash", "POST", "/v2.1/track/", []byte(good), nil, 404, "", `unknown path "/v2.1/track/"`},
		{"relative", "GET", "/v2.1/trackx", nil, nil, 404, "", "unknown path"},
		{"GET", "GET", "/v2.1/track", nil, nil, 405, "POST", "method GET not allowed: use POST"},
		{"PUT", "PUT", "/v2/track", []byte(good), nil, 405, "POST", "method PUT not allowed"},
		{"OPTIONS", "OPTIONS", "//v2.1/track", nil, nil, 405, "POST", "method OPTIONS not allowed"},
		{"empty body", "POST", "/v2.1/track", nil, nil, 400, "", "empty body"},
		{"empty array", "POST", "/v2.1/track", []byte("[]"), nil, 400, "", "no items"},
		{"not json", "POST", "/v2.1/track", []byte("hello"), nil, 400, "", "neither a JSON array nor newline-delimited JSON"},
		{"broken array", "POST", "/v2.1/track", []byte(good[:len(good)-1]), nil, 400, "", "body ends"},
		{"array trailing data", "POST", "/v2.1/track", []byte(good + "{}"), nil, 400, "", "data after the array's closing ']'"},
		{"bad gzip", "POST", "/v2.1/track", []byte(good), map[string]string{"Content-Encoding": "gzip"}, 400, "", "not gzip data"},
		{"truncated gzip", "POST", "/v2.1/track", testkit.Gzip(good)[:40], map[string]string{"Content-Encoding": "gzip"}, 400, "", "invalid gzip data"},
		{"body over limit", "POST", "/v2.1/track", []byte("[" + strings.Repeat(" ", 5000) + good[1:]), nil, 413, "", "Content-Length 5"},
		{"decoded over limit", "POST", "/v2.1/track", testkit.Gzip("[" + strings.Repeat(" ", 9000) + good[1:]),
			map[string]string{"Content-Encoding": "gzip"}, 413, "", "after decompression"},
		{"too many items", "POST", "/v2.1/track", []byte(strings.Repeat("{}\n", 11)), nil, 413, "", "more than 10 items"},
		{"brotli", "POST", "/v2.1/track", []byte(good), map[string]string{"Content-Encoding": "br"}, 415, "", `"br" (only gzip and identity are supported)`},
		{"deflate", "POST", "/v2.1/track", []byte(good), map[string]string{"Content-Encoding": "deflate"}, 415, "", `"deflate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			r := do(t, srv.Client(), req)
			if r.Status != tt.status || r.Allow != tt.allow {
				t.Fatalf("answer %d (Allow %q) %s, want %d (Allow %q)", r.Status, r.Allow, r.Raw, tt.status, tt.allow)
			}
			if r.Body.ItemsAccepted != 0 || len(r.Body.Errors) != 0 || r.RetryAfter != "" {
				t.Fatalf("answer %s: a whole-request error must accept and list nothing", r.Raw)
			}
			if !strings.Contains(r.Body.Message, tt.message) {
				t.Fatalf("answer %s: message lacks %q", r.Raw, tt.message)
			}
			if got := drain(t, sp); len(got) != 0 {
				t.Fatalf("spool holds %d records", len(got))
			}
		})
	}
	st := h.Stats()
	if st.Requests[404] != 6 || st.Requests[405] != 3 || st.Requests[400] != 7 || st.Requests[413] != 3 || st.Requests[415] != 2 {
		t.Errorf("requests by status = %v", st.Requests)
	}
	if st.ItemsAccepted != 0 || st.StoredBytes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestAnswerMessages: successes carry no message; a 400 listing items and
// a 503 say why in theirs, and 200/206 answers are exactly the service's
// TrackResponse.
func TestAnswerMessages(t *testing.T) {
	srv := startHTTP(t, newHandler(t, Config{}))
	good := envs("msg", 2)
	r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(good...)), nil)
	if r.Status != 200 || strings.Contains(r.Raw, "message") {
		t.Fatalf("200 answer %d %s carries a message", r.Status, r.Raw)
	}
	r = post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(good[0], "{x}")), nil)
	if r.Status != 206 || r.Body.Message != "" {
		t.Fatalf("206 answer %d %s", r.Status, r.Raw)
	}
	r = post(t, srv.Client(), srv.URL+"/v2.1/track", strings.NewReader("{x}\n[1]\n"), nil)
	if r.Status != 400 || len(r.Body.Errors) != 2 || !strings.Contains(r.Body.Message, "no item is valid") {
		t.Fatalf("400 answer %d %s", r.Status, r.Raw)
	}
	down := startHTTP(t, newHandler(t, Config{Spool: &fakeAppender{err: func(int, [][]byte) error { return spool.ErrFull }}}))
	r = post(t, down.Client(), down.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(good...)), nil)
	if r.Status != 503 || r.RetryAfter == "" || !strings.Contains(r.Body.Message, "spool could not take the items") ||
		!strings.Contains(r.Body.Message, spool.ErrFull.Error()) {
		t.Fatalf("503 answer %d %s", r.Status, r.Raw)
	}
}

// TestUnsupportedEncodingHeader checks that a 415 says what is supported.
func TestUnsupportedEncodingHeader(t *testing.T) {
	srv := startHTTP(t, newHandler(t, Config{}))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2.1/track", strings.NewReader("x"))
	req.Header.Set("Content-Encoding", "zstd")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 || resp.Header.Get("Accept-Encoding") != "gzip" {
		t.Fatalf("answer %d, Accept-Encoding %q", resp.StatusCode, resp.Header.Get("Accept-Encoding"))
	}
}

// TestPartial mixes valid items with every kind of invalid one: the answer
// is 206 listing the bad ones, and exactly the good ones are stored.
func TestPartial(t *testing.T) {
	good := envs("partial", 3)
	noName := strings.Replace(good[0], `"name":"Microsoft.ApplicationInsights.Message",`, "", 1)
	noMessage := strings.Replace(good[0], `"message":"partial-0",`, "", 1)
	big := env(strings.Repeat("x", 70<<10))
	lines := []string{
		good[0],           // 0
		"{not json",       // 1
		noName,            // 2
		"[1,2]",           // 3
		good[1],           // 4
		noMessage,         // 5
		big,               // 6
		`{"name":"x"}`,    // 7
		good[2],           // 8
		`"just a string"`, // 9
	}
	wantErrs := map[int]string{
		1: "line 2: invalid JSON",
		2: "envelope: name: required field missing or empty",
		3: "line 4: not a JSON object",
		5: "envelope: data.baseData.message: required field missing or empty",
		6: "line 7: item too large",
		7: "envelope: time",
		9: "not a JSON object",
	}
	for _, gz := range []bool{false, true} {
		sp := openSpool(t, nil)
		h := newHandler(t, Config{Spool: sp})
		srv := startHTTP(t, h)
		body := testkit.NDJSON(lines...)
		hdr := map[string]string{}
		if gz {
			body, hdr["Content-Encoding"] = testkit.Gzip(body), "gzip"
		}
		r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(body), hdr)
		if r.Status != http.StatusPartialContent || r.Body.ItemsReceived != 10 || r.Body.ItemsAccepted != 3 {
			t.Fatalf("answer %d %s, want 206 10/3", r.Status, r.Raw)
		}
		if len(r.Body.Errors) != len(wantErrs) {
			t.Fatalf("errors %+v, want %d", r.Body.Errors, len(wantErrs))
		}
		for i, e := range r.Body.Errors {
			if i > 0 && e.Index <= r.Body.Errors[i-1].Index {
				t.Errorf("errors not sorted by index: %+v", r.Body.Errors)
			}
			if e.StatusCode != 400 || !strings.Contains(e.Message, wantErrs[e.Index]) || wantErrs[e.Index] == "" {
				t.Errorf("error %+v, want index in %v", e, wantErrs)
			}
		}
		if got := drain(t, sp); !slices.Equal(got, records(good)) {
			t.Fatalf("spool holds %q, want the 3 good items", got)
		}
		st := h.Stats()
		if st.ItemsReceived != 10 || st.ItemsAccepted != 3 || st.ItemsRejected != 7 || st.Requests[206] != 1 {
			t.Errorf("stats %+v", st)
		}
		if st.BodyBytes != uint64(len(body)) || st.StoredBytes != uint64(len(strings.Join(records(good), ""))) {
			t.Errorf("bytes: body %d (sent %d), stored %d", st.BodyBytes, len(body), st.StoredBytes)
		}
	}
}

// TestArrayPartial checks indexes in an array body.
func TestArrayPartial(t *testing.T) {
	sp := openSpool(t, nil)
	srv := startHTTP(t, newHandler(t, Config{Spool: sp}))
	good := envs("arr", 2)
	body := "[" + good[0] + `, 42, {"a":tru}, ` + good[1] + "]"
	r := post(t, srv.Client(), srv.URL+"/v2/track", strings.NewReader(body), nil)
	if r.Status != 206 || len(r.Body.Errors) != 2 || r.Body.Errors[0].Index != 1 || r.Body.Errors[1].Index != 2 {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
	if got := drain(t, sp); !slices.Equal(got, records(good)) {
		t.Fatalf("spool holds %q", got)
	}
}

// TestAllInvalid: no valid item is a 400 listing every item, nothing stored.
func TestAllInvalid(t *testing.T) {
	sp := openSpool(t, nil)
	srv := startHTTP(t, newHandler(t, Config{Spool: sp}))
	r := post(t, srv.Client(), srv.URL+"/v2.1/track", strings.NewReader("{}\n{\"name\":1}\nx\n"), nil)
	if r.Status != 400 || r.Body.ItemsReceived != 3 || r.Body.ItemsAccepted != 0 || len(r.Body.Errors) != 3 {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
	for i, e := range r.Body.Errors {
		if e.Index != i || e.StatusCode != 400 || e.Message == "" {
			t.Errorf("error %d = %+v", i, e)
		}
	}
	if got := drain(t, sp); len(got) != 0 {
		t.Fatalf("spool holds %q", got)
	}
}

// TestInvalidUTF8 stores an item with invalid UTF-8 with U+FFFD in place of
// the bad bytes.
func TestInvalidUTF8(t *testing.T) {
	sp := openSpool(t, nil)
	srv := startHTTP(t, newHandler(t, Config{Spool: sp}))
	body := strings.Replace(env("bad MARK byte"), "MARK", "\xff\xfe", 1)
	r := post(t, srv.Client(), srv.URL+"/v2.1/track", strings.NewReader(body), nil)
	if r.Status != 200 {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
	want := strings.Replace(env("bad MARK byte"), "MARK", "\uFFFD", 1) + "\n"
	if got := drain(t, sp); len(got) != 1 || got[0] != want {
		t.Fatalf("spool holds %q, want %q", got, want)
	}
}

// TestSpoolFailure: whenever the spool cannot take a request, the answer is
// 503 with Retry-After, nothing is acknowledged, and the spool is
// unchanged.
func TestSpoolFailure(t *testing.T) {
	items := envs("fail", 5)
	body := string(testkit.NDJSON(items...))
	tests := []struct {
		name  string
		setup func(t *testing.T, sp *spool.Spool) Appender
	}{
		{"full", func(t *testing.T, sp *spool.Spool) Appender {
			return &fakeAppender{next: sp, err: func(int, [][]byte) error { return fmt.Errorf("spool: %w", spool.ErrFull) }}
		}},
		{"disk error", func(t *testing.T, sp *spool.Spool) Appender {
			return &fakeAppender{next: sp, err: func(int, [][]byte) error { return errors.New("write seg: no space left on device") }}
		}},
		{"timeout", func(t *testing.T, sp *spool.Spool) Appender {
			return &fakeAppender{block: true}
		}},
		{"closed", func(t *testing.T, sp *spool.Spool) Appender {
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			return sp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := openSpool(t, nil)
			if err := sp.Append(context.Background(), []byte("before\n")); err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, Config{Spool: tt.setup(t, sp), RetryAfter: 2500 * time.Millisecond, AppendTimeout: 200 * time.Millisecond})
			srv := startHTTP(t, h)
			r := post(t, srv.Client(), srv.URL+"/v2.1/track", strings.NewReader(body), nil)
			if r.Status != 503 || r.RetryAfter != "3" || r.Body.ItemsAccepted != 0 || len(r.Body.Errors) != 0 {
				t.Fatalf("answer %d (Retry-After %q) %s, want 503 with Retry-After 3 accepting nothing", r.Status, r.RetryAfter, r.Raw)
			}
			st := h.Stats()
			if st.ItemsAccepted != 0 || st.ItemsRefused != 5 || st.Requests[503] != 1 {
				t.Errorf("stats %+v", st)
			}
			if tt.name == "closed" {
				return
			}
			if got := drain(t, sp); !slices.Equal(got, []string{"before\n"}) {
				t.Fatalf("spool holds %q, want only the record from before", got)
			}
		})
	}
}

// TestSpoolRejectNew fills a real spool under the reject-new policy: the
// request that does not fit is answered 503 and the spool keeps exactly what
// was acknowledged before.
func TestSpoolRejectNew(t *testing.T) {
	sp := openSpool(t, &spool.Options{MaxBytes: 1 << 20, SegmentMaxBytes: 256 << 10, Policy: spool.RejectNew})
	h := newHandler(t, Config{Spool: sp})
	srv := startHTTP(t, h)
	var acked []string
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("the spool never filled up")
		}
		items := envs(fmt.Sprintf("fill%d-%s", i, strings.Repeat("p", 4000)), 20)
		r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(items...)), nil)
		if r.Status == 503 {
			if r.RetryAfter != "10" || r.Body.ItemsAccepted != 0 {
				t.Fatalf("answer %s, Retry-After %q", r.Raw, r.RetryAfter)
			}
			break
		}
		if r.Status != 200 {
			t.Fatalf("answer %d %s", r.Status, r.Raw)
		}
		acked = append(acked, records(items)...)
	}
	if got := drain(t, sp); !slices.Equal(got, acked) {
		t.Fatalf("spool holds %d records, acknowledged %d", len(got), len(acked))
	}
}

// TestRecordTooLargeForSpool: an item the spool refuses on its own is a
// per-item error; the rest of the request is stored.
func TestRecordTooLargeForSpool(t *testing.T) {
	sp := openSpool(t, &spool.Options{MaxRecordBytes: 1024})
	srv := startHTTP(t, newHandler(t, Config{Spool: sp}))
	small := envs("small", 2)
	big := env(strings.Repeat("b", 2000))
	r := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(testkit.NDJSON(small[0], big, small[1], big)), nil)
	if r.Status != 206 || r.Body.ItemsAccepted != 2 || len(r.Body.Errors) != 2 ||
		r.Body.Errors[0].Index != 1 || r.Body.Errors[1].Index != 3 || !strings.Contains(r.Body.Errors[0].Message, "refused by the spool") {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
	if got := drain(t, sp); !slices.Equal(got, records(small)) {
		t.Fatalf("spool holds %q", got)
	}
	// Only too-large items: nothing accepted is a 400.
	r = post(t, srv.Client(), srv.URL+"/v2.1/track", strings.NewReader(big), nil)
	if r.Status != 400 || r.Body.ItemsAccepted != 0 || len(r.Body.Errors) != 1 {
		t.Fatalf("answer %d %s", r.Status, r.Raw)
	}
}

// TestConcurrentClients: 8 clients × 50 requests, some refused by an
// injected spool failure. Every item acknowledged with 200 is in the spool
// exactly once, and nothing of a refused request is.
func TestConcurrentClients(t *testing.T) {
	const clients, requests, perRequest = 8, 50, 10
	sp := openSpool(t, nil)
	app := &fakeAppender{next: sp, err: func(call int, _ [][]byte) error {
		if call%7 == 0 {
			return spool.ErrFull
		}
		return nil
	}}
	h := newHandler(t, Config{Spool: app})
	srv := startHTTP(t, h)
	var (
		mu      sync.Mutex
		acked   = map[string]bool{}
		refused = map[string]bool{}
		wg      sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range requests {
				items := envs(fmt.Sprintf("c%d-r%d", c, r), perRequest)
				body, hdr := testkit.NDJSON(items...), map[string]string{}
				if r%2 == 0 {
					body, hdr["Content-Encoding"] = testkit.Gzip(testkit.JSONArray(items...)), "gzip"
				}
				resp := post(t, srv.Client(), srv.URL+"/v2.1/track", bytes.NewReader(body), hdr)
				mu.Lock()
				for _, it := range items {
					switch resp.Status {
					case 200:
						acked[it+"\n"] = true
					case 503:
						refused[it+"\n"] = true
					default:
						t.Errorf("answer %d %s", resp.Status, resp.Raw)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, rec := range drain(t, sp) {
		seen[rec]++
	}
	for it := range acked {
		if seen[it] != 1 {
			t.Fatalf("acknowledged item %q is in the spool %d times", it, seen[it])
		}
	}
	for it := range refused {
		if seen[it] != 0 {
			t.Fatalf("refused item %q is in the spool", it)
		}
	}
	if len(seen) != len(acked) || len(refused) == 0 {
		t.Fatalf("spool holds %d distinct items, acknowledged %d, refused %d", len(seen), len(acked), len(refused))
	}
	st := h.Stats()
	if st.ItemsAccepted != uint64(len(acked)) || st.ItemsRefused != uint64(len(refused)) ||
		st.Requests[200]+st.Requests[503] != clients*requests {
		t.Errorf("stats %+v; acked %d refused %d", st, len(acked), len(refused))
	}
}

func TestNewConfig(t *testing.T) {
	sp := &fakeAppender{}
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no spool", Config{}, "Spool is nil"},
		{"negative limit", Config{Spool: sp, Limits: breeze.Limits{MaxItems: -1}}, "negative value"},
		{"negative retry", Config{Spool: sp, RetryAfter: -time.Second}, "RetryAfter"},
		{"negative timeout", Config{Spool: sp, AppendTimeout: -time.Second}, "AppendTimeout"},
		{"defaults", Config{Spool: sp}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("New err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.retryAfter != "10" || h.appendTimeout != DefaultAppendTimeout || h.Limits() != (breeze.Limits{}).WithDefaults() {
				t.Fatalf("defaults: %+v", h)
			}
		})
	}
}

// TestServeLifecycle: ListenAndServe serves until its context ends, then
// returns nil; it reports a bad address or TLS setup.
func TestServeLifecycle(t *testing.T) {
	h := newHandler(t, Config{})
	if err := ListenAndServe(context.Background(), "256.0.0.1:0", "", "", h, quietLogger()); err == nil {
		t.Fatal("ListenAndServe on a bad address succeeded")
	}
	if err := ListenAndServe(context.Background(), "127.0.0.1:0", "cert.pem", "", h, quietLogger()); err == nil {
		t.Fatal("ListenAndServe with a certificate and no key succeeded")
	}
	if err := ListenAndServe(context.Background(), "127.0.0.1:0", "missing.pem", "missing.pem", h, quietLogger()); err == nil {
		t.Fatal("ListenAndServe with missing TLS files succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", "", "", h, quietLogger()) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not stop")
	}
}

// TestServeWaitsForAppend: a request in flight when Serve's context ends
// is answered once its append completes, not cut off.
func TestServeWaitsForAppend(t *testing.T) {
	sp := openSpool(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	app := &fakeAppender{next: sp, err: func(int, [][]byte) error {
		close(entered)
		<-release
		return nil
	}}
	h := newHandler(t, Config{Spool: app})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, "", "", h, quietLogger()) }()
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v2.1/track", "application/json", strings.NewReader(env("inflight")))
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	<-entered
	cancel()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	close(release)
	if r := <-res; r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: %d %v", r.status, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got := drain(t, sp); len(got) != 1 {
		t.Fatalf("spool holds %d records", len(got))
	}
}

// blockingAppender holds every Append until release is closed.
type blockingAppender struct {
	inside  chan struct{}
	release chan struct{}
}

func (a *blockingAppender) Append(ctx context.Context, _ ...[]byte) error {
	a.inside <- struct{}{}
	<-a.release
	return nil
}

func TestMaxConcurrentBoundsRequestsInProgress(t *testing.T) {
	app := &blockingAppender{inside: make(chan struct{}, 10), release: make(chan struct{})}
	h, err := New(Config{Spool: app, MaxConcurrent: 2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := startHTTP(t, h)
	body := `{"name":"Microsoft.ApplicationInsights.Event","time":"2026-01-01T00:00:00.0000000Z","iKey":"00000000-0000-0000-0000-000000000000","data":{"baseType":"EventData","baseData":{"ver":2,"name":"e"}}}`
	done := make(chan int, 4)
	for range 4 {
		go func() {
			resp, err := http.Post(srv.URL+"/v2.1/track", "application/json", strings.NewReader(body))
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	// Two requests reach the spool; the other two wait for a slot.
	for range 2 {
		<-app.inside
	}
	select {
	case <-app.inside:
		t.Fatal("a third request got past MaxConcurrent 2")
	case <-time.After(200 * time.Millisecond):
	}
	close(app.release)
	for range 4 {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
}
