package breeze

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze/breezetest"
)

// TestClassifyVectors checks the pure classification of every vector that
// is one response (redirects and transport errors are covered by
// TestResponseVectorsEndToEnd).
func TestClassifyVectors(t *testing.T) {
	for _, tc := range breezetest.Vectors(t) {
		t.Run(tc.Name, func(t *testing.T) {
			var v Verdict
			switch {
			case tc.TransportError != "":
				v = ClassifyError(tc.Items, errors.New(tc.TransportError))
			case tc.Status == 307:
				t.Skip("redirect: end to end only")
			default:
				h := http.Header{}
				for k, val := range tc.Headers {
					h.Set(k, val)
				}
				v = Classify(tc.Items, tc.Status, h, []byte(tc.ResponseBody()), breezetest.Epoch)
			}
			if got := breezetest.Sorted(v.Retry); !reflect.DeepEqual(got, breezetest.Sorted(tc.Keep)) {
				t.Errorf("keep = %v, want %v", got, tc.Keep)
			}
			if got := breezetest.Sorted(v.Acked(tc.Items)); !reflect.DeepEqual(got, breezetest.Sorted(tc.Ack)) {
				t.Errorf("ack = %v, want %v", got, tc.Ack)
			}
			if got := breezetest.DropByIndex(v.Drop); !reflect.DeepEqual(got, breezetest.NonNil(tc.Drop)) {
				t.Errorf("drop = %v, want %v", got, tc.Drop)
			}
			if v.Backoff != tc.Backoff {
				t.Errorf("backoff = %v, want %v", v.Backoff, tc.Backoff)
			}
			wantDelay := len(tc.RecordDelay) > 0
			if v.Delay != wantDelay {
				t.Errorf("record delay = %v, want %v", v.Delay, wantDelay)
			}
			if wantDelay && !reflect.DeepEqual(breezetest.Sorted(v.Retry), breezetest.Sorted(tc.RecordDelay)) {
				t.Errorf("delayed %v, want %v", v.Retry, tc.RecordDelay)
			}
			if tc.WaitMin != nil && v.RetryAfter < time.Duration(*tc.WaitMin*float64(time.Second)) {
				t.Errorf("RetryAfter = %v, want at least %vs", v.RetryAfter, *tc.WaitMin)
			}
			if tc.WaitMax != nil && v.RetryAfter > time.Duration(*tc.WaitMax*float64(time.Second)) {
				t.Errorf("RetryAfter = %v, want at most %vs", v.RetryAfter, *tc.WaitMax)
			}
			if tc.Status == 413 && !v.Split {
				t.Errorf("413 of %d items does not split", tc.Items)
			}
		})
	}
}

func TestClassifyMore(t *testing.T) {
	body := func(errs string) []byte {
		return []byte(`{"itemsReceived":4,"itemsAccepted":0,"errors":[` + errs + `]}`)
	}
	tests := []struct {
		name    string
		n       int
		status  int
		body    []byte
		keep    []int
		drop    map[string]string
		backoff bool
		split   bool
		flags   string // of Delay, Isolate, WrongEndpoint: "d", "i", "w"
	}{
		{"201 acks", 2, 201, []byte(`{"itemsReceived":2,"itemsAccepted":2}`), nil, nil, false, false, ""},
		{"200 without a body keeps all: not a track response", 2, 200, nil, []int{0, 1}, nil, true, false, "w"},
		{"200 with JSON that is not a track response keeps all", 2, 200, []byte(`{"status":"ok"}`), []int{0, 1}, nil, true, false, "w"},
		{"204 keeps all", 1, 204, nil, []int{0}, nil, true, false, "w"},
		{"206 empty errors acks all", 2, 206, body(""), nil, nil, false, false, ""},
		{"206 duplicate index: retriable wins", 4, 206, body(`{"index":1,"statusCode":400},{"index":1,"statusCode":503}`), []int{1}, nil, false, false, "d"},
		{"206 retriable with nothing accepted backs off", 2, 206, body(`{"index":0,"statusCode":429},{"index":1,"statusCode":400}`), []int{0}, map[string]string{"1": "status_400"}, true, false, ""},
		{"206 duplicate permanent: first code", 4, 206, body(`{"index":1,"statusCode":400},{"index":1,"statusCode":404}`), nil, map[string]string{"1": "status_400"}, false, false, ""},
		{"206 sampled out despite retriable code", 4, 206, body(`{"index":2,"statusCode":429,"message":"Telemetry Sampled Out."}`), nil, map[string]string{"2": "sampled_out"}, false, false, ""},
		{"206 entry without index ignored", 4, 206, body(`{"statusCode":500}`), nil, nil, false, false, ""},
		{"206 negative index ignored", 4, 206, body(`{"index":-1,"statusCode":500}`), nil, nil, false, false, ""},
		{"206 truncated JSON keeps all", 2, 206, []byte(`{"errors":[`), []int{0, 1}, nil, true, false, ""},
		{"400 with empty errors keeps all and isolates", 2, 400, body(""), []int{0, 1}, nil, true, false, "i"},
		{"401 keeps", 2, 401, nil, []int{0, 1}, nil, true, false, ""},
		{"413 single item drops", 1, 413, nil, nil, map[string]string{"0": "status_413"}, false, false, ""},
		{"413 splits", 3, 413, nil, []int{0, 1, 2}, nil, false, true, ""},
		{"405 keeps: wrong endpoint", 1, 405, nil, []int{0}, nil, true, false, "w"},
		{"404 keeps: wrong endpoint", 2, 404, []byte("<html>not found</html>"), []int{0, 1}, nil, true, false, "w"},
		{"403 keeps, no isolation", 1, 403, nil, []int{0}, nil, true, false, ""},
		{"429 keeps, no isolation", 1, 429, nil, []int{0}, nil, true, false, ""},
		{"501 keeps and isolates", 1, 501, nil, []int{0}, nil, true, false, "i"},
		{"302 keeps (unexpected)", 1, 302, nil, []int{0}, nil, true, false, ""},
		{"500 with errors keeps all", 2, 500, body(`{"index":0,"statusCode":400}`), []int{0, 1}, nil, true, false, "i"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Classify(tc.n, tc.status, http.Header{}, tc.body, breezetest.Epoch)
			if got := breezetest.Sorted(v.Retry); !reflect.DeepEqual(got, breezetest.Sorted(tc.keep)) {
				t.Errorf("keep = %v, want %v", got, tc.keep)
			}
			if got := breezetest.DropByIndex(v.Drop); !reflect.DeepEqual(got, breezetest.NonNil(tc.drop)) {
				t.Errorf("drop = %v, want %v", got, tc.drop)
			}
			if v.Backoff != tc.backoff || v.Split != tc.split {
				t.Errorf("backoff %v split %v, want %v %v", v.Backoff, v.Split, tc.backoff, tc.split)
			}
			flags := ""
			for _, f := range []struct {
				on bool
				c  string
			}{{v.Delay, "d"}, {v.Isolate, "i"}, {v.WrongEndpoint, "w"}} {
				if f.on {
					flags += f.c
				}
			}
			if flags != tc.flags {
				t.Errorf("flags %q, want %q", flags, tc.flags)
			}
		})
	}
}

// The service's Retry-After wins over isolation: a 503 that asks to wait is
// throttling, not a bad item.
func TestClassifyRetryAfterDoesNotIsolate(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "3")
	for _, status := range []int{400, 500, 503} {
		v := Classify(2, status, h, nil, breezetest.Epoch)
		if v.Isolate || !v.Backoff || v.RetryAfter != 3*time.Second {
			t.Errorf("%d with Retry-After: isolate %v backoff %v retry-after %v", status, v.Isolate, v.Backoff, v.RetryAfter)
		}
	}
	if v := ClassifyError(2, errors.New("no token")); v.Isolate || !v.Backoff {
		t.Errorf("failure before sending: isolate %v backoff %v", v.Isolate, v.Backoff)
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"0", 0, false},
		{"-5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"3600", time.Hour, true},
		{"3601", time.Hour, true},
		{"99999999999999999999", 0, false}, // overflows int64: unparsable
		{"999999", time.Hour, true},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 25-Nov-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Wed Nov 25 12:00:30 2026", 30 * time.Second, true},          // ANSI C
		{"Wed, 25 Nov 2026 11:00:00 GMT", 0, false},
		{"Wed, 25 Nov 2026 12:00:00 GMT", 0, false},
		{"Thu, 26 Nov 2026 12:00:00 GMT", time.Hour, true},
	}
	for _, tc := range tests {
		got, ok := ParseRetryAfter(tc.in, breezetest.Epoch)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStatusReason(t *testing.T) {
	if StatusReason(400) != "status_400" {
		t.Fatal(StatusReason(400))
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"itemsReceived":3,"itemsAccepted":1,"errors":[{"index":0,"statusCode":429,"message":"x"},{"index":2,"statusCode":400}]}`))
	f.Add([]byte(`{"itemsReceived":1,"itemsAccepted":1,"appId":null,"errors":[],"extra":{"x":1}}`))
	f.Add([]byte(`<html>oops</html>`))
	f.Add([]byte(`{"errors":[{"statusCode":500}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := DecodeResponse(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		// Classifying any decodable body for a small request must give a
		// consistent verdict: every index in range, none twice.
		for _, status := range []int{206, 400} {
			const n = 5
			v := Classify(n, status, http.Header{}, body, breezetest.Epoch)
			seen := map[int]bool{}
			check := func(i int) {
				if i < 0 || i >= n || seen[i] {
					t.Fatalf("status %d: index %d out of range or twice (%+v, %+v)", status, i, v, resp)
				}
				seen[i] = true
			}
			for _, i := range v.Retry {
				check(i)
			}
			for reason, idx := range v.Drop {
				if reason == "" || !(reason == ReasonSampledOut || strings.HasPrefix(reason, "status_")) {
					t.Fatalf("reason %q", reason)
				}
				for _, i := range idx {
					check(i)
				}
			}
			// Kept items either back the endpoint off or wait a
			// per-record delay, never both and never neither.
			if len(v.Retry) > 0 && v.Backoff == v.Delay {
				t.Fatalf("%d kept: backoff %v, delay %v", len(v.Retry), v.Backoff, v.Delay)
			}
			if len(v.Retry) == 0 && (v.Backoff || v.Delay) {
				t.Fatalf("nothing kept: backoff %v, delay %v", v.Backoff, v.Delay)
			}
		}
	})
}

// FuzzParseRetryAfter: any header value gives either no wait, or a wait in
// (0, MaxRetryAfter]; delay-seconds are read exactly.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"7", " 7 ", "0", "-5", "", "1.5", "3601", "99999999999999999999",
		"Wed, 25 Nov 2026 12:00:30 GMT", "Wednesday, 25-Nov-26 12:00:30 GMT", "Wed Nov 25 12:00:30 2026",
		"Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, ok := ParseRetryAfter(value, breezetest.Epoch)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v without a wait", value, d)
			}
			return
		}
		if d <= 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, want (0, %v]", value, d, MaxRetryAfter)
		}
		if secs, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64); err == nil {
			want := MaxRetryAfter
			if secs <= int64(MaxRetryAfter/time.Second) {
				want = time.Duration(secs) * time.Second
			}
			if d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, want %v", value, d, want)
			}
		}
	})
}
