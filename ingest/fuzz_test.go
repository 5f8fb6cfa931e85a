package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// memAppender keeps appended records in memory.
type memAppender struct {
	mu      sync.Mutex
	records [][]byte
}

func (m *memAppender) Append(_ context.Context, records ...[]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range records {
		m.records = append(m.records, bytes.Clone(r))
	}
	return nil
}

// FuzzHandler checks the handler's answers against what it stored, for any
// body: the status agrees with the counts, errors[] is sorted and in
// range, exactly the accepted items are stored, and every stored record is
// one valid envelope followed by one '\n'.
//
// mode: 0 plain, 1 gzip-compressed, 2 raw bytes declared as gzip.
func FuzzHandler(f *testing.F) {
	good := envs("fuzz", 2)
	for _, s := range []string{
		string(testkit.NDJSON(good...)), string(testkit.JSONArray(good...)), good[0],
		good[0] + "\n{x}\n[1]\n" + good[1],
		"[" + good[0] + ",{},2]",
		"{}", "", "[]", "x",
		strings.Replace(good[0], "MessageData", "RequestData", 1),
	} {
		for mode := range byte(3) {
			f.Add([]byte(s), mode)
		}
	}
	lim := breeze.Limits{MaxBodyBytes: 1 << 16, MaxItems: 16, MaxItemBytes: 1024}
	f.Fuzz(func(t *testing.T, body []byte, mode byte) {
		app := &memAppender{}
		h, err := New(Config{Spool: app, Limits: lim, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		send := body
		req := httptest.NewRequest(http.MethodPost, "/v2.1/track", nil)
		switch mode % 3 {
		case 1:
			send = testkit.Gzip(body)
			req.Header.Set("Content-Encoding", "gzip")
		case 2:
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.Body = httpBody(send)
		req.ContentLength = int64(len(send))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		var resp breeze.TrackResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Errors == nil {
			t.Fatalf("answer %d %q: %v", w.Code, w.Body, err)
		}
		stored := app.records
		if resp.ItemsAccepted != len(stored) {
			t.Fatalf("answer %s accepts %d, stored %d", w.Body, resp.ItemsAccepted, len(stored))
		}
		switch w.Code {
		case 200:
			if len(resp.Errors) != 0 || resp.ItemsAccepted != resp.ItemsReceived || resp.ItemsReceived == 0 {
				t.Fatalf("200 %s", w.Body)
			}
		case 206:
			if len(resp.Errors) == 0 || resp.ItemsAccepted == 0 || resp.ItemsAccepted+len(resp.Errors) != resp.ItemsReceived {
				t.Fatalf("206 %s", w.Body)
			}
		case 400, 413:
			if resp.ItemsAccepted != 0 || (len(resp.Errors) != 0 && len(resp.Errors) != resp.ItemsReceived) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		for i, e := range resp.Errors {
			if e.Index < 0 || e.Index >= resp.ItemsReceived || (i > 0 && e.Index <= resp.Errors[i-1].Index) || e.StatusCode != 400 || e.Message == "" {
				t.Fatalf("errors %+v", resp.Errors)
			}
		}
		for _, rec := range stored {
			if bytes.IndexByte(rec, '\n') != len(rec)-1 || !json.Valid(rec) || envelope.Validate(rec) != nil {
				t.Fatalf("stored record %q", rec)
			}
		}
	})
}

// httpBody wraps b as a request body.
func httpBody(b []byte) *bodyReader { return &bodyReader{Reader: bytes.NewReader(b)} }

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// discardAppender accepts and forgets.
type discardAppender struct{}

func (discardAppender) Append(context.Context, ...[]byte) error { return nil }
