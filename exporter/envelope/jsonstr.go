package envelope

import "unicode/utf8"

// byteString is the type set of the escaper: the SDK hands out strings,
// composed values (arrays, links) are built in byte scratch space.
type byteString interface{ ~string | ~[]byte }

const hexDigits = "0123456789abcdef"

// replacementChar is U+FFFD in UTF-8; it stands for every invalid byte.
const replacementChar = "\uFFFD"

// appendEscaped appends s as the body of a JSON string (without quotes).
//
// It writes at most *budget characters and subtracts what it wrote. A
// character is counted in UTF-16 code units, the unit the ingestion service
// (a .NET service) measures its limits in; a rune outside the BMP counts
// two. The cut always falls between runes, so a UTF-8 sequence is never
// split. Each invalid UTF-8 byte becomes U+FFFD. Quotes, backslashes,
// control characters and U+2028/U+2029 are escaped, so the output is valid
// JSON and safe to embed in JavaScript. It reports whether s was cut.
func appendEscaped[T byteString](dst []byte, s T, budget *int) ([]byte, bool) {
	if n := len(s); n <= *budget && allPlain(s) {
		// Nearly every value: ASCII that needs no escaping, within the
		// budget (one unit per byte). One pass to check, one copy.
		*budget -= n
		return append(dst, s...), false
	}
	b := *budget
	start, i := 0, 0
	for i < len(s) {
		// The common case first: a run of ASCII that needs no escaping,
		// eight bytes at a time, within the budget (one unit per byte).
		end := len(s)
		if b < end-i {
			end = i + b
		}
		j := i
		for j+8 <= end && plain8(load8(s[j:])) {
			j += 8
		}
		for j < end && plainASCII[s[j]] {
			j++
		}
		b -= j - i
		i = j
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if b == 0 {
				break
			}
			b--
			// c needs escaping: the run above stopped on it.
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

// allPlain reports whether every byte of s is plainASCII: eight bytes at a
// time, the last eight overlapping the ones before when len(s) is not a
// multiple of eight.
func allPlain[T byteString](s T) bool {
	n := len(s)
	if n < 8 {
		for i := range n {
			if !plainASCII[s[i]] {
				return false
			}
		}
		return true
	}
	i := 0
	for ; i+16 <= n; i += 16 {
		if !plain16(load8(s[i:]), load8(s[i+8:])) {
			return false
		}
	}
	if i+8 <= n {
		if !plain8(load8(s[i:])) {
			return false
		}
		i += 8
	}
	return i == n || plain8(load8(s[n-8:]))
}

// plainASCII reports the bytes that appear raw in a JSON string body: ASCII
// other than control characters, '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// load8 reads the first eight bytes of s (len(s) >= 8), little-endian; the
// compiler makes one load of it.
func load8[T byteString](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether all eight bytes of x are plainASCII: none is a
// control character (< 0x20), '"', '\\' or non-ASCII (>= 0x80). When no byte
// has its high bit set, the high bit of byte k of x - n·0x01… says byte k is
// less than n, give or take a borrow, which only ever comes from a lower
// byte that is less than n itself: exact as to whether such a byte exists,
// which is all that is asked here. '"' and '\\' are the bytes that XOR to
// zero (less than 1).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, b := x^(ones*'"'), x^(ones*'\\')
	return (x|(x-ones*0x20)|(q-ones)|(b-ones))&highs == 0
}

// plain16 is plain8 of x and y, with one test.
func plain16(x, y uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	qx, bx := x^(ones*'"'), x^(ones*'\\')
	qy, by := y^(ones*'"'), y^(ones*'\\')
	return (x|(x-ones*0x20)|(qx-ones)|(bx-ones)|y|(y-ones*0x20)|(qy-ones)|(by-ones))&highs == 0
}

// appendEscapedASCII escapes one ASCII byte that cannot appear raw in a
// JSON string.
func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendQuoted appends s as a complete JSON string of at most limit
// characters.
func appendQuoted[T byteString](dst []byte, s T, limit int) []byte {
	dst = append(dst, '"')
	dst, _ = appendEscaped(dst, s, &limit)
	return append(dst, '"')
}

// decodeRune decodes the first rune of s like utf8.DecodeRune, for both
// strings and byte slices. Invalid input gives (utf8.RuneError, 1).
func decodeRune[T byteString](s T) (rune, int) {
	n := len(s)
	if n == 0 {
		return utf8.RuneError, 0
	}
	c0 := s[0]
	switch {
	case c0 < 0x80:
		return rune(c0), 1
	case c0 < 0xC2 || c0 > 0xF4:
		return utf8.RuneError, 1
	case c0 < 0xE0:
		if n < 2 || s[1]&0xC0 != 0x80 {
			return utf8.RuneError, 1
		}
		return rune(c0&0x1F)<<6 | rune(s[1]&0x3F), 2
	case c0 < 0xF0:
		lo, hi := byte(0x80), byte(0xBF)
		if c0 == 0xE0 {
			lo = 0xA0
		} else if c0 == 0xED {
			hi = 0x9F
		}
		if n < 3 || s[1] < lo || s[1] > hi || s[2]&0xC0 != 0x80 {
			return utf8.RuneError, 1
		}
		return rune(c0&0x0F)<<12 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F), 3
	default:
		lo, hi := byte(0x80), byte(0xBF)
		if c0 == 0xF0 {
			lo = 0x90
		} else if c0 == 0xF4 {
			hi = 0x8F
		}
		if n < 4 || s[1] < lo || s[1] > hi || s[2]&0xC0 != 0x80 || s[3]&0xC0 != 0x80 {
			return utf8.RuneError, 1
		}
		return rune(c0&0x07)<<18 | rune(s[1]&0x3F)<<12 | rune(s[2]&0x3F)<<6 | rune(s[3]&0x3F), 4
	}
}

// charCount counts s in UTF-16 code units (invalid bytes count one each),
// stopping early once the count exceeds max.
func charCount(s string, max int) int {
	n := 0
	for i := 0; i < len(s) && n <= max; {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := decodeRune(s[i:])
		n++
		if r >= 0x10000 {
			n++
		}
		i += size
	}
	return n
}
