package envelope

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Unix(60, 1).UTC(), "1970-01-01T00:01:00.0000000Z"},
		{time.Unix(60, 100), "1970-01-01T00:01:00.0000001Z"},
		{time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), "2024-05-06T07:08:09.1234567Z"},
		{time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC), "2024-12-31T23:59:59.9999999Z"},
		{time.Date(2024, 5, 6, 9, 8, 9, 0, time.FixedZone("CEST", 2*3600)), "2024-05-06T07:08:09.0000000Z"},
		{time.Time{}, "0001-01-01T00:00:00.0000000Z"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00.0000000Z"},
		{time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), "9999-12-31T23:59:59.9999999Z"},
	}
	for _, tt := range tests {
		got := string(appendTime(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
		if _, err := time.Parse(time.RFC3339Nano, got); err != nil {
			t.Errorf("%s is not RFC 3339: %v", got, err)
		}
	}
}

// TestTimeCache checks that the converter's cached formatting writes what
// appendTime writes: runs of stamps within one second, jumps across
// seconds, days and years (back and forth), time zones, and the clamped
// years on both sides, one cache for all of them in turn.
func TestTimeCache(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var tc timeCache
	base := []time.Time{
		time.Date(2026, 12, 7, 6, 19, 31, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
		time.Date(2026, 3, 29, 1, 59, 59, 0, time.FixedZone("X", -7*3600-30*60)),
	}
	for range 20000 {
		tm := base[r.IntN(len(base))]
		switch r.IntN(4) {
		case 0: // within the same second or the next
			tm = tm.Add(time.Duration(r.Int64N(int64(2 * time.Second))))
		case 1: // anywhere within a few days either side
			tm = tm.Add(time.Duration(r.Int64N(int64(96*time.Hour))) - 48*time.Hour)
		case 2: // anywhere at all
			tm = time.Unix(r.Int64N(maxTimeSec-minTimeSec+2000)+minTimeSec-1000, r.Int64N(1e9))
		}
		if r.IntN(3) == 0 {
			tm = tm.In(time.FixedZone("Z", (r.IntN(27)-12)*3600))
		}
		want := string(appendTime([]byte("x"), tm))
		if got := string(tc.appendTime([]byte("x"), tm)); got != want {
			t.Fatalf("timeCache.appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestAppendDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0.00:00:00.0000000"},
		{-time.Second, "0.00:00:00.0000000"},
		{99, "0.00:00:00.0000000"},
		{100, "0.00:00:00.0000001"},
		{1234500 * time.Microsecond, "0.00:00:01.2345000"},
		{90 * time.Second, "0.00:01:30.0000000"},
		{25*time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond, "1.01:02:03.0040000"},
		{999*24*time.Hour + 23*time.Hour + 59*time.Minute + 59*time.Second, "999.23:59:59.0000000"},
		{1000 * 24 * time.Hour, "999.23:59:59.9999999"},
		{1<<63 - 1, "999.23:59:59.9999999"},
	}
	for _, tt := range tests {
		got := string(appendDuration(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendDuration(%v) = %s, want %s", tt.in, got, tt.want)
		}
		if !validDuration(got) {
			t.Errorf("validDuration(%s) = false", got)
		}
	}
}

// TestAppendDurationRandom checks appendDuration against fmt over the
// whole range it writes unclamped.
func TestAppendDurationRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 20000 {
		d := time.Duration(r.Int64N(int64(maxDuration) + 1))
		if r.IntN(2) == 0 {
			d %= time.Duration(r.Int64N(int64(48*time.Hour)) + 1)
		}
		ticks := int64(d / 100)
		secs := ticks / 1e7
		want := fmt.Sprintf("%d.%02d:%02d:%02d.%07d", secs/86400, secs%86400/3600, secs%3600/60, secs%60, ticks%1e7)
		if got := string(appendDuration(nil, d)); got != want {
			t.Fatalf("appendDuration(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestAppendEscapedLimit(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
		cut   bool
	}{
		{"fits", "abc", 3, "abc", false},
		{"ascii cut", "abcd", 3, "abc", true},
		{"two-byte rune kept whole", "aé", 2, "aé", false},
		{"two-byte rune not split", "abé", 2, "ab", true},
		{"three-byte runes", "日本語", 2, "日本", true},
		{"astral rune counts two", "a😀", 2, "a", true},
		{"astral rune fits in two", "😀b", 2, "😀", true},
		{"escapes count as one", "\"\n", 2, `\"\n`, false},
		{"invalid byte counts one", "\xffab", 2, "\uFFFDa", true},
		{"truncated sequence replaced", "ab\xe6\x97", 10, "ab\uFFFD\uFFFD", false},
		{"surrogate half replaced", "\xed\xa0\x80", 10, "\uFFFD\uFFFD\uFFFD", false},
		{"line separators escaped", "\u2028\u2029", 5, `\u2028\u2029`, false},
		{"control characters", "\x00\x01\x1f\x7f\b\f\r\t", 20, `\u0000\u0001\u001f` + "\x7f" + `\b\f\r\t`, false},
		{"zero limit", "a", 0, "", true},
		{"empty", "", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := tt.limit
			got, cut := appendEscaped(nil, tt.in, &budget)
			if string(got) != tt.want || cut != tt.cut {
				t.Errorf("appendEscaped(%q, %d) = %q, %v; want %q, %v", tt.in, tt.limit, got, cut, tt.want, tt.cut)
			}
			if !utf8.Valid(got) {
				t.Errorf("output %q is not valid UTF-8", got)
			}
			gotB, cutB := appendEscaped(nil, []byte(tt.in), &tt.limit)
			if string(gotB) != string(got) || cutB != cut {
				t.Errorf("[]byte variant differs: %q, %v", gotB, cutB)
			}
		})
	}
}

// TestPropertyValueTruncation checks the 8192-character cut on multi-byte
// text at the property level.
func TestPropertyValueTruncation(t *testing.T) {
	c := newTestConverter(t, Config{})
	long := strings.Repeat("ü", 8191) + "日本" // 8193 characters, 3 bytes per rune at the end
	s := stub(internal, "truncate", str("v", long), str("astral", strings.Repeat("😀", 4097)))
	env := decodeOne(t, c, s)[0]
	props := env.Data.BaseData.(*RemoteDependencyData).Properties
	if want := strings.Repeat("ü", 8191) + "日"; props["v"] != want {
		t.Errorf("value cut to %d runes, want 8192 ending in 日", utf8.RuneCountInString(props["v"]))
	}
	if got := utf8.RuneCountInString(props["astral"]); got != 4096 {
		t.Errorf("astral value has %d runes, want 4096 (8192 UTF-16 units)", got)
	}
}

// randomString mixes ASCII, escapes, multi-byte runes and invalid bytes.
func randomString(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\x00", "\x1f", "\x7f", "é", "日", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe6\x97", "\xed\xa0\x80", "<", "&"}
	var b strings.Builder
	for n := r.IntN(40); n > 0; n-- {
		if r.IntN(4) == 0 {
			b.WriteByte(byte(r.IntN(256)))
		} else {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
	}
	return b.String()
}

// TestEscapeRoundTrip escapes random strings and decodes them with
// encoding/json: the result is the input with each invalid byte replaced.
func TestEscapeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		s := randomString(r)
		quoted := appendQuoted(nil, s, len(s)*2)
		var got string
		if err := json.Unmarshal(quoted, &got); err != nil {
			t.Fatalf("%q escaped to invalid JSON %q: %v", s, quoted, err)
		}
		var want strings.Builder
		for _, r := range s {
			want.WriteRune(r)
		}
		if got != want.String() {
			t.Fatalf("round trip of %q = %q, want %q", s, got, want.String())
		}
		for j := 0; j < len(s); j++ {
			r1, n1 := decodeRune(s[j:])
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if r1 != r2 || n1 != n2 {
				t.Fatalf("decodeRune(%q) = %U,%d; utf8 says %U,%d", s[j:], r1, n1, r2, n2)
			}
		}
	}
}

func TestCharCount(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"", 0}, {"abc", 3}, {"é日", 2}, {"😀", 2}, {"\xff\xfe", 2}} {
		if got := charCount(tt.in, 100); got != tt.want {
			t.Errorf("charCount(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if got := charCount(strings.Repeat("a", 1000), 150); got != 151 {
		t.Errorf("charCount stops at max+1, got %d", got)
	}
}

func TestThresholdProbability(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"th:0", 1, true},
		{"th:8", 0.5, true},
		{"th:c", 0.25, true},
		{"rv:00112233445566;th:8", 0.5, true},
		{"th:", 0, false},
		{"th:123456789abcdef", 0, false},
		{"th:zz", 0, false},
		{"", 0, false},
	} {
		got, ok := thresholdProbability(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("thresholdProbability(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidDuration(t *testing.T) {
	for in, want := range map[string]bool{
		"0.00:00:01.2345000": true, "00:00:01.2345000": true, "00.00:01:30.000000": true,
		"0.00:00:01.235": true, "00:00:01": true, "999.23:59:59.9999999": true,
		"": false, "1:00:00": false, "0.00:00:01.": false, "0.00:00:01.12345678": false,
		"1000.00:00:00": false, "x": false, "00:00:01Z": false,
	} {
		if got := validDuration(in); got != want {
			t.Errorf("validDuration(%q) = %v, want %v", in, got, want)
		}
	}
}

// appendEscapedOneByOne is appendEscaped as it was before the eight-byte
// fast path: every byte through the loop. The reference of
// TestAppendEscapedFastPath.
func appendEscapedOneByOne(dst []byte, s string, budget *int) ([]byte, bool) {
	b := *budget
	start, i := 0, 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if b == 0 {
				break
			}
			b--
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		units := 1
		if r >= 0x10000 {
			units = 2
		}
		if b < units {
			break
		}
		b -= units
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacementChar...)
			i++
			start = i
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
		default:
			i += size
		}
	}
	dst = append(dst, s[start:i]...)
	*budget = b
	return dst, i < len(s)
}

// TestAppendEscapedFastPath checks the eight-byte run of appendEscaped
// against the byte-by-byte loop: random strings with long plain runs
// around every kind of byte that stops a run, at every budget.
func TestAppendEscapedFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var sb strings.Builder
		for n := r.IntN(6); n >= 0; n-- {
			sb.WriteString(strings.Repeat("abcdefghij"[r.IntN(10):], r.IntN(4)))
			sb.WriteRune(rune(0x20 + r.IntN(0x5f)))
			if r.IntN(2) == 0 {
				sb.WriteString(randomString(r))
			}
			if r.IntN(3) == 0 {
				sb.WriteByte(byte(r.IntN(256)))
			}
		}
		s := sb.String()
		for _, budget := range []int{0, 1, 7, 8, 9, 15, 16, 17, r.IntN(len(s) + 2), len(s), len(s) * 2} {
			wb, gb := budget, budget
			want, wantCut := appendEscapedOneByOne([]byte("x"), s, &wb)
			got, gotCut := appendEscaped([]byte("x"), s, &gb)
			if string(got) != string(want) || gotCut != wantCut || gb != wb {
				t.Fatalf("appendEscaped(%q, %d) = %q, %v, left %d; byte by byte: %q, %v, left %d", s, budget, got, gotCut, gb, want, wantCut, wb)
			}
			gotB, gotCutB := appendEscaped([]byte("x"), []byte(s), &budget)
			if string(gotB) != string(want) || gotCutB != wantCut || budget != wb {
				t.Fatalf("[]byte variant of %q differs: %q, %v", s, gotB, gotCutB)
			}
		}
	}
}

// TestAppendDigits checks the zero-padded decimals of time stamps and
// durations against fmt, on both paths (fits the width, or does not).
func TestAppendDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		width := 1 + r.IntN(10)
		v := r.IntN(pow10[min(width, 9)] * 10) // a tenth of them one digit too wide
		if r.IntN(4) == 0 {
			v = r.IntN(100)
		}
		want := fmt.Sprintf("x%0*d", width, v)
		if got := string(appendDigits([]byte("x"), v, width)); got != want {
			t.Fatalf("appendDigits(%d, %d) = %q, want %q", v, width, got, want)
		}
	}
}

// TestAllPlain checks allPlain against a byte-by-byte loop over
// plainASCII: every length up to 40, with one byte of every value at every
// position of a plain string.
func TestAllPlain(t *testing.T) {
	for n := range 41 {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = 'a' + byte(i%26)
		}
		if !allPlain(string(plain)) || !allPlain(plain) {
			t.Fatalf("allPlain(%q) = false", plain)
		}
		for pos := range n {
			for c := range 256 {
				s := append([]byte(nil), plain...)
				s[pos] = byte(c)
				if got, want := allPlain(string(s)), plainASCII[c]; got != want {
					t.Fatalf("allPlain(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}
