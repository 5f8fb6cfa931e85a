package otlpconv

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
)

// value converts an OTLP AnyValue into an attribute value. Scalars cost
// nothing (strings are not copied); bytes, arrays and maps are copied, as
// the SDK does when it hands them out. An array whose elements are all
// strings, all integers, all doubles or all booleans becomes the matching
// typed slice, which is what the SDK's OTLP exporters send typed slices
// as.
func value(v pcommon.Value) attribute.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attribute.StringValue(v.Str())
	case pcommon.ValueTypeInt:
		return attribute.Int64Value(v.Int())
	case pcommon.ValueTypeDouble:
		return attribute.Float64Value(v.Double())
	case pcommon.ValueTypeBool:
		return attribute.BoolValue(v.Bool())
	case pcommon.ValueTypeBytes:
		return attribute.ByteSliceValue(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		return sliceValue(v.Slice())
	case pcommon.ValueTypeMap:
		m := v.Map()
		kvs := make([]attribute.KeyValue, 0, m.Len())
		return attribute.MapValue(appendAttrs(kvs, m, nil)...)
	}
	return attribute.Value{}
}

// sliceValue converts an OTLP array.
func sliceValue(s pcommon.Slice) attribute.Value {
	n := s.Len()
	if n > 0 {
		typ := s.At(0).Type()
		same := true
		for i := 1; i < n && same; i++ {
			same = s.At(i).Type() == typ
		}
		if same {
			switch typ {
			case pcommon.ValueTypeStr:
				out := make([]string, n)
				for i := range out {
					out[i] = s.At(i).Str()
				}
				return attribute.StringSliceValue(out)
			case pcommon.ValueTypeInt:
				out := make([]int64, n)
				for i := range out {
					out[i] = s.At(i).Int()
				}
				return attribute.Int64SliceValue(out)
			case pcommon.ValueTypeDouble:
				out := make([]float64, n)
				for i := range out {
					out[i] = s.At(i).Double()
				}
				return attribute.Float64SliceValue(out)
			case pcommon.ValueTypeBool:
				out := make([]bool, n)
				for i := range out {
					out[i] = s.At(i).Bool()
				}
				return attribute.BoolSliceValue(out)
			}
		}
	}
	out := make([]attribute.Value, n)
	for i := range out {
		out[i] = value(s.At(i))
	}
	return attribute.SliceValue(out...)
}

// dedupLinear is the attribute count up to which duplicates are found by
// scanning; past it, by the index map.
const dedupLinear = 32

// appendAttrs appends the attributes of m to dst, converted. OTLP requires
// unique keys but a decoder cannot rely on it: a key that comes again
// keeps its first place and takes its last value, as in the SDK, so that
// an envelope's properties never repeat a key. index is scratch space for
// long attribute lists (nil: one is made if needed).
func appendAttrs(dst []attribute.KeyValue, m pcommon.Map, index map[string]int) []attribute.KeyValue {
	start := len(dst)
	long := m.Len() > dedupLinear
	if long {
		if index == nil {
			index = make(map[string]int, m.Len())
		} else {
			clear(index)
		}
	}
	m.Range(func(k string, v pcommon.Value) bool {
		kv := attribute.KeyValue{Key: attribute.Key(k), Value: value(v)}
		if long {
			if i, ok := index[k]; ok {
				dst[i].Value = kv.Value
				return true
			}
			index[k] = len(dst)
		} else {
			for i := start; i < len(dst); i++ {
				if string(dst[i].Key) == k {
					dst[i].Value = kv.Value
					return true
				}
			}
		}
		dst = append(dst, kv)
		return true
	})
	return dst
}
