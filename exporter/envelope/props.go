package envelope

import (
	"math"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// propWriter writes the properties object of one envelope, opening it at
// the first property, and numbers every candidate property (written or
// skipped by trimming) so that a re-encode can leave out chosen ones.
type propWriter struct {
	c     *Converter
	dst   []byte
	ord   int
	count int
}

// begin starts a property with the given key. It returns false when the
// key is invalid (empty or over 150 characters: the pair is dropped) or
// when trimming removes this property; otherwise the caller writes the
// value and calls end.
func (w *propWriter) begin(key string) (start int, ok bool) {
	// A key counts at most one UTF-16 unit per byte: count only longer ones.
	if key == "" || len(key) > maxPropertyKey && charCount(key, maxPropertyKey) > maxPropertyKey {
		return 0, false
	}
	ord := w.ord
	w.ord++
	if w.c.trim.skipped(ord) {
		return 0, false
	}
	start = len(w.dst)
	if w.count == 0 {
		w.dst = append(w.dst, `,"properties":{`...)
	} else {
		w.dst = append(w.dst, ',')
	}
	w.count++
	w.dst = appendQuoted(w.dst, key, maxPropertyKey)
	w.dst = append(w.dst, ':')
	return start, true
}

func (w *propWriter) end(start int) {
	w.c.trim.record(w.ord-1, len(w.dst)-start)
}

// appendProperties encodes the item's properties: span attributes not
// consumed by the mapping (or an event's own attributes), then
// otel.status_description for an error status, then _MS.links.
func (c *Converter) appendProperties(dst []byte, it *item) []byte {
	if it.signal.props != propsSpan {
		return c.appendSignalProperties(dst, it)
	}
	w := propWriter{c: c, dst: dst}
	for i := range it.attrs {
		kv := &it.attrs[i]
		key := string(kv.Key)
		if it.keep != nil {
			if !it.keep[i] || key == msLinksKey && len(it.links) > 0 || key == statusDescriptionKey && it.statusDesc != "" {
				continue
			}
		} else if !keepEventAttr(key, it.exception) {
			continue
		}
		if kv.Value.Type() == attribute.EMPTY {
			continue
		}
		if start, ok := w.begin(key); ok {
			w.dst = c.appendValue(w.dst, kv.Value)
			w.end(start)
		}
	}
	if it.statusDesc != "" {
		if start, ok := w.begin(statusDescriptionKey); ok {
			w.dst = appendQuoted(w.dst, it.statusDesc, c.limit(maxPropertyValue))
			w.end(start)
		}
	}
	if len(it.links) > 0 {
		if start, ok := w.begin(msLinksKey); ok {
			w.dst = appendQuoted(w.dst, c.linksJSON(it), c.limit(maxPropertyValue))
			w.end(start)
		}
	}
	if w.count > 0 {
		w.dst = append(w.dst, '}')
	}
	return w.dst
}

// linksJSON builds the _MS.links value in c.scratch:
// [{"operation_Id":"<trace id>","id":"<span id>"},…], at most 100 links.
func (c *Converter) linksJSON(it *item) []byte {
	b := append(c.scratch[:0], '[')
	for i := range it.links {
		if i == maxLinks {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		sc := &it.links[i].SpanContext
		tid, sid := sc.TraceID(), sc.SpanID()
		b = append(b, `{"operation_Id":"`...)
		b = appendHex(b, tid[:])
		b = append(b, `","id":"`...)
		b = appendHex(b, sid[:])
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	c.scratch = b
	return b
}

// appendValue appends an attribute value as a JSON string property value:
// scalars in their usual text form, slices as JSON arrays.
func (c *Converter) appendValue(dst []byte, v attribute.Value) []byte {
	limit := c.limit(maxPropertyValue)
	switch v.Type() {
	case attribute.STRING:
		return appendQuoted(dst, v.AsString(), limit)
	case attribute.BOOL:
		if v.AsBool() {
			return append(dst, `"true"`...)
		}
		return append(dst, `"false"`...)
	case attribute.INT64:
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, v.AsInt64(), 10)
		return append(dst, '"')
	case attribute.FLOAT64:
		dst = append(dst, '"')
		dst = appendFloat(dst, v.AsFloat64())
		return append(dst, '"')
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE:
		c.scratch = appendArray(c.scratch[:0], v)
		return appendQuoted(dst, c.scratch, limit)
	}
	// Bytes (base64), heterogeneous slices and maps: the SDK's own text
	// form. Rare, so its allocation does not matter.
	return appendQuoted(dst, v.String(), limit)
}

// appendArray appends a slice value as a JSON array. Non-finite floats
// become the strings "NaN", "Infinity" and "-Infinity", since JSON has no
// such numbers (the OpenTelemetry AnyValue text representation).
func appendArray(b []byte, v attribute.Value) []byte {
	b = append(b, '[')
	switch v.Type() {
	case attribute.BOOLSLICE:
		for i, x := range v.AsBoolSlice() {
			b = appendSep(b, i)
			b = strconv.AppendBool(b, x)
		}
	case attribute.INT64SLICE:
		for i, x := range v.AsInt64Slice() {
			b = appendSep(b, i)
			b = strconv.AppendInt(b, x, 10)
		}
	case attribute.FLOAT64SLICE:
		for i, x := range v.AsFloat64Slice() {
			b = appendSep(b, i)
			if math.IsNaN(x) || math.IsInf(x, 0) {
				b = append(b, '"')
				b = appendFloat(b, x)
				b = append(b, '"')
			} else {
				b = appendFloat(b, x)
			}
		}
	case attribute.STRINGSLICE:
		for i, x := range v.AsStringSlice() {
			b = appendSep(b, i)
			b = appendQuoted(b, x, math.MaxInt)
		}
	}
	return append(b, ']')
}

func appendSep(b []byte, i int) []byte {
	if i > 0 {
		return append(b, ',')
	}
	return b
}

// appendFloat formats f as JavaScript and encoding/json do: shortest
// decimal form, exponent only for very small or large magnitudes;
// non-finite values as NaN, Infinity and -Infinity.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}
