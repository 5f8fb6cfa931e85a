package sender

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/aispool/aispool/spool"
)

// body is one gzip'd request body, built from records that are each one JSON
// envelope line. Get one from a bodyPool, release it after the request.
//
// The gzip writer (whose deflate state is about 1 MiB to allocate) is not
// part of the body: a body holds one only while it is encoded, so the
// requests waiting for their answers hold their compressed bytes and
// nothing more, and the writers live in a small free list of their own,
// which a garbage collection does not empty (a sync.Pool would, and every
// cycle would build them anew).
type body struct {
	buf  bytes.Buffer
	raw  int // uncompressed bytes
	pool *bodyPool
}

// bodyPool recycles bodies and gzip writers for one compression level.
type bodyPool struct {
	level  int
	bodies sync.Pool
	// writers holds idle gzip writers: at most as many as requests can be
	// encoded at once (MaxInFlight), so what it keeps is bounded.
	writers chan *gzip.Writer
}

// newBodyPool returns a pool for the gzip level that keeps at most keep
// idle writers.
func newBodyPool(level, keep int) (*bodyPool, error) {
	// Validate the level once, so that get never fails.
	if _, err := gzip.NewWriterLevel(nil, level); err != nil {
		return nil, fmt.Errorf("sender: gzip level %d: %w", level, err)
	}
	return &bodyPool{level: level, writers: make(chan *gzip.Writer, max(keep, 1))}, nil
}

func (p *bodyPool) get() *body {
	if b, ok := p.bodies.Get().(*body); ok {
		return b
	}
	return &body{pool: p}
}

// writer returns a gzip writer writing to w: an idle one, or a new one.
func (p *bodyPool) writer(w io.Writer) *gzip.Writer {
	select {
	case zw := <-p.writers:
		zw.Reset(w)
		return zw
	default:
		zw, _ := gzip.NewWriterLevel(w, p.level) // level validated in newBodyPool
		return zw
	}
}

// putWriter keeps zw for the next body, unless enough are idle.
func (p *bodyPool) putWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard) // do not keep the last body's buffer reachable
	select {
	case p.writers <- zw:
	default:
	}
}

// release returns b to its pool. Large buffers are not kept, so one huge
// batch does not pin memory forever.
func (b *body) release() {
	const keep = 16 << 20
	if b.buf.Cap() > keep {
		return
	}
	b.pool.bodies.Put(b)
}

var newline = []byte{'\n'}

// encode fills b with the gzip'd concatenation of recs[idx[i]].Data (of all
// records when idx is nil). A record that does not end in '\n' gets one, so
// the body is always newline-delimited JSON.
func (b *body) encode(recs []spool.Record, idx []int) error {
	b.buf.Reset()
	b.raw = 0
	zw := b.pool.writer(&b.buf)
	defer b.pool.putWriter(zw)
	n := len(recs)
	if idx != nil {
		n = len(idx)
	}
	for i := range n {
		j := i
		if idx != nil {
			j = idx[i]
		}
		rec := recs[j].Data
		if _, err := zw.Write(rec); err != nil {
			return fmt.Errorf("sender: compress body: %w", err)
		}
		b.raw += len(rec)
		if len(rec) == 0 || rec[len(rec)-1] != '\n' {
			if _, err := zw.Write(newline); err != nil {
				return fmt.Errorf("sender: compress body: %w", err)
			}
			b.raw++
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("sender: compress body: %w", err)
	}
	return nil
}

// bytes returns the compressed body; valid until the next encode or release.
func (b *body) bytes() []byte { return b.buf.Bytes() }
