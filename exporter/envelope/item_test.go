package envelope

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestItemReset dirties every field of an item (by reflection, so that a
// field added later is covered too), resets it, and checks that it reads
// as item{typ, span}: every field zero but the parts of its texts past
// their counts, which nothing reads.
func TestItemReset(t *testing.T) {
	var it item
	fill(t, reflect.ValueOf(&it).Elem())
	if it.name.n == 0 || it.signal.metric.name == "" || it.time.IsZero() {
		t.Fatal("fill left fields zero")
	}
	sp := &spanItem{}
	it.reset(typeException, sp)
	for _, txt := range []*text{&it.name, &it.code, &it.url, &it.peer, &it.depType} {
		if txt.n != 0 {
			t.Fatalf("a text kept %d parts", txt.n)
		}
		txt.p = [maxParts]part{}
	}
	if want := (item{typ: typeException, span: sp}); !reflect.DeepEqual(it, want) {
		t.Fatalf("after reset:\n%+v\nwant\n%+v", it, want)
	}
}

// fill sets every settable field of v to a non-zero value.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(time.Unix(1, 1)))
		return
	case *spanItem:
		v.Set(reflect.ValueOf(&spanItem{}))
		return
	case *attribute.Set:
		s := attribute.NewSet(attribute.Int("a", 1))
		v.Set(reflect.ValueOf(&s))
		return
	case []attribute.KeyValue:
		v.Set(reflect.ValueOf([]attribute.KeyValue{attribute.Int("a", 1)}))
		return
	case []sdktrace.Link:
		v.Set(reflect.ValueOf([]sdktrace.Link{{}}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			fill(t, reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()) // unexported too
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(t, v.Index(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}
