package breeze

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// Default limits, used for the zero (or negative) fields of Limits.
const (
	// DefaultMaxBodyBytes bounds a body as received: 64 MiB. SDKs send
	// far less (hundreds of items, a few MiB at most).
	DefaultMaxBodyBytes int64 = 64 << 20
	// DefaultMaxItems is the service's limit of items per request.
	DefaultMaxItems = 64000
	// DefaultMaxItemBytes is the service's per-item limit, 64 KiB,
	// measured on the compacted item.
	DefaultMaxItemBytes = 64 << 10
	// The default of MaxDecodedBytes is twice MaxBodyBytes (128 MiB with
	// the default MaxBodyBytes): the decoded items are held in memory, so
	// this is also the bound on one request's memory.
	decodedPerBody = 2
)

// Limits bounds what Decode accepts. A zero or negative field means its
// default.
type Limits struct {
	// MaxBodyBytes bounds the body as received (compressed, if it is).
	// Default DefaultMaxBodyBytes (64 MiB).
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the body after gunzip (for a plain body, the
	// body itself); it refuses gzip bombs. Default twice MaxBodyBytes
	// (128 MiB by default).
	MaxDecodedBytes int64
	// MaxItems bounds the items of one body, valid or not. Default
	// DefaultMaxItems (64,000, the service's limit).
	MaxItems int
	// MaxItemBytes bounds one item, compacted. An item over it is a
	// per-item error (ErrItemTooLarge), not a whole-body error. An item
	// more than four times as large before compaction is refused without
	// being buffered. Default DefaultMaxItemBytes (64 KiB).
	MaxItemBytes int
}

// WithDefaults returns l with every zero or negative field replaced by its
// default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = decodedPerBody * l.MaxBodyBytes
		if l.MaxDecodedBytes < l.MaxBodyBytes { // overflow
			l.MaxDecodedBytes = l.MaxBodyBytes
		}
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxItemBytes <= 0 {
		l.MaxItemBytes = DefaultMaxItemBytes
	}
	return l
}

// Whole-body errors. Decode's error wraps one of them (or is a read error of
// the underlying reader); callers map them to HTTP statuses.
var (
	// ErrTooLarge: the body exceeds MaxBodyBytes as received or
	// MaxDecodedBytes after decompression, or holds more than MaxItems
	// items (HTTP 413).
	ErrTooLarge = errors.New("breeze: body too large")
	// ErrMalformed: the body cannot be parsed at all (HTTP 400).
	ErrMalformed = errors.New("breeze: malformed body")
	// ErrUnsupportedEncoding: the Content-Encoding is neither gzip nor
	// identity (HTTP 415).
	ErrUnsupportedEncoding = errors.New("breeze: unsupported content encoding")
)

// Per-item errors, wrapped by Item.Err.
var (
	// ErrInvalidJSON: the item is not valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrNotObject: the item is valid JSON but not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrItemTooLarge: the item exceeds MaxItemBytes.
	ErrItemTooLarge = errors.New("item too large")
)

// Item is one item of a body, in request order.
type Item struct {
	// Raw is the item's JSON object, compacted to one line, without a
	// trailing newline; nil if Err != nil.
	Raw []byte
	// Err is the item's problem (wrapping ErrInvalidJSON, ErrNotObject or
	// ErrItemTooLarge and naming the line or index); nil if it is fine.
	Err error
}

// Decode reads a whole ingestion body from r and returns its items in
// order. contentEncoding is the request's Content-Encoding header: "gzip"
// (or "x-gzip"), any case, or "" / "identity" for a plain body (sniffed for
// the gzip magic bytes all the same). The body is either a JSON array of
// objects or newline-delimited JSON objects; see the package documentation
// for the exact rules.
//
// On success every item is returned, bad ones with Err set; there is at
// least one item. On failure Decode returns nil and an error wrapping
// ErrTooLarge, ErrMalformed or ErrUnsupportedEncoding, or a read error of r.
// Decode stops reading as soon as a limit is exceeded, and never holds more
// than the decoded items plus a few buffers in memory.
func Decode(r io.Reader, contentEncoding string, lim Limits) ([]Item, error) {
	return DecodeCharged(r, contentEncoding, lim, nil)
}

// ItemOverhead is what DecodeCharged charges for each item on top of its
// bytes: the Item in the returned slice, with room for the slice's growth.
const ItemOverhead = 96

// DecodeCharged is [Decode] for a caller that accounts for the memory a
// decode holds, such as a budget shared by concurrent requests. charge,
// if not nil, is called with the number of decompressed bytes before they
// are parsed (the items' bytes are never more than those), and with
// ItemOverhead before each item is added. It may block. If it returns an
// error, decoding stops at once and DecodeCharged returns an error
// wrapping it.
func DecodeCharged(r io.Reader, contentEncoding string, lim Limits, charge func(n int64) error) ([]Item, error) {
	return decode(r, contentEncoding, lim, charge, false, nil, nil)
}

// DecodeLines is [DecodeCharged] for a caller that stores the items as
// lines of newline-delimited JSON: the Raw of each valid item is followed
// by a newline, included in its length, so that it can be stored without
// a copy. Everything else, limits and errors included, is as for
// DecodeCharged (MaxItemBytes applies to the item without its newline).
func DecodeLines(r io.Reader, contentEncoding string, lim Limits, charge func(n int64) error) ([]Item, error) {
	return decode(r, contentEncoding, lim, charge, true, nil, nil)
}

// Buffers keeps the buffers of decoding from one body to the next: the
// body's read buffer, the gzip reader's state and the decompressed
// stream's buffer, about 150 KiB together, and the memory of the items
// (up to keepArenaBytes of it), which a server would otherwise allocate
// (and clear) for every request. The zero value is ready to use. A
// Buffers serves one decode at a time (a server keeps several in a
// sync.Pool).
type Buffers struct {
	body    *bufio.Reader // the body as received
	gz      *gzip.Reader
	decoded *bufio.Reader // the decompressed stream
	// arenas are the backing arrays of the last decode's Item.Raw, and
	// items its Item slice: the next decode writes its items there.
	arenas [][]byte
	items  []Item
}

// What a Buffers keeps of a decode's item memory for the next: enough for
// a body of a few hundred typical envelopes; a larger body's further
// arenas are left to the garbage collector.
const (
	keepArenaBytes = 1 << 20
	keepItems      = 4096
)

// DecodeLines is [DecodeLines] with b's buffers. The items it returns
// share b's memory: they are valid until b's next decode, so b must not
// go back to a pool (or decode again) while they are in use.
func (b *Buffers) DecodeLines(r io.Reader, contentEncoding string, lim Limits, charge func(n int64) error) ([]Item, error) {
	return decode(r, contentEncoding, lim, charge, true, b, nil)
}

// DecodeLinesChecked is [Buffers.DecodeLines] for a caller that checks
// every valid item further (an envelope's schema): each item that
// DecodeLines would return valid is checked by check, and an error from
// it becomes the item's Err as it is. check must return an error for
// anything that is not one valid JSON value (as encoding/json judges it),
// accept an item compacted if it accepts it with insignificant whitespace,
// and keep nothing of its argument. Its compact result, for an item it
// accepts, says that the item certainly has no insignificant whitespace
// (between its tokens or at its ends); false if it cannot tell.
//
// That lets the decode skip its own passes over an item as encoders write
// JSON: check is first called with an object as received (within
// MaxItemBytes, without the newline), and if it accepts it, it is valid
// JSON; if check also finds it compact (or the item has no whitespace next
// to a JSON structural character { } [ ] : , nor at its ends), compacting
// it would copy it as it is, and the item is stored as it is; otherwise
// it is stored compacted, without a second check. An item that check
// refuses is compacted as by DecodeLines and, if valid JSON, checked again
// as compacted, for DecodeLines' message or check's on what DecodeLines
// returns. Items, errors and messages are those of DecodeLines followed by
// check.
func (b *Buffers) DecodeLinesChecked(r io.Reader, contentEncoding string, lim Limits, charge func(n int64) error, check func(item []byte) (compact bool, err error)) ([]Item, error) {
	return decode(r, contentEncoding, lim, charge, true, b, check)
}

// reader returns *br reset to read r, making it if it is nil.
func reader(br **bufio.Reader, r io.Reader, size int) *bufio.Reader {
	if *br == nil {
		*br = bufio.NewReaderSize(r, size)
	} else {
		(*br).Reset(r)
	}
	return *br
}

// decode decodes a body, with bufs' buffers if bufs is not nil; check is
// DecodeLinesChecked's, or nil.
func decode(r io.Reader, contentEncoding string, lim Limits, charge func(n int64) error, lines bool, bufs *Buffers, check func([]byte) (bool, error)) ([]Item, error) {
	if bufs == nil {
		bufs = new(Buffers)
	}
	lim = lim.WithDefaults()
	gz, err := parseEncoding(contentEncoding)
	if err != nil {
		return nil, err
	}
	body := &limitReader{r: r, limit: lim.MaxBodyBytes}
	bbr := reader(&bufs.body, body, 32<<10)
	if !gz {
		if magic, _ := bbr.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			gz = true
		}
	}
	var src io.Reader = bbr
	if gz {
		if magic, _ := bbr.Peek(2); len(magic) == 2 && (magic[0] != 0x1f || magic[1] != 0x8b) {
			return nil, fmt.Errorf("%w: Content-Encoding is gzip but the body is not gzip data", ErrMalformed)
		}
		var err error
		if bufs.gz == nil {
			bufs.gz, err = gzip.NewReader(bbr)
		} else {
			err = bufs.gz.Reset(bbr)
		}
		zr := bufs.gz
		if err != nil {
			if errors.Is(err, io.EOF) && !body.exceeded && body.readErr == nil {
				return nil, fmt.Errorf("%w: empty body", ErrMalformed)
			}
			return nil, decodeError(err, body, nil, lim)
		}
		defer zr.Close()
		src = zr
	}
	decoded := &limitReader{r: src, limit: lim.MaxDecodedBytes, charge: charge}
	d := newDecoder(reader(&bufs.decoded, decoded, readBufSize), lim)
	d.charge = charge
	d.lines = lines
	d.check = check
	d.free = bufs.arenas
	bufs.Forget() // an earlier decode's items, beyond its length too
	d.items = bufs.items[:0]
	items, err := d.run()
	bufs.keep(d)
	if err != nil {
		return nil, decodeError(err, body, decoded, lim)
	}
	return items, nil
}

// Retained returns the memory b keeps of earlier decodes' items for the
// next one (their arenas and Item slice): what a server that pools
// Buffers holds between requests, which it charges to whoever takes b.
func (b *Buffers) Retained() int64 {
	n := int64(cap(b.items)) * ItemOverhead
	for _, a := range b.arenas {
		n += int64(cap(a))
	}
	return n
}

// Forget drops b's references to the items of its last decode, which the
// caller no longer uses: their memory beyond what b keeps (see
// [Buffers.Retained]) can then be collected. A server calls it before it
// puts b back in its pool, so that a pooled Buffers holds no more than
// Retained reports.
func (b *Buffers) Forget() {
	clear(b.items[:cap(b.items)])
}

// Shed lets go of the item memory b keeps (see [Buffers.Retained]); the
// read buffers and gzip state stay.
func (b *Buffers) Shed() {
	b.arenas, b.items = nil, nil
}

// keep takes what d's decode allocated for its items, to be reused by the
// next decode, up to keepArenaBytes and keepItems.
func (b *Buffers) keep(d *decoder) {
	b.arenas = b.arenas[:0]
	total := 0
	for _, a := range d.used {
		if total+cap(a) > keepArenaBytes {
			break
		}
		total += cap(a)
		b.arenas = append(b.arenas, a[:0])
	}
	clear(d.used)
	b.items = nil
	if cap(d.items) <= keepItems {
		b.items = d.items[:0]
	}
}

// parseEncoding reports whether contentEncoding asks for gzip. It accepts a
// comma-separated list in which "identity" entries are ignored.
func parseEncoding(contentEncoding string) (gz bool, err error) {
	n := 0
	for coding := range strings.SplitSeq(contentEncoding, ",") {
		coding = strings.TrimSpace(coding)
		switch {
		case coding == "", strings.EqualFold(coding, "identity"):
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			gz = true
			n++
		default:
			return false, fmt.Errorf("%w: %q (only gzip and identity are supported)", ErrUnsupportedEncoding, clip(coding))
		}
	}
	if n > 1 {
		return false, fmt.Errorf("%w: gzip applied more than once", ErrUnsupportedEncoding)
	}
	return gz, nil
}

// decodeError turns a failure of the decoding pipeline into Decode's error:
// exceeded limits first (the pipeline's other errors are then symptoms),
// then read errors of the request body, then the parser's own errors, and
// last gzip format errors.
func decodeError(err error, body, decoded *limitReader, lim Limits) error {
	var ce *chargeError
	switch {
	case decoded != nil && decoded.charged != nil:
		return fmt.Errorf("breeze: %w", decoded.charged.err)
	case errors.As(err, &ce):
		return fmt.Errorf("breeze: %w", ce.err)
	case body.exceeded:
		return fmt.Errorf("%w: body exceeds %s", ErrTooLarge, formatBytes(lim.MaxBodyBytes))
	case decoded != nil && decoded.exceeded:
		return fmt.Errorf("%w: body exceeds %s after decompression", ErrTooLarge, formatBytes(lim.MaxDecodedBytes))
	case body.readErr != nil:
		return fmt.Errorf("breeze: reading body: %w", body.readErr)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrMalformed):
		return err
	}
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: invalid gzip data: truncated", ErrMalformed)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return fmt.Errorf("%w: invalid gzip data: %v", ErrMalformed, err)
	}
	// Any other error of the gzip reader is a format problem too: the
	// request body's own read errors were caught above.
	return fmt.Errorf("%w: invalid gzip data: %v", ErrMalformed, err)
}

// errLimit is returned by a limitReader past its limit; decodeError reports
// the limit from the reader's state, never this error itself.
var errLimit = errors.New("breeze: read limit exceeded")

// limitReader reads at most limit bytes from r and notes whether the
// source holds more (exceeded) and the first read error of r other than
// io.EOF (readErr).
type limitReader struct {
	r        io.Reader
	limit    int64
	n        int64
	exceeded bool
	readErr  error
	charge   func(int64) error // called with the bytes read, if set
	charged  *chargeError      // charge's error, returned by every later Read
}

// chargeError carries an error of DecodeCharged's charge function through
// the decoder.
type chargeError struct{ err error }

func (e *chargeError) Error() string { return e.err.Error() }
func (e *chargeError) Unwrap() error { return e.err }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errLimit
	}
	if l.charged != nil {
		return 0, l.charged
	}
	// Read one byte past the limit to tell "exactly at the limit" from
	// "over it".
	if rem := l.limit - l.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		l.exceeded = true
		return n - int(l.n-l.limit), errLimit
	}
	if err != nil && err != io.EOF && l.readErr == nil && !errors.Is(err, errLimit) {
		l.readErr = err
	}
	if n > 0 && l.charge != nil {
		if cerr := l.charge(int64(n)); cerr != nil {
			l.charged = &chargeError{cerr}
			return 0, l.charged
		}
	}
	return n, err
}

// formatBytes renders a byte count for an error message: "64 MiB",
// "1.5 KiB", "100 bytes".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if n%div == 0 {
		return fmt.Sprintf("%d %s", n/div, suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// clip shortens a client-supplied string for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
