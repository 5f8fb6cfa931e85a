package testkit

import (
	"io"
	"runtime"
	"sync/atomic"
)

// RepeatReader yields Prefix, then Unit N times, without holding the whole
// stream in memory: a large request body (a gzip bomb, a body over a limit)
// made of a few small pieces. It counts the bytes read (BytesRead), so that
// a test can check where its consumer stopped. Read it from one goroutine;
// BytesRead may be called from any.
type RepeatReader struct {
	Prefix, Unit []byte
	N            int

	off  int
	read atomic.Int64
}

// Read implements io.Reader.
func (r *RepeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		var src []byte
		switch {
		case len(r.Prefix) > 0:
			src = r.Prefix
		case r.N > 0 && len(r.Unit) > 0:
			src = r.Unit[r.off:]
		default:
			r.read.Add(int64(total))
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
		n := copy(p, src)
		p, total = p[n:], total+n
		if len(r.Prefix) > 0 {
			r.Prefix = r.Prefix[n:]
			continue
		}
		if r.off += n; r.off == len(r.Unit) {
			r.off, r.N = 0, r.N-1
		}
	}
	r.read.Add(int64(total))
	return total, nil
}

// BytesRead returns how many bytes Read has returned so far.
func (r *RepeatReader) BytesRead() int64 { return r.read.Load() }

// Allocated runs f and returns the bytes the process allocated meanwhile
// (every goroutine's, after a GC first): for tests that bound the memory a
// request costs, with a generous margin.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
