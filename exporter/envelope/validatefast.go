package envelope

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validFast reports whether raw is certainly a valid envelope, in one pass
// over its bytes and without allocating: Validate's fast path. It checks
// what Validate checks, with encoding/json's syntax rules, but it only
// answers true when it is sure: anything it does not handle simply (an
// escape sequence in a key or in a string whose content matters, a
// duplicated schema key, a key that differs from a schema key only in
// case, a long non-ASCII string, a number it cannot judge without
// converting it, deep nesting) makes it answer false, and Validate then
// decodes the envelope the slow way and names the problem, if any. So
// validFast(raw) implies Validate(raw) == nil (FuzzValidateFast checks
// it); the converse need not hold.
func validFast(raw []byte) bool {
	const maxIncoming = 64 << 10
	if len(raw) > maxIncoming {
		return false
	}
	s := fastScan{src: raw}
	i := skipSpace(raw, 0)
	end, ok := s.envelope(i)
	if !ok {
		return false
	}
	return skipSpace(raw, end) == len(raw)
}

// fastMaxDepth bounds the nesting validFast follows (encoding/json's is
// 10000; deeper input goes the slow way).
const fastMaxDepth = 200

// fastScan is validFast's scanner over one envelope.
type fastScan struct {
	src []byte
}

func skipSpace(src []byte, i int) int {
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

// str returns the end (one past the closing quote) of the string at
// src[i] == '"', and whether it holds a backslash escape.
func (s *fastScan) str(i int) (end int, esc, ok bool) {
	src := s.src
	j := i + 1
	for {
		for j < len(src) && src[j] >= 0x20 && src[j] != '"' && src[j] != '\\' {
			j++
		}
		if j >= len(src) || src[j] < 0x20 {
			return 0, false, false
		}
		if src[j] == '"' {
			return j + 1, esc, true
		}
		esc = true
		j++
		if j >= len(src) {
			return 0, false, false
		}
		switch src[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j++
		case 'u':
			if j+4 >= len(src) || !isHex(src[j+1]) || !isHex(src[j+2]) || !isHex(src[j+3]) || !isHex(src[j+4]) {
				return 0, false, false
			}
			j += 5
		default:
			return 0, false, false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number returns the end of the JSON number at src[i].
func (s *fastScan) number(i int) (int, bool) {
	src := s.src
	j := i
	if j < len(src) && src[j] == '-' {
		j++
	}
	switch {
	case j >= len(src) || !isDigit(src[j]):
		return 0, false
	case src[j] == '0':
		j++
	default:
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && src[j] == '.' {
		j++
		if j >= len(src) || !isDigit(src[j]) {
			return 0, false
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
			return 0, false
		}
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	return j, true
}

// value returns the end of the JSON value at src[i] (not whitespace).
func (s *fastScan) value(i, depth int) (int, bool) {
	src := s.src
	if i >= len(src) {
		return 0, false
	}
	switch c := src[i]; c {
	case '"':
		end, _, ok := s.str(i)
		return end, ok
	case '{', '[':
		if depth >= fastMaxDepth {
			return 0, false
		}
		var it iter
		if !s.open(&it, i, c) {
			return 0, false
		}
		for {
			_, vs, ve, more, ok := s.next(&it, depth+1)
			if !ok {
				return 0, false
			}
			if !more {
				return it.i, true
			}
			_, _ = vs, ve
		}
	case 't':
		return literal(src, i, "true")
	case 'f':
		return literal(src, i, "false")
	case 'n':
		return literal(src, i, "null")
	}
	return s.number(i)
}

func literal(src []byte, i int, lit string) (int, bool) {
	if len(src)-i >= len(lit) && string(src[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return 0, false
}

// iter walks the members of an object or the elements of an array.
type iter struct {
	i      int  // next byte to read
	object bool // an object: members have keys
	first  bool
}

// open starts an iter over the container at src[i] == c ('{' or '[').
func (s *fastScan) open(it *iter, i int, c byte) bool {
	if i >= len(s.src) || s.src[i] != c {
		return false
	}
	*it = iter{i: i + 1, object: c == '{', first: true}
	return true
}

// next returns the next member: its key's content (nil for an array
// element; escaped keys are refused), and its value's bounds. more is
// false at the end of the container, it.i then being one past it.
func (s *fastScan) next(it *iter, depth int) (key []byte, vs, ve int, more, ok bool) {
	src := s.src
	i := skipSpace(src, it.i)
	if i >= len(src) {
		return nil, 0, 0, false, false
	}
	closer := byte(']')
	if it.object {
		closer = '}'
	}
	if src[i] == closer {
		if !it.first {
			return nil, 0, 0, false, false // a trailing comma was consumed
		}
		it.i = i + 1
		return nil, 0, 0, false, true
	}
	it.first = false
	if it.object {
		if src[i] != '"' {
			return nil, 0, 0, false, false
		}
		end, esc, ok := s.str(i)
		if !ok || esc {
			return nil, 0, 0, false, false
		}
		key = src[i+1 : end-1]
		i = skipSpace(src, end)
		if i >= len(src) || src[i] != ':' {
			return nil, 0, 0, false, false
		}
		i = skipSpace(src, i+1)
	}
	vs = i
	ve, ok = s.value(i, depth)
	if !ok {
		return nil, 0, 0, false, false
	}
	i = skipSpace(src, ve)
	switch {
	case i >= len(src):
		return nil, 0, 0, false, false
	case src[i] == ',':
		i = skipSpace(src, i+1)
		if i < len(src) && src[i] == closer {
			return nil, 0, 0, false, false
		}
		it.i = i
	case src[i] == closer:
		// Leave the closer for the next call, which ends the walk.
		it.i, it.first = i, true
	default:
		return nil, 0, 0, false, false
	}
	if it.object {
		return key, vs, ve, true, true
	}
	return nil, vs, ve, true, true
}

// slot finds key among keys: its index for an exact match, -1 for none,
// and -2 for a key that differs from one of them only in case (which
// Validate reports: the slow way names it).
func slot(key []byte, keys []key) int {
	for i, k := range keys {
		if string(key) == k.name {
			return i
		}
	}
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, k := range keys {
		if (!ascii || len(key) == len(k.name)) && strings.EqualFold(string(key), k.name) {
			return -2
		}
	}
	return -1
}

// span is a value's bounds in src; end 0 means absent.
type span struct{ start, end int }

func (sp span) absent() bool { return sp.end == 0 }

// members collects the values of the schema keys of the object at src[i]
// into vals (indexed like keys), and returns the object's end. A
// duplicated schema key or a case variant of one is refused.
func (s *fastScan) members(i, depth int, keys []key, vals []span) (int, bool) {
	var it iter
	if !s.open(&it, i, '{') {
		return 0, false
	}
	for {
		k, vs, ve, more, ok := s.next(&it, depth+1)
		if !ok {
			return 0, false
		}
		if !more {
			return it.i, true
		}
		switch n := slot(k, keys); {
		case n == -2:
			return 0, false
		case n >= 0:
			if !vals[n].absent() {
				return 0, false // duplicated: the slow way keeps the last
			}
			vals[n] = span{vs, ve}
		}
	}
}

// null reports whether sp is absent or the JSON null (Validate's nil).
func (s *fastScan) null(sp span) bool {
	return sp.absent() || string(s.src[sp.start:sp.end]) == "null"
}

// content returns the content of the string at sp, still escaped; ok is
// false if sp is not a string.
func (s *fastScan) content(sp span) (c []byte, ok bool) {
	if sp.absent() || s.src[sp.start] != '"' {
		return nil, false
	}
	return s.src[sp.start+1 : sp.end-1], true
}

// plain reports whether a string's content has no escapes: it is then
// what it decodes to (but for invalid UTF-8, which such checks refuse).
func plain(c []byte) bool { return bytes.IndexByte(c, '\\') < 0 }

// fits reports whether a string's content (still escaped) is within limit
// characters (UTF-16 code units, as charCount counts them once decoded):
// an escape is one code unit (a surrogate pair two), an invalid byte one,
// as encoding/json decodes it to U+FFFD.
func fits(c []byte, limit int) bool {
	if len(c) <= limit {
		return true // no character takes less than one byte
	}
	n := 0
	for i := 0; i < len(c) && n <= limit; {
		switch b := c[i]; {
		case b == '\\':
			n++
			if i+1 < len(c) && c[i+1] == 'u' {
				i += 6
			} else {
				i += 2
			}
		case b < utf8.RuneSelf:
			n++
			i++
		default:
			r, size := decodeRune(c[i:])
			n++
			if r >= 0x10000 {
				n++
			}
			i += size
		}
	}
	return n <= limit
}

// requiredString checks a required string field (requireString).
func (s *fastScan) requiredString(sp span, limit int) bool {
	c, ok := s.content(sp)
	return ok && len(c) > 0 && fits(c, limit)
}

// intOK reports whether the number at sp is certainly an integer that an
// int holds (integer).
func (s *fastScan) intOK(sp span) bool {
	b := s.src[sp.start:sp.end]
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// numberOK reports whether sp is certainly a number that a float64 holds
// (number).
func (s *fastScan) numberOK(sp span) bool {
	b := s.src[sp.start:sp.end]
	if len(b) == 0 || (b[0] != '-' && !isDigit(b[0])) {
		return false
	}
	if bytes.IndexAny(b, "eE") < 0 && len(b) <= 300 {
		return true // no exponent: at most 10^300, finite
	}
	if len(b) > 32 {
		return false
	}
	_, err := strconv.ParseFloat(string(b), 64)
	return err == nil
}

// field checks one field's value against f (checkField).
func (s *fastScan) field(sp span, f field) bool {
	if s.null(sp) {
		return !f.required
	}
	b := s.src[sp.start:sp.end]
	switch f.kind {
	case kindString, kindDuration:
		c, ok := s.content(sp)
		if !ok {
			return false
		}
		if len(c) == 0 && f.required {
			return false
		}
		if f.limit > 0 && !fits(c, f.limit) {
			return false
		}
		if f.kind == kindDuration {
			return len(c) <= 32 && plain(c) && validDuration(string(c))
		}
		return true
	case kindBool:
		return string(b) == "true" || string(b) == "false"
	case kindNumber:
		return s.numberOK(sp)
	case kindInt:
		return s.intOK(sp)
	case kindSeverity:
		if b[0] == '"' {
			return true // any name
		}
		return len(b) == 1 && '0' <= b[0] && b[0] <= '4'
	case kindArray:
		if b[0] != '[' {
			return false
		}
		return !f.required || skipSpace(b, 1) < len(b)-1
	}
	return false
}

// envelope checks the envelope object at src[i] and returns its end.
func (s *fastScan) envelope(i int) (int, bool) {
	var vals [9]span // envelopeKeys
	end, ok := s.members(i, 0, envelopeKeys, vals[:])
	if !ok {
		return 0, false
	}
	const (
		kName = iota
		kTime
		kIKey
		kVer
		kSampleRate
		_ // seq
		_ // flags
		kTags
		kData
	)
	if !s.requiredString(vals[kName], maxEnvelopeName) || !s.requiredString(vals[kIKey], maxIKey) {
		return 0, false
	}
	if tc, ok := s.content(vals[kTime]); !ok || !rfc3339OK(tc) {
		return 0, false
	}
	if !s.null(vals[kVer]) && !s.intOK(vals[kVer]) {
		return 0, false
	}
	if sr := vals[kSampleRate]; !s.null(sr) {
		b := s.src[sr.start:sr.end]
		if len(b) > 32 || (b[0] != '-' && !isDigit(b[0])) {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || !(f > 0 && f <= 100) {
			return 0, false
		}
	}
	if !s.tags(vals[kTags]) || !s.data(vals[kData]) {
		return 0, false
	}
	return end, true
}

// tags checks the context tags (checkTags).
func (s *fastScan) tags(sp span) bool {
	if s.null(sp) {
		return true
	}
	return s.stringMap(sp, func(k []byte) int { return tagLimit(string(k)) }, 0)
}

// stringMap checks an object of strings; limit gives each key's value
// limit; keyLimit, if positive, also bounds the keys and refuses an empty
// one (checkStringMap).
func (s *fastScan) stringMap(sp span, limit func([]byte) int, keyLimit int) bool {
	var it iter
	if !s.open(&it, sp.start, '{') {
		return false
	}
	for {
		k, vs, ve, more, ok := s.next(&it, 2)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		if keyLimit > 0 && (len(k) == 0 || !fits(k, keyLimit)) {
			return false
		}
		c, ok := s.content(span{vs, ve})
		if !ok || !fits(c, limit(k)) {
			return false
		}
	}
}

// data checks the envelope's data and its baseData.
func (s *fastScan) data(sp span) bool {
	if s.null(sp) {
		return false
	}
	var vals [2]span // dataKeys
	if _, ok := s.members(sp.start, 1, dataKeys, vals[:]); !ok {
		return false
	}
	bt, ok := s.content(vals[0])
	if !ok || !plain(bt) || len(bt) == 0 || !fits(bt, maxEnvelopeName) {
		return false
	}
	bd := vals[1]
	if s.null(bd) || s.src[bd.start] != '{' {
		return false
	}
	schema, known := baseSchemas[string(bt)]
	if !known {
		return true // its syntax was checked with the envelope's
	}
	keys := baseKeys[string(bt)]
	var bvals [16]span
	if len(keys) > len(bvals) {
		return false
	}
	if _, ok := s.members(bd.start, 2, keys, bvals[:len(keys)]); !ok {
		return false
	}
	for j, f := range schema { // keys starts with the schema's fields
		if !s.field(bvals[j], f) {
			return false
		}
	}
	n := len(schema) // then commonBaseKeys: ver, properties, measurements
	if !s.field(bvals[n], field{"ver", kindInt, false, 0}) {
		return false
	}
	if len(keys) > n+3 && !s.field(bvals[n+3], field{"severityLevel", kindSeverity, false, 0}) {
		return false
	}
	if p := bvals[n+1]; !s.null(p) && !s.stringMap(p, func([]byte) int { return maxPropertyValue }, maxPropertyKey) {
		return false
	}
	if !s.measurements(bvals[n+2]) {
		return false
	}
	switch string(bt) {
	case "ExceptionData":
		return s.objects(bvals[0], exceptionKeys, exceptionFields[:])
	case "MetricData":
		return s.objects(bvals[0], dataPointKeys, dataPointFields[:])
	}
	return true
}

// measurements checks a measurements object (checkMeasurements).
func (s *fastScan) measurements(sp span) bool {
	if s.null(sp) {
		return true
	}
	var it iter
	if !s.open(&it, sp.start, '{') {
		return false
	}
	for {
		k, vs, ve, more, ok := s.next(&it, 3)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		v := span{vs, ve}
		if !fits(k, maxPropertyKey) || (!s.null(v) && !s.numberOK(v)) {
			return false
		}
	}
}

// objects checks the objects of the array at sp (checkObjects).
func (s *fastScan) objects(sp span, keys []key, fields []field) bool {
	var it iter
	if !s.open(&it, sp.start, '[') {
		return false
	}
	var vals [8]span
	if len(keys) > len(vals) {
		return false
	}
	for {
		_, vs, _, more, ok := s.next(&it, 3)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		clear(vals[:])
		if s.src[vs] != '{' {
			return false
		}
		if _, ok := s.members(vs, 4, keys, vals[:len(keys)]); !ok {
			return false
		}
		for _, f := range fields {
			n := slices.IndexFunc(keys, func(k key) bool { return k.name == f.name })
			if n < 0 || !s.field(vals[n], f) {
				return false
			}
		}
	}
}

// rfc3339OK reports whether t is certainly a time that time.Parse with
// time.RFC3339Nano accepts: YYYY-MM-DDTHH:MM:SS, an optional fraction of
// 1–9 digits, and Z or ±hh:mm.
func rfc3339OK(t []byte) bool {
	if len(t) < 20 {
		return false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if !isDigit(c) {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(t[0:4]), num(t[5:7]), num(t[8:10])
	hour, minute, sec := num(t[11:13]), num(t[14:16]), num(t[17:19])
	if t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
		year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return false
	}
	rest := t[19:]
	if rest[0] == '.' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j == 1 || j > 10 {
			return false
		}
		rest = rest[j:]
	}
	if len(rest) == 1 && rest[0] == 'Z' {
		return true
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	zh, zm := num(rest[1:3]), num(rest[4:6])
	return zh >= 0 && zh <= 23 && zm >= 0 && zm <= 59
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
