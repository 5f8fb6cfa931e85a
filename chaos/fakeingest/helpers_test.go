package fakeingest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startEndpoint starts an endpoint with cfg (logging nothing unless cfg
// says otherwise), closed at the end of the test.
func startEndpoint(t *testing.T, cfg Config) *Endpoint {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	return StartForTest(t, cfg)
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

// envelopes returns a synthetic envelope for each id.
func envelopes(idList []string) [][]byte {
	out := make([][]byte, len(idList))
	for i, id := range idList {
		out[i] = Envelope(id)
	}
	return out
}

// ndjson builds a newline-delimited body of synthetic envelopes.
func ndjson(idList ...string) []byte { return testkit.NDJSON(envelopes(idList)...) }

// jsonArray builds a JSON array body of synthetic envelopes.
func jsonArray(idList ...string) []byte { return testkit.JSONArray(envelopes(idList)...) }

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
		body, ce = testkit.Gzip(body), "gzip"
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

// sum adds up the values of m.
func sum[M ~map[K]V, K comparable, V int | uint64](m M) V {
	var n V
	for _, v := range m {
		n += v
	}
	return n
}
