package envelope

import (
	"bytes"
	"encoding/binary"
	"math/bits"
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
	ok, _ := validFastCompact(raw)
	return ok
}

// validFastCompact is validFast that also reports whether raw, when it is
// valid, has no insignificant whitespace (none between its tokens or at
// its ends): whether compacting it would copy it as it is.
func validFastCompact(raw []byte) (ok, compact bool) {
	const maxIncoming = 64 << 10
	if len(raw) > maxIncoming {
		return false, false
	}
	s := fastScan{src: raw}
	i := s.skip(0)
	end, ok := s.envelope(i)
	if !ok || s.skip(end) != len(raw) {
		return false, false
	}
	return true, !s.spaced
}

// fastMaxDepth bounds the nesting validFast follows (encoding/json's is
// 10000; deeper input goes the slow way).
const fastMaxDepth = 200

// fastScan is validFast's scanner over one envelope.
type fastScan struct {
	src []byte
	// spaced is set once whitespace was skipped between two tokens (or
	// at the ends): the input is not compact.
	spaced bool
	// escaped is set by str if the string it read has an escape sequence.
	escaped bool
}

// skip is skipSpace over the input, noting whitespace in spaced.
func (s *fastScan) skip(i int) int {
	if i < len(s.src) && isSpace(s.src[i]) {
		s.spaced = true
		return skipSpace(s.src, i)
	}
	return i
}

func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }

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

// Word-at-a-time tests.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// zeros has the high bit of each zero byte of x set, and maybe of bytes
// above one (a borrow), but of no byte below the lowest zero byte.
func zeros(x uint64) uint64 { return (x - ones) &^ x & highs }

// specials has the high bit set of each byte of x that is special in a
// JSON string (a quote, a backslash, a control character), and maybe of
// bytes above one, but of no byte below the lowest special one.
func specials(x uint64) uint64 {
	return zeros(x^(ones*'"')) | zeros(x^(ones*'\\')) | (x-ones*0x20)&^x&highs
}

func isStringByte(c byte) bool      { return c >= 0x20 && c != '"' && c != '\\' }
func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

// str returns the end (one past the closing quote) of the string at
// src[i] == '"', and sets s.escaped if the string has an escape sequence.
func (s *fastScan) str(i int) (int, bool) {
	src := s.src
	j := i + 1
	s.escaped = false
	for {
		for j+8 <= len(src) {
			if m := specials(load64(src, j)); m != 0 {
				// The lowest flagged byte is the first special one:
				// the tests flag bytes wrongly only above a right one.
				j += bits.TrailingZeros64(m) / 8
				break
			}
			j += 8
		}
		for j < len(src) && isStringByte(src[j]) {
			j++
		}
		if j >= len(src) || src[j] < 0x20 {
			return 0, false
		}
		if src[j] == '"' {
			return j + 1, true
		}
		j++ // a backslash
		s.escaped = true
		if j >= len(src) {
			return 0, false
		}
		switch src[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j++
		case 'u':
			if j+4 >= len(src) || !isHex(src[j+1]) || !isHex(src[j+2]) || !isHex(src[j+3]) || !isHex(src[j+4]) {
				return 0, false
			}
			j += 5
		default:
			return 0, false
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
		return s.str(i)
	case '{', '[':
		if depth >= fastMaxDepth {
			return 0, false
		}
		return s.each(i, func(_ []byte, vs int) (int, bool) { return s.value(vs, depth+1) })
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

// each walks the object or array at src[i] ('{' or '['): visit reads the
// value of each element, which starts at vs (k is its key in an object; a
// key with escapes is refused), and returns its end. each returns the end
// of the container.
func (s *fastScan) each(i int, visit func(k []byte, vs int) (int, bool)) (int, bool) {
	src := s.src
	closer := byte(']')
	if src[i] == '{' {
		closer = '}'
	}
	i = s.skip(i + 1)
	if i < len(src) && src[i] == closer {
		return i + 1, true
	}
	for {
		var key []byte
		if closer == '}' {
			if i >= len(src) || src[i] != '"' {
				return 0, false
			}
			end, ok := s.str(i)
			if !ok {
				return 0, false
			}
			if s.escaped {
				return 0, false
			}
			key = src[i+1 : end-1]
			i = s.skip(end)
			if i >= len(src) || src[i] != ':' {
				return 0, false
			}
			i = s.skip(i + 1)
		}
		if i >= len(src) || src[i] == closer { // a closer after a ','
			return 0, false
		}
		ve, ok := visit(key, i)
		if !ok {
			return 0, false
		}
		i = s.skip(ve)
		switch {
		case i >= len(src):
			return 0, false
		case src[i] == closer:
			return i + 1, true
		case src[i] != ',':
			return 0, false
		}
		i = s.skip(i + 1)
	}
}

// objectOrNull is [fastScan.each] over the object at src[i], or the end
// of the null there.
func (s *fastScan) objectOrNull(i int, visit func(k []byte, vs int) (int, bool)) (int, bool) {
	if s.src[i] != '{' {
		return literal(s.src, i, "null")
	}
	return s.each(i, visit)
}

// slot finds key among keys: its index for an exact match, -1 for none,
// and -2 for a key that differs from one of them only in case (which
// Validate reports: the slow way names it).
func slot(key []byte, keys []key) int {
	if len(key) > 0 {
		// The length and first byte rule out most keys without a call
		// to compare the rest.
		for i, k := range keys {
			if len(k.name) == len(key) && k.name[0] == key[0] && string(key) == k.name {
				return i
			}
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

// members walks the object at src[i], a level of the schema: the value of
// each key of keys is read by visit (which returns its end), the others
// are skipped; the schema keys' values are noted in vals (indexed like
// keys). A duplicated schema key or a case variant of one is refused. It
// follows [fastScan.each], with the keys matched as they are read.
func (s *fastScan) members(i, depth int, keys []key, vals []span, visit func(n, vs int) (int, bool)) (int, bool) {
	src := s.src
	if i >= len(src) || src[i] != '{' {
		return 0, false
	}
	i = s.skip(i + 1)
	if i < len(src) && src[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(src) || src[i] != '"' {
			return 0, false
		}
		n, end := s.key(i, keys)
		if end == 0 || n == -2 {
			return 0, false
		}
		i = s.skip(end)
		if i >= len(src) || src[i] != ':' {
			return 0, false
		}
		i = s.skip(i + 1)
		if i >= len(src) || src[i] == '}' {
			return 0, false
		}
		var ve int
		var ok bool
		switch {
		case n < 0:
			ve, ok = s.value(i, depth+1)
		case !vals[n].absent():
			return 0, false // duplicated: the slow way keeps the last
		case visit != nil:
			ve, ok = visit(n, i)
		default:
			ve, ok = s.value(i, depth+1)
		}
		if !ok {
			return 0, false
		}
		if n >= 0 {
			vals[n] = span{i, ve}
		}
		i = s.skip(ve)
		switch {
		case i >= len(src):
			return 0, false
		case src[i] == '}':
			return i + 1, true
		case src[i] != ',':
			return 0, false
		}
		i = s.skip(i + 1)
	}
}

// key reads the key at src[i] == '"' of an object whose schema keys are
// keys, and returns its slot among them (as slot does) and the end of the
// key's string, or end 0 if the key is not a string without escapes. A
// schema key as encoders write it is recognised without scanning it as a
// string first.
func (s *fastScan) key(i int, keys []key) (n, end int) {
	rest := s.src[i+1:]
	for j, k := range keys {
		// k.name has no quote, backslash or control character: rest
		// starts with the whole string "k.name".
		if len(rest) > len(k.name) && rest[0] == k.name[0] && rest[len(k.name)] == '"' && string(rest[:len(k.name)]) == k.name {
			return j, i + len(k.name) + 2
		}
	}
	end, ok := s.str(i)
	if !ok || s.escaped {
		return 0, 0
	}
	return slot(s.src[i+1:end-1], keys), end
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
	if !bytes.ContainsAny(b, "eE") && len(b) <= 300 {
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
	var vals [9]span // envelopeKeys
	end, ok := s.members(i, 0, envelopeKeys, vals[:], func(n, vs int) (int, bool) {
		switch n {
		case kTags:
			return s.stringMap(vs, tagFits, 0)
		case kData:
			return s.data(vs)
		}
		return s.value(vs, 1)
	})
	if !ok || s.null(vals[kData]) {
		return 0, false
	}
	if !s.requiredString(vals[kName], maxEnvelopeName) || !s.requiredString(vals[kIKey], maxIKey) {
		return 0, false
	}
	if tc, ok := s.content(vals[kTime]); !ok || !rfc3339OK(tc) {
		return 0, false
	}
	if !s.null(vals[kVer]) && !s.intOK(vals[kVer]) {
		return 0, false
	}
	if sr := vals[kSampleRate]; !s.null(sr) && !sampleRateOK(s.src[sr.start:sr.end]) {
		return 0, false
	}
	return end, true
}

// sampleRateOK reports whether b, a JSON value, is certainly a number in
// (0, 100]. A whole number of up to three digits (as SDKs write 100) is
// judged without converting it.
func sampleRateOK(b []byte) bool {
	if len(b) <= 3 && isDigit(b[0]) {
		n := 0
		for _, c := range b {
			if !isDigit(c) {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n >= 0 {
			return n > 0 && n <= 100
		}
	}
	if len(b) > 32 || (b[0] != '-' && !isDigit(b[0])) {
		return false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return err == nil && f > 0 && f <= 100
}

// stringMap checks the object of strings at src[i], or null, and returns
// its end; within reports whether a value (its content, still escaped) is
// within its key's limit; keyLimit, if positive, also bounds the keys and
// refuses an empty one (checkTags, checkStringMap).
func (s *fastScan) stringMap(i int, within func(k, c []byte) bool, keyLimit int) (int, bool) {
	return s.objectOrNull(i, func(k []byte, vs int) (int, bool) {
		if keyLimit > 0 && (len(k) == 0 || !fits(k, keyLimit)) || s.src[vs] != '"' {
			return 0, false
		}
		ve, ok := s.str(vs)
		return ve, ok && within(k, s.src[vs+1:ve-1])
	})
}

// tagFits reports whether the value of tag k (its content c, still
// escaped) is within the tag's limit (tagLimit), without looking the limit
// up for a value shorter than every tag's limit but one.
func tagFits(k, c []byte) bool {
	if len(c) <= minTagLimit && (len(c) <= maxTagSessionIsFirst || string(k) != tagSessionIsFirst) {
		return true
	}
	return fits(c, tagLimit(string(k)))
}

// propertyFits reports whether a property's value (its content, still
// escaped) is within the limit of property values.
func propertyFits(_, c []byte) bool { return fits(c, maxPropertyValue) }

// data checks the envelope's data object (or null, refused by the
// caller) and its baseData, and returns its end.
func (s *fastScan) data(i int) (int, bool) {
	src := s.src
	if src[i] != '{' {
		return literal(src, i, "null")
	}
	var vals [2]span // dataKeys: baseType, baseData
	deferred := false
	end, ok := s.members(i, 1, dataKeys, vals[:], func(n, vs int) (int, bool) {
		if n == 1 && !vals[0].absent() { // baseType first, as SDKs write it
			return s.baseData(vs, s.src[vals[0].start:vals[0].end])
		}
		if n == 1 {
			deferred = true // checked once baseType is known
		}
		return s.value(vs, 2)
	})
	if !ok {
		return 0, false
	}
	bt, ok := s.content(vals[0])
	if !ok || !plain(bt) || len(bt) == 0 || !fits(bt, maxEnvelopeName) {
		return 0, false
	}
	if bd := vals[1]; deferred {
		if _, ok := s.baseData(bd.start, src[vals[0].start:vals[0].end]); !ok {
			return 0, false
		}
	} else if bd.absent() {
		return 0, false
	}
	return end, true
}

// baseData checks baseData at src[i] against the schema of baseType (a
// JSON value, not yet checked) and returns its end.
func (s *fastScan) baseData(i int, baseType []byte) (int, bool) {
	src := s.src
	if src[i] != '{' || len(baseType) < 2 || baseType[0] != '"' {
		return 0, false
	}
	bt := baseType[1 : len(baseType)-1]
	schema, known := baseSchemas[string(bt)]
	if !known {
		return s.value(i, 2) // an object is all it needs
	}
	keys := baseKeys[string(bt)]
	var vals [16]span
	if len(keys) > len(vals) {
		return 0, false
	}
	// keys holds the schema's fields, then commonBaseKeys (ver,
	// properties, measurements), then severityLevel where it is one.
	n := len(schema)
	list := -1 // the schema's array of objects
	var listKeys []key
	var listFields []field
	switch string(bt) {
	case "ExceptionData":
		list, listKeys, listFields = 0, exceptionKeys, exceptionFields[:]
	case "MetricData":
		list, listKeys, listFields = 0, dataPointKeys, dataPointFields[:]
	}
	end, ok := s.members(i, 2, keys, vals[:len(keys)], func(k, vs int) (int, bool) {
		switch {
		case k == n+1:
			return s.stringMap(vs, propertyFits, maxPropertyKey)
		case k == n+2:
			return s.measurements(vs)
		case k == list && s.src[vs] == '[':
			return s.objects(vs, listKeys, listFields)
		}
		return s.value(vs, 3)
	})
	if !ok {
		return 0, false
	}
	for j, f := range schema {
		if !s.field(vals[j], f) {
			return 0, false
		}
	}
	if !s.field(vals[n], field{"ver", kindInt, false, 0}) {
		return 0, false
	}
	if len(keys) > n+3 && !s.field(vals[n+3], field{"severityLevel", kindSeverity, false, 0}) {
		return 0, false
	}
	return end, true
}

// measurements checks the measurements object at src[i], or null, and
// returns its end (checkMeasurements).
func (s *fastScan) measurements(i int) (int, bool) {
	return s.objectOrNull(i, func(k []byte, vs int) (int, bool) {
		if !fits(k, maxPropertyKey) {
			return 0, false
		}
		if s.src[vs] == 'n' {
			return literal(s.src, vs, "null")
		}
		ve, ok := s.number(vs)
		return ve, ok && s.numberOK(span{vs, ve})
	})
}

// objects checks the array of objects at src[i] (checkObjects) and
// returns its end.
func (s *fastScan) objects(i int, keys []key, fields []field) (int, bool) {
	var vals [8]span
	if len(keys) > len(vals) {
		return 0, false
	}
	return s.each(i, func(_ []byte, vs int) (int, bool) {
		clear(vals[:])
		ve, ok := s.members(vs, 4, keys, vals[:len(keys)], nil)
		if !ok {
			return 0, false
		}
		for _, f := range fields {
			n := slices.IndexFunc(keys, func(k key) bool { return k.name == f.name })
			if n < 0 || !s.field(vals[n], f) {
				return 0, false
			}
		}
		return ve, true
	})
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
