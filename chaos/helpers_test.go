package chaos

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
)

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startEndpoint starts an endpoint with p and seed, closed at the end of
// the test.
func startEndpoint(t *testing.T, cfg EndpointConfig) *Endpoint {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatalf("NewEndpoint: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// newClient returns an HTTP client of its own (no shared idle
// connections), closed at the end of the test.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// ids returns n ids with a prefix.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// ndjson builds a newline-delimited body of synthetic envelopes.
func ndjson(idList ...string) []byte {
	var b bytes.Buffer
	for _, id := range idList {
		b.Write(Envelope(id))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// jsonArray builds a JSON array body of synthetic envelopes.
func jsonArray(idList ...string) []byte {
	parts := make([]string, len(idList))
	for i, id := range idList {
		parts[i] = string(Envelope(id))
	}
	return []byte("[" + strings.Join(parts, ",\n ") + "]")
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// answer is what a client saw for one request.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error // request or body read error
}

// post sends body to url+path, gzip'd if gz, and reads the whole answer.
func post(t *testing.T, c *http.Client, url string, body []byte, gz bool) answer {
	t.Helper()
	ce := ""
	if gz {
		body, ce = gzipped(body), "gzip"
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-json-stream")
	if ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// only returns a profile whose single fault is set by f.
func only(name string, f func(p *Profile)) *Profile {
	p := &Profile{Name: name}
	f(p)
	return p
}

// itemOf wraps raw as a decoded item.
func itemOf(raw []byte) breeze.Item { return breeze.Item{Raw: raw} }

func ptr[T any](v T) *T { return &v }
