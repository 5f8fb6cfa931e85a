package testkit

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// TestSelfSignedCert serves HTTPS on loopback with the certificate and
// checks that a client trusting the pool completes the handshake, by IP
// and by name, and that one without it does not.
func TestSelfSignedCert(t *testing.T) {
	certFile, keyFile, pool := SelfSignedCert(t, t.TempDir())
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, url := range []string{srv.URL, "https://localhost" + port} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
		if err != nil {
			t.Fatalf("GET %s trusting the pool: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(b) != "ok" {
			t.Fatalf("GET %s: %q", url, b)
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL); err == nil {
		t.Fatal("a client that does not trust the certificate connected")
	}
}

func TestBodies(t *testing.T) {
	items := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":"x y"}`), []byte(`[]`)}
	sc := bufio.NewScanner(bytes.NewReader(NDJSON(items...)))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[1] != `{"b":"x y"}` || !bytes.HasSuffix(NDJSON(items...), []byte("}\n[]\n")) {
		t.Errorf("NDJSON lines %q", lines)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(JSONArray(items...), &arr); err != nil || len(arr) != 3 || string(arr[2]) != "[]" {
		t.Errorf("JSONArray: %v %q", err, arr)
	}
	if string(JSONArray[[]byte]()) != "[]" {
		t.Errorf("empty JSONArray %q", JSONArray[[]byte]())
	}
	strs := []string{`{"a":1}`, `{"b":"x y"}`, `[]`}
	if !bytes.Equal(NDJSON(strs...), NDJSON(items...)) || !bytes.Equal(JSONArray(strs...), JSONArray(items...)) {
		t.Errorf("strings join unlike bytes: %q, %q", NDJSON(strs...), JSONArray(strs...))
	}
	raw := bytes.Repeat(NDJSON(items...), 100)
	z := Gzip(raw)
	if len(z) >= len(raw) || z[0] != 0x1f || z[1] != 0x8b {
		t.Errorf("Gzip: %d bytes from %d, magic % x", len(z), len(raw), z[:2])
	}
	if got := Gunzip(t, z); !bytes.Equal(got, raw) {
		t.Errorf("Gunzip(Gzip(b)) differs from b")
	}
	if got := Gunzip(t, Gzip(string(raw))); !bytes.Equal(got, raw) {
		t.Errorf("Gunzip(Gzip(s)) differs from s")
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll stopped after %d calls", n)
	}
	start := time.Now()
	if Poll(30*time.Millisecond, 5*time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported true for a condition never met")
	}
	if el := time.Since(start); el < 30*time.Millisecond || el > 5*time.Second {
		t.Errorf("Poll gave up after %v, want about 30ms", el)
	}
	Eventually(t, time.Second, "a condition already met", func() bool { return true })
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 100 {
				if i%2 == 0 {
					_, _ = b.Write([]byte("ab"))
				} else {
					_, _ = b.WriteString("ab")
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); len(got) != 800 || strings.Trim(got, "ab") != "" || strings.Contains(got, "aa") {
		t.Errorf("%d bytes written concurrently, interleaved: %.40q", len(got), got)
	}
}

func TestRepeatReader(t *testing.T) {
	prefix, unit := []byte("head:"), []byte("0123456789")
	want := append(append([]byte(nil), prefix...), bytes.Repeat(unit, 37)...)
	if err := iotest.TestReader(&RepeatReader{Prefix: prefix, Unit: unit, N: 37}, want); err != nil {
		t.Fatal(err)
	}
	r := &RepeatReader{Prefix: prefix, Unit: unit, N: 37}
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil || !bytes.Equal(got, want) || r.BytesRead() != int64(len(want)) {
		t.Fatalf("read %d bytes (%v), counted %d, want %d", len(got), err, r.BytesRead(), len(want))
	}
	r = &RepeatReader{Prefix: prefix, Unit: unit, N: 1 << 40} // far more than memory
	if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil || r.BytesRead() != 1<<20 {
		t.Fatalf("CopyN: %v, counted %d", err, r.BytesRead())
	}
	if n, err := (&RepeatReader{}).Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("empty: %d, %v", n, err)
	}
}

var sink []byte

func TestAllocated(t *testing.T) {
	if n := Allocated(func() { sink = make([]byte, 1<<20) }); n < 1<<20 {
		t.Fatalf("Allocated = %d, want at least 1 MiB", n)
	}
	sink = nil
}

// TestSmallFS fills the small file system: writing past its size fails
// with ENOSPC.
func TestSmallFS(t *testing.T) {
	dir := SmallFS(t, "1m")
	err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2<<20), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 2 MiB into a 1 MiB tmpfs: %v, want ENOSPC", err)
	}
}
