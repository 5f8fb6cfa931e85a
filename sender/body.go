package sender

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/aispool/aispool/spool"
)

// body is one gzip'd request body, built from records that are each one JSON
// envelope line. Bodies are pooled with their gzip writer (whose deflate state
// is about 1 MiB to allocate): get one from a bodyPool, release it after the
// request.
type body struct {
	buf  bytes.Buffer
	zw   *gzip.Writer
	raw  int // uncompressed bytes
	pool *bodyPool
}

// bodyPool recycles bodies for one compression level.
type bodyPool struct {
	level int
	pool  sync.Pool
}

func newBodyPool(level int) (*bodyPool, error) {
	// Validate the level once, so that get never fails.
	if _, err := gzip.NewWriterLevel(nil, level); err != nil {
		return nil, fmt.Errorf("sender: gzip level %d: %w", level, err)
	}
	return &bodyPool{level: level}, nil
}

func (p *bodyPool) get() *body {
	if b, ok := p.pool.Get().(*body); ok {
		return b
	}
	b := &body{pool: p}
	b.zw, _ = gzip.NewWriterLevel(&b.buf, p.level) // level validated in newBodyPool
	return b
}

// release returns b to its pool. Large buffers are not kept, so one huge
// batch does not pin memory forever.
func (b *body) release() {
	const keep = 16 << 20
	if b.buf.Cap() > keep {
		return
	}
	b.pool.pool.Put(b)
}

var newline = []byte{'\n'}

// encode fills b with the gzip'd concatenation of recs[idx[i]].Data (of all
// records when idx is nil). A record that does not end in '\n' gets one, so
// the body is always newline-delimited JSON.
func (b *body) encode(recs []spool.Record, idx []int) error {
	b.buf.Reset()
	b.zw.Reset(&b.buf)
	b.raw = 0
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
		if _, err := b.zw.Write(rec); err != nil {
			return fmt.Errorf("sender: compress body: %w", err)
		}
		b.raw += len(rec)
		if len(rec) == 0 || rec[len(rec)-1] != '\n' {
			if _, err := b.zw.Write(newline); err != nil {
				return fmt.Errorf("sender: compress body: %w", err)
			}
			b.raw++
		}
	}
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("sender: compress body: %w", err)
	}
	return nil
}

// bytes returns the compressed body; valid until the next encode or release.
func (b *body) bytes() []byte { return b.buf.Bytes() }
