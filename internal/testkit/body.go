package testkit

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

// NDJSON joins items (JSON values, one line each, as strings or bytes)
// into a newline-delimited body: every item followed by a newline.
func NDJSON[T ~string | ~[]byte](items ...T) []byte {
	var b bytes.Buffer
	for _, it := range items {
		b.WriteString(string(it))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// JSONArray joins items (as strings or bytes) into a JSON array body, one
// item per line after the first as a pretty-printer would put them
// ("[a,\n b]").
func JSONArray[T ~string | ~[]byte](items ...T) []byte {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = string(it)
	}
	return []byte("[" + strings.Join(parts, ",\n ") + "]")
}

// Gzip compresses b (a string or bytes) with gzip at the default level, as
// a request body with Content-Encoding: gzip.
func Gzip[T ~string | ~[]byte](b T) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write([]byte(b)) // into a bytes.Buffer: cannot fail
	_ = zw.Close()
	return out.Bytes()
}

// Gunzip decompresses a gzip body, failing the test if it is not one.
func Gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}
