package fakeingest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/aispool/aispool/internal/breeze"
)

// BodyMode says how an Endpoint reads request bodies (Config.Bodies).
type BodyMode int

// Body modes.
const (
	// DecodeBodies, the default, decodes every item (as the daemon's
	// local endpoint does), refuses the items that are not valid
	// envelopes with a per-item 400 and records every item by id.
	DecodeBodies BodyMode = iota
	// CountBodies gunzips each body and counts its lines as items,
	// without decoding them: for load tests, where the endpoint must cost
	// little. Every item of a processed request is accepted; items are
	// counted (Stats.ItemsReceived, ItemsAccepted), neither validated nor
	// tracked by id.
	CountBodies
	// DiscardBodies reads each body as received into io.Discard, without
	// gunzipping it: items are not even counted, and a processed request
	// is answered 200 with zero counts (a 200 acknowledges every item,
	// whatever its body says). Requests and Stats.BodyBytes are counted.
	DiscardBodies
)

// String names the mode as its constant does.
func (m BodyMode) String() string {
	switch m {
	case DecodeBodies:
		return "DecodeBodies"
	case CountBodies:
		return "CountBodies"
	case DiscardBodies:
		return "DiscardBodies"
	}
	return fmt.Sprintf("BodyMode(%d)", int(m))
}

// SetUnavailable makes the endpoint answer every track request 503 Service
// Unavailable, without a Retry-After, while on is true, whatever its
// profile says: as during an outage window of mode "503" (the requests'
// outcome is "outage_503"). A test calls it to take the endpoint down and
// bring it back at moments of its choosing; it may be called before Start.
func (e *Endpoint) SetUnavailable(on bool) { e.unavailable.Store(on) }

// serveCounted serves a track request in the counting modes: the body is
// counted, not decoded, and every item gets the same answer: accepted if
// the plan processes the request, else the whole-request status's.
func (l *listener) serveCounted(w http.ResponseWriter, r *http.Request, pl plan, at time.Time, log *slog.Logger) {
	e := l.e
	n, size, err := e.count(r)
	if err != nil {
		l.badBody(w, r, err, at, log)
		return
	}
	resp := breeze.TrackResponse{ItemsReceived: n, Errors: []breeze.ItemError{}}
	status := pl.status
	var all itemAnswer
	switch {
	case pl.fault.processes():
		status, all.accepted, resp.ItemsAccepted = http.StatusOK, true, n
	case pl.fault == FaultWrongEndpoint || KeepsWholeRequest(status):
		all.retry = true
	default:
		all.reason = dropReason(status, false)
	}
	l.finish(w, r, pl, status, resp, log, func(label string, lost bool) {
		e.rec.counted(at, l.name, label, lost, n, all, processedBytes(pl, size))
	})
}

// count reads the request's body without decoding it. It returns how many
// items the body holds (its lines after gunzip with CountBodies, a last line
// without a newline included; 0 with DiscardBodies) and its size as
// received. Its errors wrap breeze.ErrTooLarge (a body over
// MaxBodyBytes, or over MaxDecodedBytes after gunzip),
// breeze.ErrUnsupportedEncoding or breeze.ErrMalformed (not gzip
// data), so that badBody answers them as it answers a body that does not
// decode.
func (e *Endpoint) count(r *http.Request) (int, int64, error) {
	lim := e.limits.WithDefaults()
	body := &bodyReader{r: r.Body, limit: lim.MaxBodyBytes}
	bp, _ := e.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 64<<10)
		bp = &b
	}
	defer e.bufs.Put(bp)
	if e.cfg.Bodies == DiscardBodies {
		if _, err := io.CopyBuffer(io.Discard, body, *bp); err != nil {
			return 0, 0, fmt.Errorf("chaos: read body: %w", err)
		}
		return 0, body.n, nil
	}
	gz, err := wantsGzip(r.Header.Get("Content-Encoding"))
	if err != nil {
		return 0, 0, err
	}
	lines := &lineCounter{limit: lim.MaxDecodedBytes}
	if gz {
		err = e.gunzip(lines, body, *bp)
	} else {
		_, err = io.CopyBuffer(lines, body, *bp)
	}
	if err == nil {
		_, err = io.CopyBuffer(io.Discard, body, *bp) // what follows the gzip stream
	}
	if err != nil {
		return 0, 0, err
	}
	return int(lines.items()), body.n, nil
}

// gunzip writes the gunzipped body to w with a pooled gzip reader.
func (e *Endpoint) gunzip(w io.Writer, body io.Reader, buf []byte) error {
	zr, _ := e.zrs.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(body)
	} else {
		err = zr.Reset(body)
	}
	if err == nil {
		_, err = io.CopyBuffer(w, zr, buf)
		e.zrs.Put(zr)
	}
	if err != nil {
		return fmt.Errorf("chaos: gunzip body: %w", err)
	}
	return nil
}

// wantsGzip reports whether a Content-Encoding asks for gzip: "gzip" or
// "x-gzip"; "" and "identity" are plain, anything else unsupported.
func wantsGzip(contentEncoding string) (bool, error) {
	switch ce := strings.TrimSpace(contentEncoding); {
	case ce == "", strings.EqualFold(ce, "identity"):
		return false, nil
	case strings.EqualFold(ce, "gzip"), strings.EqualFold(ce, "x-gzip"):
		return true, nil
	}
	return false, fmt.Errorf("%w: %q (only gzip and identity are supported)", breeze.ErrUnsupportedEncoding, contentEncoding)
}

// bodyReader counts the bytes read through it and fails once more than
// limit were read (no limit if limit ≤ 0).
type bodyReader struct {
	r        io.Reader
	n, limit int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.limit > 0 && b.n > b.limit {
		return n, fmt.Errorf("%w: body exceeds %d bytes", breeze.ErrTooLarge, b.limit)
	}
	return n, err
}

// lineCounter counts the newline-terminated lines written to it (a last
// line without a newline counts too, see items), and fails once more than
// limit bytes were written.
type lineCounter struct {
	lines, n, limit int64
	last            byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.n += int64(len(p))
	if len(p) > 0 {
		c.last = p[len(p)-1]
	}
	if c.n > c.limit {
		return len(p), fmt.Errorf("%w: body exceeds %d bytes after decompression", breeze.ErrTooLarge, c.limit)
	}
	return len(p), nil
}

// items is the number of lines written.
func (c *lineCounter) items() int64 {
	if c.n > 0 && c.last != '\n' {
		return c.lines + 1
	}
	return c.lines
}
