package breeze

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

const (
	// readBufSize is the decoded stream's buffer: a typical NDJSON line
	// is read in place, without a copy.
	readBufSize = 64 << 10
	// The shared backing arrays of Item.Raw start at minArena bytes and
	// grow by a quarter up to maxArena, so that a small body does not pay
	// for (and clear) a large array, and the last one's unused end is
	// small (doubling left a quarter of all the arrays unused on average).
	minArena = 16 << 10
	maxArena = 1 << 20
	// rawFactor: an item more than rawFactor × MaxItemBytes before
	// compaction is refused without being buffered.
	rawFactor = 4
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decoder parses a decoded body from br.
type decoder struct {
	br        *bufio.Reader
	lim       Limits
	rawCap    int // longest raw item buffered
	items     []Item
	arena     []byte   // backing array of the items' Raw; len is what is used
	arenaSize int      // size of the last arena allocated
	stack     []byte   // appendCompact's scratch
	free      [][]byte // arenas of an earlier decode, to use first
	used      [][]byte // the arenas this decode wrote to
	scratch   []byte
	line      int                        // physical lines consumed (NDJSON), for messages
	lines     bool                       // DecodeLines: a newline after each valid item's Raw
	check     func([]byte) (bool, error) // DecodeLinesChecked's, or nil

	charge func(int64) error // DecodeCharged's, or nil
}

// newDecoder returns a decoder reading br, a buffer of at least
// readBufSize bytes.
func newDecoder(br *bufio.Reader, lim Limits) *decoder {
	rawCap := int64(lim.MaxItemBytes) * rawFactor
	rawCap = min(rawCap, lim.MaxDecodedBytes, 1<<30)
	return &decoder{
		br:     br,
		lim:    lim,
		rawCap: int(rawCap),
	}
}

// run parses the whole body.
func (d *decoder) run() ([]Item, error) {
	if b, err := d.br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = d.br.Discard(len(utf8BOM))
	}
	c, err := d.skipSpace()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	case err != nil:
		return nil, err
	}
	switch c {
	case '[':
		_, _ = d.br.Discard(1)
		err = d.array()
	case '{':
		err = d.ndjson()
	default:
		return nil, fmt.Errorf("%w: neither a JSON array nor newline-delimited JSON objects (starts with %q)", ErrMalformed, c)
	}
	if err != nil {
		return nil, err
	}
	if len(d.items) == 0 {
		return nil, fmt.Errorf("%w: no items (empty array)", ErrMalformed)
	}
	return d.items, nil
}

// peek returns the buffered bytes, reading more if none are buffered. It
// consumes nothing.
func (d *decoder) peek() ([]byte, error) {
	if d.br.Buffered() == 0 {
		if _, err := d.br.Peek(1); err != nil {
			return nil, err
		}
	}
	return d.br.Peek(d.br.Buffered())
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipSpace consumes JSON whitespace, counting newlines, and returns the
// next byte without consuming it.
func (d *decoder) skipSpace() (byte, error) {
	for {
		buf, err := d.peek()
		if err != nil {
			return 0, err
		}
		for i, c := range buf {
			if !isSpace(c) {
				_, _ = d.br.Discard(i)
				return c, nil
			}
			if c == '\n' {
				d.line++
			}
		}
		_, _ = d.br.Discard(len(buf))
	}
}

// unexpectedEOF maps the end of the body in the middle of an array to
// ErrMalformed; other errors pass.
func unexpectedEOF(err error, where string) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body ends %s", ErrMalformed, where)
	}
	return err
}

// array parses the elements of a JSON array whose '[' is consumed, and
// checks that nothing but whitespace follows its ']'.
func (d *decoder) array() error {
	c, err := d.skipSpace()
	if err != nil {
		return unexpectedEOF(err, "before the array's closing ']'")
	}
	if c == ',' {
		return fmt.Errorf("%w: expected an item after '[', found ','", ErrMalformed)
	}
	if c != ']' {
		for idx := 0; ; idx++ {
			if err := d.element(idx); err != nil {
				return err
			}
			c, err := d.skipSpace()
			if err != nil {
				return unexpectedEOF(err, fmt.Sprintf("after item %d, before the array's closing ']'", idx))
			}
			_, _ = d.br.Discard(1)
			if c == ']' {
				break
			}
			if c != ',' {
				return fmt.Errorf("%w: expected ',' or ']' after item %d, found %q", ErrMalformed, idx, c)
			}
			c, err = d.skipSpace()
			if err != nil {
				return unexpectedEOF(err, fmt.Sprintf("after item %d, before the array's closing ']'", idx))
			}
			if c == ']' || c == ',' {
				return fmt.Errorf("%w: expected an item after item %d, found %q", ErrMalformed, idx, c)
			}
		}
	} else {
		_, _ = d.br.Discard(1)
	}
	c, err = d.skipSpace()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: data after the array's closing ']' (found %q)", ErrMalformed, c)
}

// Scanning modes of one array element, chosen by its first byte.
const (
	modeContainer = iota // object or array: ends at the matching bracket
	modeString           // string: ends at the closing quote
	modeBare             // number, literal or garbage: ends before , ] or space
)

// element reads array element idx (its first byte is not whitespace) and
// records it as an item. It finds the element's end by bracket and string
// structure only; the element's validity is checked afterwards, so an
// element with bad content but balanced brackets is a per-item error.
func (d *decoder) element(idx int) error {
	if err := d.checkCount(); err != nil {
		return err
	}
	d.scratch = d.scratch[:0]
	over := false
	mode, depth, inStr, esc, first := modeBare, 0, false, false, true
	for done := false; !done; {
		buf, err := d.peek()
		if err != nil {
			return unexpectedEOF(err, fmt.Sprintf("inside item %d", idx))
		}
		i := 0
		if first {
			switch buf[0] {
			case '{', '[':
				mode, depth = modeContainer, 1
			case '"':
				mode, inStr = modeString, true
			}
			i, first = 1, false
		}
	scan:
		for ; i < len(buf); i++ {
			if inStr && !esc {
				// Skip the string's plain bytes in a tight loop.
				for i < len(buf) && buf[i] != '"' && buf[i] != '\\' {
					i++
				}
				if i == len(buf) {
					break
				}
			}
			c := buf[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if mode == modeString {
						i++
						done = true
						break scan
					}
				}
				continue
			}
			switch mode {
			case modeBare:
				if isSpace(c) || c == ',' || c == ']' {
					done = true
					break scan
				}
			case modeContainer:
				switch c {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				case '}', ']':
					depth--
					if depth == 0 {
						i++
						done = true
						break scan
					}
				}
			}
		}
		if !over {
			if len(d.scratch)+i > d.rawCap {
				over, d.scratch = true, d.scratch[:0]
			} else {
				d.scratch = append(d.scratch, buf[:i]...)
			}
		}
		_, _ = d.br.Discard(i)
	}
	d.addItem(d.scratch, over, "item", idx)
	return nil
}

// ndjson parses newline-delimited JSON: every non-blank line is an item.
func (d *decoder) ndjson() error {
	for {
		line, over, err := d.readLine()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		d.line++
		if !over {
			line = bytes.Trim(line, " \t\r")
			if len(line) == 0 {
				continue
			}
		}
		if err := d.checkCount(); err != nil {
			return err
		}
		d.addItem(line, over, "line", d.line)
	}
}

// readLine returns the next line without its '\n', or io.EOF when the body
// has no more bytes. A line longer than rawCap is not buffered: it is
// consumed and reported as over. The line is valid until the next read.
func (d *decoder) readLine() (line []byte, over bool, err error) {
	d.scratch = d.scratch[:0]
	seen := false
	for {
		frag, err := d.br.ReadSlice('\n')
		seen = seen || len(frag) > 0
		content := len(frag) // bytes of the line in frag, without '\n'
		if err == nil {
			content--
		}
		switch {
		case over:
		case len(d.scratch)+content > d.rawCap:
			over, d.scratch = true, d.scratch[:0]
		case err == nil && len(d.scratch) == 0:
			return frag[:content], false, nil // in place, no copy
		default:
			d.scratch = append(d.scratch, frag[:content]...)
		}
		switch {
		case err == nil:
			return d.scratch, over, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !seen {
				return nil, false, io.EOF
			}
			return d.scratch, over, nil
		default:
			return nil, false, err
		}
	}
}

// checkCount refuses an item past MaxItems.
func (d *decoder) checkCount() error {
	if len(d.items) >= d.lim.MaxItems {
		return fmt.Errorf("%w: more than %d items", ErrTooLarge, d.lim.MaxItems)
	}
	if d.charge != nil {
		if err := d.charge(ItemOverhead); err != nil {
			return &chargeError{err}
		}
	}
	return nil
}

// addItem validates and compacts one raw item into the arena and appends it
// to d.items. unit and n name it in errors ("line 3", "item 3").
func (d *decoder) addItem(raw []byte, over bool, unit string, n int) {
	if over {
		d.items = append(d.items, Item{Err: fmt.Errorf("%s %d: %w: over %s before compaction (limit %s)",
			unit, n, ErrItemTooLarge, formatBytes(int64(d.rawCap)), formatBytes(int64(d.lim.MaxItemBytes)))})
		return
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if cap(d.arena)-len(d.arena) < len(raw)+1 {
		d.arena = d.newArena(len(raw) + 1)
	}
	// The compacted item is never longer than raw, so it lands in the
	// arena's spare capacity, after the items before it, and so does the
	// newline of DecodeLines.
	start := len(d.arena)
	if d.check != nil && len(raw) > 0 && raw[0] == '{' && len(raw) <= d.lim.MaxItemBytes {
		if compact, err := d.check(raw); err == nil {
			// Valid JSON (check accepts nothing else).
			if compact || isCompact(raw) {
				// Without insignificant whitespace: compacting it would
				// copy it as it is.
				d.keepItem(append(d.arena, raw...), start)
				return
			}
			// Compacted, it is an object no larger than raw, which check
			// accepts too (DecodeLinesChecked's contract).
			res, stack, err := appendCompact(d.arena, raw, d.stack)
			d.stack = stack
			if err == nil {
				d.keepItem(res, start)
				return
			}
		}
		// A refused item goes the way of an unchecked item, then the
		// check: the same items and messages as DecodeLines followed by
		// check.
	}
	res, stack, err := appendCompact(d.arena, raw, d.stack)
	d.stack = stack
	if err != nil {
		d.items = append(d.items, Item{Err: fmt.Errorf("%s %d: %w: %v", unit, n, ErrInvalidJSON, err)})
		return
	}
	out := res[start:len(res):len(res)]
	switch {
	case out[0] != '{':
		d.items = append(d.items, Item{Err: fmt.Errorf("%s %d: %w (found %s)", unit, n, ErrNotObject, kind(out[0]))})
	case len(out) > d.lim.MaxItemBytes:
		d.items = append(d.items, Item{Err: fmt.Errorf("%s %d: %w: %d bytes (limit %s)",
			unit, n, ErrItemTooLarge, len(out), formatBytes(int64(d.lim.MaxItemBytes)))})
	case d.check != nil:
		if _, err := d.check(out); err != nil {
			d.items = append(d.items, Item{Err: err})
			return
		}
		d.keepItem(res, start)
	default:
		d.keepItem(res, start)
	}
}

// keepItem adds the valid item res[start:] (res is the arena with the item
// appended) to d.items, with a newline for DecodeLines.
func (d *decoder) keepItem(res []byte, start int) {
	if d.lines {
		res = append(res, '\n')
	}
	d.arena = res
	d.items = append(d.items, Item{Raw: res[start:len(res):len(res)]})
}

// isCompact reports whether src, if it is one valid JSON value, has no
// insignificant whitespace. Outside strings, whitespace can only stand
// between two tokens, one of which is a structural character ({ } [ ] :
// ,), or at the ends: src has none if no whitespace byte is at its ends or
// next to a structural character. (Inside strings such a byte only makes
// it answer false: the caller then compacts.) Bytes are tested eight at a
// time for one below '!'.
func isCompact(src []byte) bool {
	n := len(src)
	if n == 0 || isSpace(src[0]) || isSpace(src[n-1]) {
		return false
	}
	for i := 1; i < n-1; i++ {
		for i+8 <= n && !hasLess(binary.LittleEndian.Uint64(src[i:i+8]), '!') {
			i += 8
		}
		if i >= n-1 {
			break
		}
		if isSpace(src[i]) && (isStructural(src[i-1]) || isStructural(src[i+1])) {
			return false
		}
	}
	return true
}

func isStructural(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ':', ',':
		return true
	}
	return false
}

// newArena returns an empty arena of at least need bytes: the next of an
// earlier decode's if it is large enough, else a new one, a quarter larger
// than the last (see minArena).
func (d *decoder) newArena(need int) []byte {
	var a []byte
	if len(d.free) > 0 && cap(d.free[0]) >= need {
		a = d.free[0]
		d.arenaSize = cap(a)
	} else {
		d.arenaSize = min(max(minArena, d.arenaSize+d.arenaSize/4), maxArena)
		a = make([]byte, 0, max(d.arenaSize, need))
	}
	if len(d.free) > 0 {
		d.free[0] = nil
		d.free = d.free[1:]
	}
	d.used = append(d.used, a)
	return a
}

// kind names the JSON type that starts with c.
func kind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
