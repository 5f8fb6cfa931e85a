package breeze

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/aispool/aispool/internal/testkit"
)

// fuzzLimits are small, so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxBodyBytes: 1 << 16, MaxDecodedBytes: 1 << 16, MaxItems: 16, MaxItemBytes: 256}

// FuzzDecode checks that Decode never panics, that every item it returns
// keeps its promises (see checkInvariants), and, for plain bodies, that it
// agrees with a simple reference decoder built on encoding/json.
//
// mode selects how body is sent: 0 plain with no Content-Encoding, 1
// gzip-compressed, 2 plain as "identity", 3 raw bytes declared as gzip (to
// fuzz the gzip reader).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`[{"a":1},{"b":2}]`,
		"{\"a\":1}\n{\"b\":2}\n",
		"{\"a\":1}\r\nnot json\r\n\r\n[1]\n{\"c\":",
		"\uFEFF [ {\"a\" : [1, {\"b\": \"]}\\\"\"}]}, 2, \"x\", {} ]",
		"[{\"m\":\"a\xffb\"}]",
		"{\"m\":\"\xed\xa0\x80\"}\n",
		"{\"no\":1}\n{\"no\" : 1}\n{\"a\":\"b c\",\"d\":[1, 2]}\n{\"a\":1,}\n{\"a\":\"x\xffy\"}\n",
		"",
		"[]",
		"[{},]",
		`[{} {}]`,
		"{\"a\":\"" + string(bytes.Repeat([]byte("x"), 300)) + "\"}\n{}\n",
	} {
		for mode := range byte(4) {
			f.Add([]byte(s), mode)
		}
	}
	bufs := new(Buffers) // reused from input to input
	f.Fuzz(func(t *testing.T, body []byte, mode byte) {
		mode %= 4
		send, enc := body, ""
		switch mode {
		case 1:
			send, enc = testkit.Gzip(body), "gzip"
		case 2:
			enc = "identity"
		case 3:
			enc = "gzip"
		}
		items, err := Decode(bytes.NewReader(send), enc, fuzzLimits)
		if err != nil {
			if items != nil {
				t.Fatalf("items %v with error %v", items, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		} else {
			checkInvariants(t, items, fuzzLimits)
		}
		checkLines(t, items, err, send, enc, fuzzLimits, bufs)
		if mode == 3 || len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b || len(send) > int(fuzzLimits.MaxBodyBytes) {
			return
		}
		want, wantErr := reference(body, fuzzLimits)
		switch {
		case wantErr != nil:
			if !errors.Is(err, wantErr) {
				t.Fatalf("Decode err = %v, reference %v", err, wantErr)
			}
		case want != nil:
			if err != nil {
				t.Fatalf("Decode err = %v, reference has %d items", err, len(want))
			}
			if len(items) != len(want) {
				t.Fatalf("Decode has %d items, reference %d", len(items), len(want))
			}
			for i := range want {
				if !bytes.Equal(items[i].Raw, want[i].Raw) || (items[i].Err == nil) != (want[i].Err == nil) {
					t.Fatalf("item %d: Decode %q, %v; reference %q, %v", i, items[i].Raw, items[i].Err, want[i].Raw, want[i].Err)
				}
			}
		}
	})
}

// checkLines checks that DecodeLines returns what Decode returned (items
// and err), each valid item with a newline, and so does it with bufs,
// Buffers used for other bodies before.
func checkLines(t *testing.T, items []Item, err error, send []byte, enc string, lim Limits, bufs *Buffers) {
	t.Helper()
	checkLinesOf(t, items, err, func() ([]Item, error) { return DecodeLines(bytes.NewReader(send), enc, lim, nil) })
	checkLinesOf(t, items, err, func() ([]Item, error) { return bufs.DecodeLines(bytes.NewReader(send), enc, lim, nil) })
	// DecodeLinesChecked: what DecodeLines returns, then the check's
	// verdict on each valid item, whether or not the decode compacted it.
	checked := make([]Item, len(items))
	for i, it := range items {
		checked[i] = it
		if it.Err == nil {
			_, cerr := jsonCheck(it.Raw)
			checked[i] = Item{Raw: it.Raw, Err: cerr}
			if checked[i].Err != nil {
				checked[i].Raw = nil
			}
		}
	}
	checkLinesOf(t, checked, err, func() ([]Item, error) {
		return bufs.DecodeLinesChecked(bytes.NewReader(send), enc, lim, nil, jsonCheck)
	})
	// A check that cannot tell whether items are compact: the decode
	// judges that itself.
	unsure := func(item []byte) (bool, error) {
		_, err := jsonCheck(item)
		return false, err
	}
	checkLinesOf(t, checked, err, func() ([]Item, error) {
		return bufs.DecodeLinesChecked(bytes.NewReader(send), enc, lim, nil, unsure)
	})
}

// errCheck is jsonCheck's refusal.
var errCheck = errors.New("refused by the check")

// jsonCheck is a check for DecodeLinesChecked: it refuses what is not
// valid JSON, as the contract asks, and objects with a key "no"; it finds
// an item compact if encoding/json's Compact leaves it as it is.
func jsonCheck(item []byte) (compact bool, err error) {
	if !json.Valid(item) {
		return false, errCheck
	}
	var m map[string]any
	if json.Unmarshal(item, &m) == nil {
		if _, no := m["no"]; no {
			return false, errCheck
		}
	}
	var c bytes.Buffer
	if err := json.Compact(&c, item); err != nil {
		return false, err
	}
	return bytes.Equal(c.Bytes(), item), nil
}

func checkLinesOf(t *testing.T, items []Item, err error, decode func() ([]Item, error)) {
	t.Helper()
	lines, lerr := decode()
	if (err == nil) != (lerr == nil) || err != nil && err.Error() != lerr.Error() {
		t.Fatalf("DecodeLines err = %v, Decode's %v", lerr, err)
	}
	if len(lines) != len(items) {
		t.Fatalf("DecodeLines has %d items, Decode %d", len(lines), len(items))
	}
	for i, it := range items {
		want := it.Raw
		if want != nil {
			want = append(bytes.Clone(want), '\n')
		}
		if !bytes.Equal(lines[i].Raw, want) || (it.Err == nil) != (lines[i].Err == nil) ||
			it.Err != nil && it.Err.Error() != lines[i].Err.Error() {
			t.Fatalf("item %d: DecodeLines %q, %v; Decode %q, %v", i, lines[i].Raw, lines[i].Err, it.Raw, it.Err)
		}
		if cap(lines[i].Raw) != len(lines[i].Raw) {
			t.Fatalf("item %d: DecodeLines' Raw has spare capacity", i)
		}
	}
}

// reference decodes a plain body the slow, obvious way. It returns (nil,
// nil) when it has no opinion (an array body that is not valid JSON as a
// whole, where Decode's tolerance of bad elements goes further).
func reference(body []byte, lim Limits) ([]Item, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, ErrMalformed
	}
	rawCap := 4 * lim.MaxItemBytes
	item := func(raw []byte, rawLen int) Item {
		if rawLen > rawCap {
			return Item{Err: ErrItemTooLarge}
		}
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		var b bytes.Buffer
		switch {
		case json.Compact(&b, raw) != nil:
			return Item{Err: ErrInvalidJSON}
		case b.Bytes()[0] != '{':
			return Item{Err: ErrNotObject}
		case b.Len() > lim.MaxItemBytes:
			return Item{Err: ErrItemTooLarge}
		}
		return Item{Raw: b.Bytes()}
	}
	var items []Item
	switch trimmed[0] {
	case '[':
		var elems []json.RawMessage
		if !utf8.Valid(trimmed) || json.Unmarshal(trimmed, &elems) != nil {
			return nil, nil
		}
		if len(elems) == 0 {
			return nil, ErrMalformed
		}
		for _, e := range elems {
			items = append(items, item(e, len(e)))
		}
	case '{':
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if t := bytes.Trim(line, " \t\r"); len(t) > 0 || len(line) > rawCap {
				items = append(items, item(t, len(line)))
			}
		}
	default:
		return nil, ErrMalformed
	}
	if len(items) > lim.MaxItems {
		return nil, ErrTooLarge
	}
	return items, nil
}
