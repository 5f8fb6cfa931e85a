package chaos

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The metrics package's golden exposition, as a shipper serves it.
func goldenExposition(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("../metrics/testdata/full.txt")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseExposition(t *testing.T) {
	got, err := parseExposition(bytes.NewReader(goldenExposition(t)))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1764000000, 0)
	want := scraped{
		Counters: Counters{Enqueued: 10000, Sent: 8700, Retried: 40, Requests: 14,
			Dropped: map[string]uint64{"expired": 7, "sampled_out": 2, "status_400": 3, "poison": 1}},
		Records: 1200, Leased: 500, Segments: 3, Delayed: 4,
		Oldest: t0, NextDue: t0.Add(2 * time.Second), ThrottledUntil: t0.Add(30 * time.Second),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []string{"aispool_envelopes_sent_total{", "# TYPE x counter\nx abc\n"} {
		if _, err := parseExposition(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseExposition(f *testing.F) {
	f.Add(goldenExposition(f))
	f.Add([]byte("aispool_envelopes_sent_total 3\n"))
	f.Add([]byte(`aispool_envelopes_dropped_total{reason="x"} 1e300` + "\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := parseExposition(bytes.NewReader(raw))
		if err == nil && s.Dropped == nil {
			t.Fatal("a parsed exposition without a Dropped map")
		}
	})
}
