package breeze

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/aispool/aispool/internal/testkit"
)

// gzBomb returns a gzip stream of about 1 MiB that inflates to 1 GiB: a
// first member holding first padded to 1 MiB with fill, then 1023 members of
// 1 MiB of fill (a multi-member stream is one body to gzip readers).
func gzBomb(t testing.TB, first string, fill byte) (r io.Reader, compressed int) {
	t.Helper()
	const mib = 1 << 20
	head := testkit.Gzip(first + strings.Repeat(string(fill), mib-len(first)))
	member := testkit.Gzip(strings.Repeat(string(fill), mib))
	return &testkit.RepeatReader{Prefix: head, Unit: member, N: 1023}, len(head) + 1023*len(member)
}

// measure runs f and returns its duration and the bytes it allocated.
func measure(f func()) (d time.Duration, alloc uint64) {
	alloc = testkit.Allocated(func() {
		start := time.Now()
		f()
		d = time.Since(start)
	})
	return d, alloc
}

func TestDecodeGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 128 MiB per case")
	}
	tests := []struct {
		name  string
		first string
		fill  byte
		err   error
	}{
		// Not JSON at all: refused at the first byte.
		{"zeros", "", 0, ErrMalformed},
		// An array of whitespace: refused at MaxDecodedBytes.
		{"array of spaces", "[", ' ', ErrTooLarge},
		// One endless NDJSON line: over the item cap, discarded, then
		// refused at MaxDecodedBytes.
		{"endless line", `{"a":"`, 'x', ErrTooLarge},
		// Endless nesting: no recursion, refused at MaxDecodedBytes.
		{"endless nesting", "[", '[', ErrTooLarge},
		// Many small items: refused at MaxItems.
		{"many items", "", '\n', ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, size := gzBomb(t, tt.first, tt.fill)
			if tt.name == "many items" {
				r, size = gzBomb(t, strings.Repeat("{}\n", 100_000), '\n')
			}
			var err error
			d, alloc := measure(func() { _, err = Decode(r, "gzip", Limits{}) })
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode err = %v, want %v", err, tt.err)
			}
			t.Logf("%.1f MiB inflating to 1 GiB: %v in %v, %.1f MiB allocated", float64(size)/(1<<20), err, d, float64(alloc)/(1<<20))
			// Many items: the []Item (40 bytes each, grown by
			// doubling) dominates.
			if alloc > 16<<20 {
				t.Errorf("allocated %d bytes refusing a gzip bomb", alloc)
			}
		})
	}
}

// TestDecodeGzipBombSingleStream refuses one real gzip stream of 1 GiB of
// zeros, produced on the fly by a compressor that stops once Decode stops
// reading.
func TestDecodeGzipBombSingleStream(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		zero := make([]byte, 1<<20)
		for range 1024 {
			if _, err := zw.Write(zero); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(zw.Close())
	}()
	var err error
	d, alloc := measure(func() { _, err = Decode(pr, "gzip", Limits{}) })
	_ = pr.Close()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode err = %v, want ErrMalformed", err)
	}
	t.Logf("1 GiB of zeros, one gzip stream: %v in %v, %.1f MiB allocated", err, d, float64(alloc)/(1<<20))
}

func TestDecode100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB per case")
	}
	const size = 100_000_000
	line := []byte(`{"name":"Microsoft.ApplicationInsights.Message","time":"2026-11-25T11:58:41.8330000Z","iKey":"11111111-2222-3333-4444-555555555555","data":{"baseType":"MessageData","baseData":{"ver":2,"message":"` + strings.Repeat("m", 2000) + `"}}}` + "\n")
	tests := []struct {
		name     string
		r        func() io.Reader
		maxAlloc uint64
	}{
		// One line of 100 MB: the line is discarded past the item cap,
		// the body refused at MaxBodyBytes; nothing is buffered.
		{"one line", func() io.Reader {
			return &testkit.RepeatReader{Prefix: []byte(`{"a":"`), Unit: bytes.Repeat([]byte("x"), 1<<20), N: size >> 20}
		}, 8 << 20},
		// 100 MB of valid envelopes: the items read until the limit are
		// held (the API returns them all), then dropped with the error.
		{"valid items", func() io.Reader {
			return &testkit.RepeatReader{Unit: line, N: size/len(line) + 1}
		}, 3 * uint64(DefaultMaxBodyBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			d, alloc := measure(func() { _, err = Decode(tt.r(), "", Limits{}) })
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "body exceeds 64 MiB") {
				t.Fatalf("Decode err = %v, want ErrTooLarge at 64 MiB", err)
			}
			t.Logf("100 MB plain body: %v in %v, %.1f MiB allocated", err, d, float64(alloc)/(1<<20))
			if alloc > tt.maxAlloc {
				t.Errorf("allocated %d bytes, want at most %d", alloc, tt.maxAlloc)
			}
		})
	}
}
