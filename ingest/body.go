package ingest

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Defaults of the minimum body rate (Config.MinBodyRate, BodyRateGrace).
const (
	DefaultMinBodyRate   = 4 << 10 // bytes per second
	DefaultBodyRateGrace = 5 * time.Second
)

// errBodyTooSlow: the body arrived slower than the minimum rate, or not
// within ReadTimeout (408).
var errBodyTooSlow = errors.New("the body arrived too slowly")

// rateReader reads a request body under the minimum rate rule: t after the
// start, at least rate × (t − grace − waited) bytes must have arrived,
// where waited is the time the request spent waiting for memory; and the
// whole body within ReadTimeout of the start. It enforces the rule with
// the connection's read deadline, set before each read, so that a client
// that stops sending is cut while the read blocks.
type rateReader struct {
	r     io.Reader
	rc    *http.ResponseController
	mem   *lease // its waited time does not count
	start time.Time
	rate  float64 // bytes per second
	grace time.Duration
	n     int64
	ok    bool // the connection takes read deadlines
}

func newRateReader(w http.ResponseWriter, r *http.Request, mem *lease, rate int64, grace time.Duration, start time.Time) *rateReader {
	return &rateReader{r: r.Body, rc: http.NewResponseController(w), mem: mem, start: start,
		rate: float64(rate), grace: grace, ok: true}
}

// deadline is when the next byte must have arrived. It has holderWait to
// spare: the request may wait that long for memory between two reads, and
// an HTTP/2 stream's deadline fires even when no read is pending.
func (b *rateReader) deadline() time.Time {
	d := b.start.Add(b.grace + holderWait + b.mem.waited + time.Duration(float64(b.n)/b.rate*float64(time.Second)))
	if limit := b.start.Add(ReadTimeout + b.mem.waited); d.After(limit) {
		return limit
	}
	return d
}

func (b *rateReader) Read(p []byte) (int, error) {
	if b.ok {
		if err := b.rc.SetReadDeadline(b.deadline()); err != nil {
			b.ok = false // not supported (a test recorder): no minimum
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && b.ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errBodyTooSlow
	}
	return n, err
}

// done lifts the rule once the whole body is read: the connection's next
// request gets its deadlines from the server. (After a refusal the rule
// stays, and bounds what net/http discards of the rest of the body.)
func (b *rateReader) done() {
	if b.ok {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}
