package sender

import (
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// envelope returns a realistic request envelope of about size bytes (at
// least ~700), ending in '\n', varying ids and times like real traffic.
func envelope(rng *rand.Rand, i, size int) []byte {
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for k := range b {
			b[k] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	t := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 137 * time.Microsecond)
	s := fmt.Sprintf(`{"ver":1,"name":"Microsoft.ApplicationInsights.Request","time":"%s","iKey":"00000000-0000-0000-0000-000000000000",`+
		`"tags":{"ai.operation.id":"%s","ai.operation.parentId":"%s","ai.operation.name":"GET /api/orders/{id}","ai.cloud.role":"shop.checkout",`+
		`"ai.cloud.roleInstance":"checkout-7f9c8d6b5-x2x9z","ai.internal.sdkVersion":"go1.26:otel1.47:ext0.1"},`+
		`"data":{"baseType":"RequestData","baseData":{"ver":2,"id":"%s","name":"GET /api/orders/{id}","duration":"0.00:00:00.%07d",`+
		`"responseCode":"200","success":true,"url":"https://shop.example.com/api/orders/%d","properties":{"http.method":"GET",`+
		`"user_agent.original":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36","server.address":"shop.example.com","order.id":"%d"`,
		t.Format("2006-01-02T15:04:05.0000000Z"), hex(32), hex(16), hex(16), rng.IntN(10_000_000), rng.IntN(1_000_000), i)
	var b strings.Builder
	b.WriteString(s)
	for k := 0; b.Len() < size-40; k++ {
		fmt.Fprintf(&b, `,"attr.%d":"%s"`, k, hex(12))
	}
	b.WriteString("}}}}\n")
	return []byte(b.String())
}

func makeRecords(n, size int) []spool.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]spool.Record, n)
	for i := range recs {
		recs[i] = spool.Record{Data: envelope(rng, i, size)}
	}
	return recs
}

func TestBodyEncode(t *testing.T) {
	pool, err := newBodyPool(gzip.BestSpeed, 1)
	if err != nil {
		t.Fatal(err)
	}
	recs := []spool.Record{{Data: []byte("{\"a\":1}\n")}, {Data: []byte(`{"b":2}`)}, {Data: []byte("{\"c\":3}\n")}}
	tests := []struct {
		name string
		idx  []int
		want string
	}{
		{"all", nil, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"},
		{"subset keeps order given", []int{2, 0}, "{\"c\":3}\n{\"a\":1}\n"},
		{"missing newline added", []int{1}, "{\"b\":2}\n"},
		{"empty", []int{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := pool.get()
			defer b.release()
			if err := b.encode(recs, tc.idx); err != nil {
				t.Fatal(err)
			}
			if got := string(testkit.Gunzip(t, b.bytes())); got != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
			if b.raw != len(tc.want) {
				t.Errorf("raw = %d, want %d", b.raw, len(tc.want))
			}
		})
	}
	// A reused body starts afresh.
	b := pool.get()
	for range 3 {
		if err := b.encode(recs, []int{0}); err != nil {
			t.Fatal(err)
		}
		if got := string(testkit.Gunzip(t, b.bytes())); got != "{\"a\":1}\n" {
			t.Fatalf("reused body = %q", got)
		}
	}
	b.release()
	if _, err := newBodyPool(42, 1); err == nil {
		t.Error("level 42 accepted")
	}
}

// TestBodyWriterReuse: bodies share the pool's gzip writers, one body's
// compression never touches another's bytes, and no more bodies are
// compressed at once than the pool has writers.
func TestBodyWriterReuse(t *testing.T) {
	pool, err := newBodyPool(gzip.BestSpeed, 1)
	if err != nil {
		t.Fatal(err)
	}
	recs := makeRecords(50, 700)
	bodies := make([]*body, 4)
	var first *kgzip.Writer
	for i := range bodies {
		bodies[i] = pool.get()
		if err := bodies[i].encode(recs, []int{i, i + 10}); err != nil {
			t.Fatal(err)
		}
		zw := <-pool.writers
		if first == nil {
			first = zw
		}
		if zw == nil || zw != first {
			t.Fatalf("body %d: the pool's writer is %p, want the first one made, %p", i, zw, first)
		}
		pool.writers <- zw
	}
	for i, b := range bodies {
		want := string(recs[i].Data) + string(recs[i+10].Data)
		if got := string(testkit.Gunzip(t, b.bytes())); got != want {
			t.Errorf("body %d = %.40q…, want %.40q…", i, got, want)
		}
		b.release()
	}
	pool, err = newBodyPool(gzip.BestSpeed, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Both writers busy: a third compression waits for one to come back.
	zw1, zw2 := pool.writer(io.Discard), pool.writer(io.Discard)
	got := make(chan *kgzip.Writer)
	go func() { got <- pool.writer(io.Discard) }()
	select {
	case <-got:
		t.Fatal("a third writer was handed out while both were busy")
	case <-time.After(20 * time.Millisecond):
	}
	pool.putWriter(zw1)
	zw3 := <-got
	if zw3 != zw1 {
		t.Error("the waiting body did not get the writer given back")
	}
	pool.putWriter(zw2)
	pool.putWriter(zw3)
}

// BenchmarkBody measures records → gzip body for 1 KiB envelopes, per level.
// Reported: MB/s of uncompressed input, ns per envelope, compression ratio.
func BenchmarkBody(b *testing.B) {
	const n, size = 2000, 1024
	recs := makeRecords(n, size)
	raw := 0
	for _, r := range recs {
		raw += len(r.Data)
	}
	for _, level := range []int{kgzip.HuffmanOnly, kgzip.BestSpeed, 2, 3, 5} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			pool, err := newBodyPool(level, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			var out int
			for b.Loop() {
				body := pool.get()
				if err := body.encode(recs, nil); err != nil {
					b.Fatal(err)
				}
				out = len(body.bytes())
				body.release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/envelope")
			b.ReportMetric(float64(raw)/float64(out), "ratio")
		})
	}
}
