package breeze

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func TestReadBody(t *testing.T) {
	plain := bytes.Repeat([]byte("0123456789"), 10000) // 100,000 bytes
	bomb := gzipped(t, make([]byte, 1<<20))
	lim := Limits{MaxBodyBytes: 200000, MaxDecodedBytes: 300000}
	errCharge := errors.New("budget")
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string
		hint     int64
		lim      Limits
		charge   func(int64) error
		want     []byte
		err      error
	}{
		{name: "plain", body: plain, want: plain, lim: lim},
		{name: "plain with exact hint", body: plain, hint: int64(len(plain)), want: plain, lim: lim},
		{name: "plain with wrong hint", body: plain, hint: 10, want: plain, lim: lim},
		{name: "gzip", body: gzipped(t, plain), encoding: "gzip", want: plain, lim: lim},
		{name: "identity, case", body: plain, encoding: "Identity", want: plain, lim: lim},
		{name: "over the body limit", body: plain, lim: Limits{MaxBodyBytes: 99999}, err: ErrTooLarge},
		{name: "exactly at the limits", body: plain, lim: Limits{MaxBodyBytes: 100000, MaxDecodedBytes: 100000}, want: plain},
		{name: "gzip bomb", body: bomb, encoding: "gzip", lim: lim, err: ErrTooLarge},
		{name: "gzip header, plain body", body: plain, encoding: "gzip", lim: lim, err: ErrMalformed},
		{name: "truncated gzip", body: gzipped(t, plain)[:100], encoding: "gzip", lim: lim, err: ErrMalformed},
		{name: "empty", body: nil, lim: lim, err: ErrMalformed},
		{name: "empty gzip", body: nil, encoding: "gzip", lim: lim, err: ErrMalformed},
		{name: "br", body: plain, encoding: "br", lim: lim, err: ErrUnsupportedEncoding},
		{name: "charge refuses", body: plain, lim: lim, charge: func(int64) error { return errCharge }, err: errCharge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var charged int64
			charge := tc.charge
			if charge == nil {
				charge = func(n int64) error { charged += n; return nil }
			}
			got, err := ReadBody(bytes.NewReader(tc.body), tc.encoding, tc.hint, tc.lim, charge)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
			if charged < int64(cap(got)) {
				t.Errorf("charged %d bytes for a buffer of %d", charged, cap(got))
			}
			if charged > 2*int64(len(got))+64<<10 {
				t.Errorf("charged %d bytes for %d", charged, len(got))
			}
		})
	}
}

// TestReadBodyReadError: a failing connection is a read error, not a
// malformed body.
func TestReadBodyReadError(t *testing.T) {
	broken := io.MultiReader(strings.NewReader("abc"), errReader{})
	_, err := ReadBody(broken, "", 0, Limits{}, nil)
	if err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "reading body") {
		t.Fatalf("err %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
