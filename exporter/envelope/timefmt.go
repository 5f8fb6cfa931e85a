package envelope

import "time"

// timeCache formats time stamps with the date and time of day of the last
// second it formatted kept: the spans of one export mostly start within the
// same second, and then only the seven fractional digits change. Its output
// is appendTime's, byte for byte. The zero value is ready; it is scratch
// space of a Converter (one goroutine at a time).
type timeCache struct {
	sec    int64    // Unix seconds of prefix, when ok
	ok     bool     // prefix holds sec's "2006-01-02T15:04:05."
	prefix [28]byte // appendTime's output for sec; the first 20 bytes are kept
}

// Unix seconds of the first and the last second appendTime writes without
// clamping (0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z).
const (
	minTimeSec = -62135596800
	maxTimeSec = 253402300799
)

// appendTime appends t as appendTime does.
func (tc *timeCache) appendTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec != tc.sec || !tc.ok {
		if sec < minTimeSec || sec > maxTimeSec {
			return appendTime(dst, t) // clamped: not worth keeping
		}
		if len(appendTime(tc.prefix[:0], t)) != len(tc.prefix) {
			tc.ok = false
			return appendTime(dst, t) // not the fixed layout: never cached
		}
		tc.sec, tc.ok = sec, true
	}
	dst = append(dst, tc.prefix[:20]...)
	dst = append7(dst, uint32(t.Nanosecond()/100))
	return append(dst, 'Z')
}

// append7 appends v < 10^7 as exactly seven decimal digits.
func append7(dst []byte, v uint32) []byte {
	a, b, c, d := v/100000, v/1000%100, v/10%100, v%10
	return append(dst, digitPairs[2*a], digitPairs[2*a+1], digitPairs[2*b], digitPairs[2*b+1],
		digitPairs[2*c], digitPairs[2*c+1], byte('0'+d))
}

// appendTime appends t in UTC as RFC 3339 with exactly seven fractional
// digits (100 ns ticks) and a Z suffix: 2006-01-02T15:04:05.0000000Z.
// Years outside 1..9999 are clamped, because RFC 3339 has four year digits.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	switch {
	case year < 1:
		year, month, day = 1, 1, 1
		t = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	case year > 9999:
		year, month, day = 9999, 12, 31
		t = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
	}
	hour, min, sec := t.Clock()
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, min, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/100, 7)
	return append(dst, 'Z')
}

// maxDuration is the largest duration the ingestion schema accepts
// (999.23:59:59.9999999; it must stay under 1000 days).
const maxDuration = 1000*24*time.Hour - 100*time.Nanosecond

// appendDuration appends d as d.hh:mm:ss.fffffff: days always present,
// seven fractional digits. Negative durations are clamped to 0 and long
// ones to 999.23:59:59.9999999.
func appendDuration(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	if d > maxDuration {
		d = maxDuration
	}
	ticks := uint64(d / 100)
	frac := uint32(ticks % 10_000_000)
	secs := ticks / 10_000_000
	days := int(secs / 86400)
	secs %= 86400
	if days < 10 {
		dst = append(dst, byte('0'+days))
	} else {
		dst = appendDigits(dst, days, 1)
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	dst = append(dst, '.', digitPairs[2*h], digitPairs[2*h+1], ':', digitPairs[2*m], digitPairs[2*m+1],
		':', digitPairs[2*s], digitPairs[2*s+1], '.')
	return append7(dst, frac)
}

// appendDigits appends the non-negative v in decimal, zero-padded to at
// least width digits.
func appendDigits(dst []byte, v, width int) []byte {
	if width >= 1 && width <= 9 && v >= 0 && v < pow10[width] {
		// Exactly width digits (every field of a time stamp or a
		// duration): written in place, right to left.
		dst = append(dst, "000000000"[:width]...)
		i := len(dst)
		for v >= 10 {
			q := v / 100
			r := 2 * (v - 100*q)
			i -= 2
			dst[i], dst[i+1] = digitPairs[r], digitPairs[r+1]
			v = q
		}
		if v > 0 {
			dst[i-1] = byte('0' + v)
		}
		return dst
	}
	var buf [20]byte
	i := len(buf)
	for v >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	buf[i] = byte('0' + v)
	return append(dst, buf[i:]...)
}

// pow10[w] is 10^w: the first value that needs more than w digits.
var pow10 = [...]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// digitPairs holds "00" to "99": two decimal digits per division.
const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" +
	"30313233343536373839" + "40414243444546474849" + "50515253545556575859" + "60616263646566676869" +
	"70717273747576777879" + "80818283848586878889" + "90919293949596979899"
