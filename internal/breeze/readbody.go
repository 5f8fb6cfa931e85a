package breeze

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// ReadBody reads a whole request body for a caller that decodes it itself
// (the daemon's OTLP intake) under the same rules as Decode: the
// Content-Encoding gzip or identity (any other is ErrUnsupportedEncoding),
// at most lim.MaxBodyBytes as received and lim.MaxDecodedBytes after
// decompression (ErrTooLarge), a broken gzip stream or an empty body
// ErrMalformed. Unlike Decode it does not sniff a gzip body sent without
// its header: protocols with a content type say what they send.
//
// sizeHint, if positive, is the expected decoded size (a plain body's
// Content-Length), used for the first allocation. charge, if not nil, is
// called with the bytes of every allocation of the returned slice before
// it is made, and may block; an error from it stops the read and
// ReadBody returns an error wrapping it.
func ReadBody(r io.Reader, contentEncoding string, sizeHint int64, lim Limits, charge func(n int64) error) ([]byte, error) {
	lim = lim.WithDefaults()
	gz, err := parseEncoding(contentEncoding)
	if err != nil {
		return nil, err
	}
	body := &limitReader{r: r, limit: lim.MaxBodyBytes}
	var src io.Reader = body
	if gz {
		zr, err := gzip.NewReader(body)
		if err != nil {
			if errors.Is(err, io.EOF) && !body.exceeded && body.readErr == nil {
				return nil, fmt.Errorf("%w: empty body", ErrMalformed)
			}
			return nil, decodeError(err, body, nil, lim)
		}
		defer zr.Close()
		src = zr
		sizeHint = 0 // unknown: the compressed size says little
	}
	decoded := &limitReader{r: src, limit: lim.MaxDecodedBytes}
	const minChunk = 32 << 10
	size := max(minChunk, min(sizeHint, lim.MaxDecodedBytes)+1) // +1: room to see the end
	if charge != nil {
		if err := charge(size); err != nil {
			return nil, fmt.Errorf("breeze: %w", err)
		}
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			grow := min(int64(cap(buf)), lim.MaxDecodedBytes+1-int64(cap(buf)))
			grow = max(grow, minChunk)
			if charge != nil {
				if err := charge(grow); err != nil {
					return nil, fmt.Errorf("breeze: %w", err)
				}
			}
			next := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(next, buf)
			buf = next
		}
		n, err := decoded.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, decodeError(err, body, decoded, lim)
		}
	}
	if body.readErr != nil {
		return nil, fmt.Errorf("breeze: reading body: %w", body.readErr)
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	return buf, nil
}
