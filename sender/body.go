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
// part of the body: a body borrows one of its pool's writers only while it
// is compressed, so the requests waiting for their answers hold their
// compressed bytes and nothing more. The writers are made once and kept (a
// sync.Pool would drop them at every garbage collection, and the next
// requests would build them anew).
type body struct {
	buf  bytes.Buffer
	raw  int // uncompressed bytes
	pool *bodyPool
}

// bodyPool recycles bodies for one compression level, and holds the gzip
// writers they are compressed with.
type bodyPool struct {
	level  int
	bodies sync.Pool
	// writers has one slot per writer, nil until the writer is first
	// needed. A body takes a slot to compress and gives it back: at most
	// cap(writers) bodies are compressed at once, and compression never
	// holds more than that many writers, whatever the requests in flight.
	writers chan *gzip.Writer
}

// newBodyPool returns a pool for the gzip level with the given number of
// writers (at least one).
func newBodyPool(level, writers int) (*bodyPool, error) {
	// Validate the level once, so that get never fails.
	if _, err := gzip.NewWriterLevel(nil, level); err != nil {
		return nil, fmt.Errorf("sender: gzip level %d: %w", level, err)
	}
	p := &bodyPool{level: level, writers: make(chan *gzip.Writer, max(writers, 1))}
	for range cap(p.writers) {
		p.writers <- nil
	}
	return p, nil
}

func (p *bodyPool) get() *body {
	if b, ok := p.bodies.Get().(*body); ok {
		return b
	}
	return &body{pool: p}
}

// writer returns a gzip writer writing to w, waiting while every writer is
// busy compressing another body. Give it back with putWriter.
func (p *bodyPool) writer(w io.Writer) *gzip.Writer {
	zw := <-p.writers
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(w, p.level) // level validated in newBodyPool
		return zw
	}
	zw.Reset(w)
	return zw
}

// putWriter gives zw back to the pool.
func (p *bodyPool) putWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard) // do not keep the last body's buffer reachable
	p.writers <- zw
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
