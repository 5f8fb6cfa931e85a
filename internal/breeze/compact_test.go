package breeze

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestAppendCompact(t *testing.T) {
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{`{}`, `{}`},
		{` { "a" : [ 1 , -2.5e+3 , 0 , true , false , null , "x" , { } , [ ] ] } `, `{"a":[1,-2.5e+3,0,true,false,null,"x",{},[]]}`},
		{"{\n\t\"s\": \"a \\\" b \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\uD83D\\uDE80 \"\r\n}", `{"s":"a \" b \\ \/ \b\f\n\r\t \u00e9\uD83D\uDE80 "}`},
		{`"str"`, `"str"`},
		{`0`, `0`},
		{`-0.0E-0`, `-0.0E-0`},
		{"{\"\xff\":1}", "{\"\xff\":1}"}, // bytes copied as they are
		{``, ``},
		{`   `, ``},
		{`{`, ``},
		{`{"a"}`, ``},
		{`{"a":}`, ``},
		{`{"a":1,}`, ``},
		{`[1,]`, ``},
		{`[1 2]`, ``},
		{`{"a":1 "b":2}`, ``},
		{`{1:2}`, ``},
		{`01`, ``},
		{`-`, ``},
		{`1.`, ``},
		{`1e`, ``},
		{`.5`, ``},
		{`+1`, ``},
		{`tru`, ``},
		{`nul`, ``},
		{`True`, ``},
		{`"a`, ``},
		{"\"a\x01\"", ``},
		{`"\x"`, ``},
		{`"\u12G4"`, ``},
		{`"\u12"`, ``},
		{`{} {}`, ``},
		{`[}`, ``},
		{`{]`, ``},
		{`[[[`, ``},
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), ``},
	}
	for _, tt := range tests {
		got, _, err := appendCompact([]byte("prefix"), []byte(tt.in), nil)
		var ref bytes.Buffer
		refErr := json.Compact(&ref, []byte(tt.in))
		if tt.want == "" {
			if err == nil || string(got) != "prefix" || refErr == nil {
				t.Errorf("appendCompact(%.40q) = %.40q, %v; json.Compact err %v; want an error", tt.in, got, err, refErr)
			}
			continue
		}
		if err != nil || string(got) != "prefix"+tt.want || ref.String() != tt.want {
			t.Errorf("appendCompact(%.40q) = %.40q, %v; want %.40q (json.Compact %.40q)", tt.in, got, err, tt.want, ref.String())
		}
	}
}

func TestAppendCompactMessages(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":x}`:  "invalid character 'x' looking for beginning of value at offset 5",
		`{"a":1`:   "unexpected end of JSON input at offset 6",
		`{"a" 1}`:  "invalid character '1' after object key at offset 5",
		`[1 2]`:    "invalid character '2' after array element at offset 3",
		`{"a":1 2`: "invalid character '2' after object key:value pair at offset 7",
		`{} x`:     "invalid character 'x' after top-level value at offset 3",
		"\"\t\"":   `invalid character '\t' in string literal at offset 1`,
	} {
		_, _, err := appendCompact(nil, []byte(in), nil)
		if err == nil || err.Error() != want {
			t.Errorf("appendCompact(%q) err = %v, want %q", in, err, want)
		}
	}
}

// FuzzCompact checks appendCompact against json.Compact: the same inputs
// are valid, with the same output.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-2.5e+3,true,false,null,"x\"\\\u00e9",{},[]]}`, " { \"a\" : 1 } ", `"s"`, `0`, `-0.5E-7`,
		`[1,]`, `01`, `"\u12"`, `{"a b":"c, d","e":[1 ,2]}`, "[1,\t2]", `{"a":"x" }`, "\"\x01\"", "{\"\xff\":1}", `[[[[]]]]`, `{"a":1}{}`, `tru`, `1.e5`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, _, err := appendCompact(nil, src, nil)
		var want bytes.Buffer
		wantErr := json.Compact(&want, src)
		if (err == nil) != (wantErr == nil) || err == nil && !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendCompact(%q) = %q, %v; json.Compact = %q, %v", src, got, err, want.Bytes(), wantErr)
		}
		// What DecodeLinesChecked relies on to skip compacting.
		if err == nil && isCompact(src) && !bytes.Equal(got, src) {
			t.Fatalf("isCompact(%q), but it compacts to %q", src, got)
		}
	})
}

func TestIsCompact(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":1}`, true},
		{`{"name":"GET /api/users/{id}","x":[1,2]}`, true},
		{`{"a": 1}`, false},
		{`{"a" :1}`, false},
		{`{"a":1 }`, false},
		{`{ "a":1}`, false},
		{`[1 ,2]`, false},
		{"[1,\t2]", false},
		{"{\"a\":1,\r\n\"b\":2}", false},
		{` {"a":1}`, false},
		{`{"a":1} `, false},
		{`{"a":"b, c"}`, false}, // inside a string: only a needless compaction
		{`{"ua":"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/1"}`, true},
		{``, false},
		{`1`, true},
	}
	for _, tt := range tests {
		if got := isCompact([]byte(tt.in)); got != tt.want {
			t.Errorf("isCompact(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestDecodeLinesCheckedCalls: a valid item is checked once, as received,
// whether it is compact (stored as it is) or spaced (stored compacted); a
// refused one is checked again as compacted, for the same message as
// DecodeLines followed by the check.
func TestDecodeLinesCheckedCalls(t *testing.T) {
	body := "{\"a\":1}\n{\"b\": [1, 2]}\n{\"no\":1}\n{\"no\": 2}\n{ \"c\":\"x y\" }\n"
	for _, sure := range []bool{true, false} {
		var calls []string
		check := func(item []byte) (bool, error) {
			calls = append(calls, string(item))
			compact, err := jsonCheck(item)
			return compact && sure, err
		}
		var bufs Buffers
		items, err := bufs.DecodeLinesChecked(strings.NewReader(body), "", Limits{}, nil, check)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			if it.Err != nil {
				got = append(got, "error: "+it.Err.Error())
			} else {
				got = append(got, string(it.Raw))
			}
		}
		want := []string{"{\"a\":1}\n", "{\"b\":[1,2]}\n", "error: " + errCheck.Error(), "error: " + errCheck.Error(), "{\"c\":\"x y\"}\n"}
		if !slices.Equal(got, want) {
			t.Errorf("sure=%v: items %q, want %q", sure, got, want)
		}
		wantCalls := []string{`{"a":1}`, `{"b": [1, 2]}`, `{"no":1}`, `{"no":1}`, `{"no": 2}`, `{"no":2}`, `{ "c":"x y" }`}
		if !slices.Equal(calls, wantCalls) {
			t.Errorf("sure=%v: check called with %q, want %q", sure, calls, wantCalls)
		}
	}
}
