package envelope

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// The presence bits of spanAttrs live in one uint64.
const _ = uint(64 - numAttrIDs)

// spanAttrs indexes the attributes of one span by the ids the mapping reads.
// It is scratch space owned by a Converter: scan resets only the presence
// bits, so reusing it costs nothing per span. It keeps the position of each
// mapped attribute in the span's own slice rather than a copy of its value:
// no value is copied, and no pointer written (with a write barrier while
// the garbage collector marks) per attribute.
type spanAttrs struct {
	kvs     []attribute.KeyValue // the span's attributes, as scanned
	pos     [numAttrIDs]int32    // pos[id]: index in kvs, when present
	present uint64
}

// scan indexes kvs. When keep is non-nil, it is filled with one flag per
// attribute telling whether the attribute is copied into properties.
// A later duplicate key wins, as it does in the SDK.
func (a *spanAttrs) scan(kvs []attribute.KeyValue, keep []bool) {
	a.kvs = kvs
	a.present = 0
	for i := range kvs {
		id, consumed := classify(string(kvs[i].Key))
		if keep != nil {
			keep[i] = !consumed
		}
		if id != keyNone && kvs[i].Value.Type() != attribute.EMPTY {
			a.pos[id] = int32(i)
			a.present |= 1 << id
		}
	}
}

// val is the value of a present attribute.
func (a *spanAttrs) val(id attrID) attribute.Value { return a.kvs[a.pos[id]].Value }

func (a *spanAttrs) has(id attrID) bool { return a.present&(1<<id) != 0 }

// str returns the value of a string attribute, or "" when the attribute is
// absent or not a string.
func (a *spanAttrs) str(id attrID) string {
	if !a.has(id) {
		return ""
	}
	if v := &a.kvs[a.pos[id]].Value; v.Type() == attribute.STRING {
		return v.AsString()
	}
	return ""
}

// first returns the first non-empty string among ids.
func (a *spanAttrs) first(ids ...attrID) string {
	for _, id := range ids {
		if s := a.str(id); s != "" {
			return s
		}
	}
	return ""
}

// part returns a string or integer attribute as a text part; other types
// and empty strings give an empty part.
func (a *spanAttrs) part(id attrID) part {
	if !a.has(id) {
		return part{}
	}
	v := a.val(id)
	switch v.Type() {
	case attribute.STRING:
		return part{s: v.AsString()}
	case attribute.INT64:
		return part{n: v.AsInt64(), num: true}
	case attribute.FLOAT64:
		f := v.AsFloat64()
		if f == float64(int64(f)) {
			return part{n: int64(f), num: true}
		}
	}
	return part{}
}

// firstPart returns the first non-empty part among ids.
func (a *spanAttrs) firstPart(ids ...attrID) part {
	for _, id := range ids {
		if p := a.part(id); !p.empty() {
			return p
		}
	}
	return part{}
}

// intValue reads a part as an integer, parsing strings.
func (p part) intValue() (int64, bool) {
	if p.num {
		return p.n, true
	}
	if p.s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(p.s, 10, 64)
	return n, err == nil
}

// number returns a numeric attribute (int, float or numeric string) as a
// float64.
func (a *spanAttrs) number(id attrID) (float64, bool) {
	if !a.has(id) {
		return 0, false
	}
	v := a.val(id)
	switch v.Type() {
	case attribute.INT64:
		return float64(v.AsInt64()), true
	case attribute.FLOAT64:
		return v.AsFloat64(), true
	case attribute.STRING:
		f, err := strconv.ParseFloat(v.AsString(), 64)
		return f, err == nil
	}
	return 0, false
}
