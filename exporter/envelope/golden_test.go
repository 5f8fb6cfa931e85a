package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func mathNaN() float64      { return math.NaN() }
func mathInf(s int) float64 { return math.Inf(s) }

// TestGolden converts each case and compares the envelopes semantically
// (as decoded JSON) with testdata/golden/<case>.json, which holds them
// pretty-printed for review. Run with -update to rewrite the files, then
// review the diff against the mapping rules (docs/exporter.md, Conversion).
func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			if seen[gc.name] {
				t.Fatal("duplicate case name")
			}
			seen[gc.name] = true
			checkGolden(t, gc.name, convert(t, newTestConverter(t, gc.cfg), gc.spans...))
		})
	}
}

// normalizeNumbers turns json.Number into float64 so that values decoded
// either way compare equal.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}

// checkGolden compares decoded envelopes with testdata/golden/<name>.json.
func checkGolden(t *testing.T, name string, got []any) {
	t.Helper()
	compareGolden(t, name, got, nil, false)
}

// compareGolden is checkGolden with the envelopes at the indexes omit left
// out of the comparison (got holds placeholders there), in any order if
// anyOrder; it writes no golden file then.
func compareGolden(t *testing.T, name string, got []any, omit []int, anyOrder bool) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	pretty, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	pretty = append(pretty, '\n')
	if *update && omit == nil && !anyOrder {
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run 'TestGolden' -update to create it)", err)
	}
	var want []any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, i := range omit {
		if i < len(want) && i < len(got) {
			want[i], got[i] = nil, nil
		}
	}
	if anyOrder {
		sortByJSON(want)
		sortByJSON(got)
	}
	if !reflect.DeepEqual(normalizeNumbers(want), normalizeNumbers(got)) {
		t.Errorf("envelopes differ from %s\ngot:\n%s", path, pretty)
	}
}

// sortByJSON sorts decoded envelopes by their JSON encoding.
func sortByJSON(v []any) {
	key := func(x any) string {
		b, _ := json.Marshal(normalizeNumbers(x))
		return string(b)
	}
	slices.SortStableFunc(v, func(a, b any) int { return strings.Compare(key(a), key(b)) })
}
