package breeze

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// maxDepth is the deepest nesting accepted, as in encoding/json.
const maxDepth = 10000

// syntaxError is a JSON syntax error at a byte offset of an item.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.off)
}

func errAt(src []byte, i int, context string) error {
	if i >= len(src) {
		return &syntaxError{msg: "unexpected end of JSON input", off: i}
	}
	return &syntaxError{msg: fmt.Sprintf("invalid character %s %s", quoteChar(src[i]), context), off: i}
}

// quoteChar formats c as encoding/json does in its errors.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// appendCompact appends src, which must be exactly one JSON value with
// optional surrounding whitespace, to dst with insignificant whitespace
// removed; it validates as it goes and accepts exactly what encoding/json
// accepts (bytes of strings are copied as they are, UTF-8 unchecked). stack
// is scratch space for the nesting, returned for reuse. On error dst is
// returned unchanged in length.
//
// It does what json.Compact does, several times faster: one pass, no
// per-byte function calls, and string contents copied in runs.
func appendCompact(dst, src, stack []byte) ([]byte, []byte, error) {
	const (
		stValue = iota // a value is expected
		stKey          // an object key is expected
		stAfter        // a value ended
	)
	start := len(dst)
	fail := func(err error) ([]byte, []byte, error) { return dst[:start], stack[:0], err }
	// The output is src without its insignificant whitespace: src is
	// copied a run at a time, from mark up to the next whitespace that
	// ws skips.
	mark := 0
	ws := func(i int) int {
		j := skipWS(src, i)
		if j != i {
			dst = append(dst, src[mark:i]...)
			mark = j
		}
		return j
	}
	stack = stack[:0]
	i := ws(0)
	st := stValue
	for {
		switch st {
		case stValue:
			if i >= len(src) {
				return fail(errAt(src, i, ""))
			}
			switch c := src[i]; c {
			case '{', '[':
				if len(stack) >= maxDepth {
					return fail(&syntaxError{msg: "exceeded max depth", off: i})
				}
				i = ws(i + 1)
				end := byte('}')
				if c == '[' {
					end = ']'
				}
				if i < len(src) && src[i] == end {
					i++
					st = stAfter
					continue
				}
				stack = append(stack, c)
				if c == '{' {
					st = stKey
				}
			case '"':
				j, err := scanString(src, i)
				if err != nil {
					return fail(err)
				}
				i, st = j, stAfter
			case 't', 'f', 'n':
				lit := "null"
				switch c {
				case 't':
					lit = "true"
				case 'f':
					lit = "false"
				}
				for k := 1; k < len(lit); k++ {
					if i+k >= len(src) || src[i+k] != lit[k] {
						return fail(errAt(src, i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")"))
					}
				}
				i, st = i+len(lit), stAfter
			default:
				if c != '-' && (c < '0' || c > '9') {
					return fail(errAt(src, i, "looking for beginning of value"))
				}
				j, err := scanNumber(src, i)
				if err != nil {
					return fail(err)
				}
				i, st = j, stAfter
			}
		case stKey:
			if i >= len(src) || src[i] != '"' {
				return fail(errAt(src, i, "looking for beginning of object key string"))
			}
			j, err := scanString(src, i)
			if err != nil {
				return fail(err)
			}
			i = ws(j)
			if i >= len(src) || src[i] != ':' {
				return fail(errAt(src, i, "after object key"))
			}
			i = ws(i + 1)
			st = stValue
		case stAfter:
			i = ws(i)
			if len(stack) == 0 {
				if i != len(src) {
					return fail(errAt(src, i, "after top-level value"))
				}
				if mark < len(src) {
					dst = append(dst, src[mark:]...)
				}
				return dst, stack, nil
			}
			if i >= len(src) {
				return fail(errAt(src, i, ""))
			}
			c, top := src[i], stack[len(stack)-1]
			switch {
			case c == ',':
				i = ws(i + 1)
				st = stValue
				if top == '{' {
					st = stKey
				}
			case c == '}' && top == '{', c == ']' && top == '[':
				stack = stack[:len(stack)-1]
				i++
			case top == '{':
				return fail(errAt(src, i, "after object key:value pair"))
			default:
				return fail(errAt(src, i, "after array element"))
			}
		}
	}
}

// Word-at-a-time tests (exact as tests of the whole word): whether any
// byte of x is zero, below n (n <= 128), or a byte that ends a string's
// plain run ('"', '\\' or a control character).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasZero(x uint64) bool         { return (x-ones)&^x&highs != 0 }
func hasLess(x uint64, n byte) bool { return (x-ones*uint64(n))&^x&highs != 0 }
func hasSpecial(x uint64) bool {
	return hasZero(x^(ones*'"')) || hasZero(x^(ones*'\\')) || hasLess(x, 0x20)
}

// scanString returns the end (one past the closing quote) of the string
// starting at src[i] == '"'. Plain bytes are skipped eight at a time.
func scanString(src []byte, i int) (int, error) {
	j := i + 1
	for {
		for j+8 <= len(src) && !hasSpecial(binary.LittleEndian.Uint64(src[j:j+8])) {
			j += 8
		}
		for j < len(src) && src[j] >= 0x20 && src[j] != '"' && src[j] != '\\' {
			j++
		}
		if j >= len(src) {
			return 0, errAt(src, j, "")
		}
		switch c := src[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, errAt(src, j, "in string literal")
		}
		// A backslash.
		j++
		if j >= len(src) {
			return 0, errAt(src, j, "")
		}
		switch src[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j++
		case 'u':
			for k := 1; k <= 4; k++ {
				if j+k >= len(src) {
					return 0, errAt(src, j+k, "")
				}
				if !isHex(src[j+k]) {
					return 0, errAt(src, j+k, "in \\u hexadecimal character escape")
				}
			}
			j += 5
		default:
			return 0, errAt(src, j, "in string escape code")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the end of the number starting at src[i] ('-' or a
// digit): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(src []byte, i int) (int, error) {
	j := i
	if src[j] == '-' {
		j++
		if j >= len(src) || !isDigit(src[j]) {
			return 0, errAt(src, j, "in numeric literal")
		}
	}
	if src[j] == '0' {
		j++
	} else {
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && src[j] == '.' {
		j++
		if j >= len(src) || !isDigit(src[j]) {
			return 0, errAt(src, j, "after decimal point in numeric literal")
		}
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			return 0, errAt(src, j, "in exponent of numeric literal")
		}
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	return j, nil
}
