package envelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidFastTakesTheConvertersEnvelopes: the fast path of Validate
// accepts every envelope of the golden files and of the Node.js SDK's
// request, compacted and as stored (indented), so that valid envelopes do
// not pay for the slow way.
func TestValidFastTakesTheConvertersEnvelopes(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var envs []json.RawMessage
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		envs = append(envs, list...)
	}
	b, err := os.ReadFile("testdata/node-exporter-v2.1-track.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Body []json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(b, &sample); err != nil {
		t.Fatal(err)
	}
	envs = append(envs, sample.Body...)
	for i, env := range envs {
		if err := validateSlow(env); err != nil {
			t.Fatalf("envelope %d is not valid: %v", i, err)
		}
		if !validFast(env) {
			t.Errorf("validFast refused envelope %d as stored:\n%s", i, env)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, env); err != nil {
			t.Fatal(err)
		}
		if !validFast(append(compact.Bytes(), '\n')) {
			t.Errorf("validFast refused envelope %d compacted", i)
		}
		// ValidateCompact finds the compacted envelope compact, and the
		// stored one compact exactly if it is.
		if c, err := ValidateCompact(compact.Bytes()); !c || err != nil {
			t.Errorf("ValidateCompact(envelope %d compacted) = %v, %v; want true, nil", i, c, err)
		}
		if c, err := ValidateCompact(env); c != bytes.Equal(compact.Bytes(), env) || err != nil {
			t.Errorf("ValidateCompact(envelope %d as stored) = %v, %v; want %v, nil", i, c, err, !c)
		}
		if c, err := ValidateCompact(append(compact.Bytes(), '\n')); c || err != nil {
			t.Errorf("ValidateCompact(envelope %d with a newline) = %v, %v; want false, nil", i, c, err)
		}
	}
}

// TestValidFastRefuses: what the slow way refuses, the fast path never
// accepts (the cases of TestValidateErrors and a few of its own).
func TestValidFastRefuses(t *testing.T) {
	const head = `{"name":"n","time":"2024-05-06T07:08:09Z","iKey":"k",`
	for _, raw := range []string{
		`{`, `[]`, `null`, `{"name":5}`,
		head + `"data":{"baseType":"RequestData","baseData":{"id":"a","duration":"0.00:00:01","success":true,"responseCode":"200","ID":"b"}}}`,
		head + `"data":{"baseType":"RequestData","baseData":{"id":"a","duration":"1 s","success":true,"responseCode":"200"}}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","severityLevel":5}}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","properties":{"":"x"}}}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","measurements":{"a":"1"}}}}`,
		head + `"data":{"baseType":"ExceptionData","baseData":{"exceptions":[]}}}`,
		head + `"data":{"baseType":"ExceptionData","baseData":{"exceptions":[{"typeName":"t"}]}}}`,
		head + `"data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m","value":"1"}]}}}`,
		head + `"tags":{"ai.location.ip":"` + strings.Repeat("1", 47) + `"},"data":{"baseType":"X","baseData":{}}}`,
		head + `"tags":{"ai.session.isFirst":"truest"},"data":{"baseType":"X","baseData":{}}}`,
		head + `"tags":{"ai.session.id":"` + strings.Repeat("s", 65) + `"},"data":{"baseType":"X","baseData":{}}}`,
		head + `"tags":{"ai.internal.sdkVersion":"` + strings.Repeat("v", 65) + `"},"data":{"baseType":"X","baseData":{}}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","properties":{"p":"` + strings.Repeat("v", 8193) + `"}}}}`,
		head + `"data":{"baseType":"X","baseData":{}},"Data":{}}`,
		head + `"data":{"baseType":"X","baseData":{}},"n\u0061me":"x"}`,
		head + `"sampleRate":0,"data":{"baseType":"X","baseData":{}}}`,
		head + `"sampleRate":101,"data":{"baseType":"X","baseData":{}}}`,
		head + `"sampleRate":"100","data":{"baseType":"X","baseData":{}}}`,
		head + `"sampleRate":1e3,"data":{"baseType":"X","baseData":{}}}`,
		head + `"sampleRate":-5,"data":{"baseType":"X","baseData":{}}}`,
		head + `"sampleRate":true,"data":{"baseType":"X","baseData":{}}}`,
		head + `"data":{"baseType":"X","baseData":{}},"data":{"baseType":"X"}}`,
		head + `"data":{"baseType":"X","baseData":[]}}`,
		head + `"data":{"baseData":{"id":"a"},"baseType":"RequestData"}}`,
		head + `"data":{"baseData":{"message":"m"},"baseType":"MessageData","baseType":"X"}}`,
		head + `"data":{"baseData":{"message":"m","Message":"n"},"baseType":"MessageData"}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","properties":{"a":1}}}}`,
		head + `"data":{"baseType":"MessageData","baseData":{"message":"m","properties":{"a":"b",}}}}`,
		head + `"data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m","value":1},]}}}`,
		head + `"data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m","value":1e999}]}}}`,
		head + `"tags":{"a":null},"data":{"baseType":"X","baseData":{}}}`,
		head + `"tags":[],"data":{"baseType":"X","baseData":{}}}`,
		head + `"data":null}`,
		head + `"data":{"baseType":"X","baseData":{}}}x`,
		`{"name":"n","time":"2024-02-30T07:08:09Z","iKey":"k","data":{"baseType":"X","baseData":{}}}`,
		`{"name":"n","time":"2024-05-06T07:08:60Z","iKey":"k","data":{"baseType":"X","baseData":{}}}`,
	} {
		if validFast([]byte(raw)) {
			t.Errorf("validFast accepted %s (slow way: %v)", raw, validateSlow([]byte(raw)))
		}
	}
}

// FuzzValidateFast: whatever the fast path accepts, the slow way accepts,
// and Validate answers as the slow way does.
func FuzzValidateFast(f *testing.F) {
	c := newTestConverter(f, Config{})
	var buf Buffer
	c.AppendSpan(&buf, withEvents(httpServerStub(), event("exception", 0), event("log", 0)).Snapshot())
	for _, r := range buf.Records(nil) {
		f.Add(r)
	}
	f.Add([]byte(`{"name":"n","time":"2024-05-06T07:08:09.123+01:00","iKey":"k","data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m","value":1e3}]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		slow := validateSlow(raw)
		if validFast(raw) && slow != nil {
			t.Fatalf("validFast accepted %q, which the slow way refuses: %v", raw, slow)
		}
		if (Validate(raw) == nil) != (slow == nil) {
			t.Fatalf("Validate(%q) differs from the slow way (%v)", raw, slow)
		}
		compact, err := ValidateCompact(raw)
		if (err == nil) != (slow == nil) || err != nil && err.Error() != slow.Error() {
			t.Fatalf("ValidateCompact(%q) = %v, the slow way %v", raw, err, slow)
		}
		// What DecodeLinesChecked asks of its check: an envelope accepted
		// with whitespace is accepted compacted.
		var compacted bytes.Buffer
		if slow == nil && json.Compact(&compacted, raw) == nil {
			if err := Validate(compacted.Bytes()); err != nil {
				t.Fatalf("Validate accepts %q but not %q, compacted: %v", raw, compacted.Bytes(), err)
			}
		}
		if compact {
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil || !bytes.Equal(c.Bytes(), raw) {
				t.Fatalf("ValidateCompact(%q) found it compact, but it compacts to %q (%v)", raw, c.Bytes(), err)
			}
		}
	})
}

// FuzzRFC3339: what rfc3339OK accepts, time.Parse accepts.
func FuzzRFC3339(f *testing.F) {
	for _, s := range []string{"2024-05-06T07:08:09Z", "2024-02-29T23:59:59.123456789+14:00", "0000-01-01T00:00:00-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if rfc3339OK([]byte(s)) {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Fatalf("rfc3339OK accepted %q: %v", s, err)
			}
		}
	})
}

// BenchmarkValidateRequest validates an HTTP server span's request envelope: the
// fast path, and the slow way for comparison.
func BenchmarkValidateRequest(b *testing.B) {
	c := newTestConverter(b, Config{})
	var buf Buffer
	if _, err := c.AppendSpan(&buf, httpServerStub().Snapshot()); err != nil {
		b.Fatal(err)
	}
	raw := buf.Records(nil)[0]
	for _, bc := range []struct {
		name string
		fn   func([]byte) error
	}{{"fast", Validate}, {"slow", validateSlow}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := bc.fn(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSampleRateOK: the fast check of sampleRate answers as the slow way
// does, with and without its shortcut for whole numbers.
func TestSampleRateOK(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"100", true}, {"1", true}, {"50", true}, {"33.3", true}, {"1e2", true}, {"0.5", true}, {"100.0", true},
		{"0", false}, {"101", false}, {"999", false}, {"1e3", false}, {"-5", false}, {"0.0", false},
		{`"100"`, false}, {"true", false}, {"null", false}, {"100.5", false},
	} {
		if got := sampleRateOK([]byte(tt.in)); got != tt.want {
			t.Errorf("sampleRateOK(%s) = %v, want %v", tt.in, got, tt.want)
		}
		raw := `{"name":"n","time":"2024-05-06T07:08:09Z","iKey":"k","sampleRate":` + tt.in + `,"data":{"baseType":"X","baseData":{}}}`
		if slow := validateSlow([]byte(raw)); (slow == nil) != tt.want && tt.in != "null" {
			t.Errorf("the slow way answers %v for sampleRate %s", slow, tt.in)
		}
	}
}

// TestSpecials: the lowest byte that specials flags is the first special
// byte of the word (a quote, a backslash, a control character), and it
// flags none in a word without one.
func TestSpecials(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, 'a', 0x7f, 0x80, 0xff, 0x5b, 0x5d, 0x01, 0x22 + 0x80}
	var w [8]byte
	for range 200000 {
		for i := range w {
			if rng.IntN(2) == 0 {
				w[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				w[i] = byte(rng.Uint32())
			}
		}
		first := 8
		for i, c := range w {
			if !isStringByte(c) {
				first = i
				break
			}
		}
		m := specials(binary.LittleEndian.Uint64(w[:]))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) / 8
		}
		if got != first {
			t.Fatalf("specials(% x) finds byte %d first, want %d", w, got, first)
		}
	}
}
