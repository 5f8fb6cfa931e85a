package envelope

import (
	"bytes"
	"encoding/json"
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
