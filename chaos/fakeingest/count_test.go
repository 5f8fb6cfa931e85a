package fakeingest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// TestCountBodies: a counting endpoint accepts every line of a processed
// body without decoding it, answers with the counts, and records the
// bodies' sizes but no id.
func TestCountBodies(t *testing.T) {
	e := startEndpoint(t, Config{Bodies: CountBodies})
	c := newClient(t, 5*time.Second)
	var size int64
	for _, tc := range []struct {
		name  string
		body  []byte
		gz    bool
		items int
	}{
		{"ndjson gzip", ndjson(ids("a", 3)...), true, 3},
		{"ndjson plain", ndjson(ids("b", 2)...), false, 2},
		{"last line without newline", bytes.TrimSuffix(ndjson(ids("c", 4)...), []byte("\n")), false, 4},
		// Lines, not items: a counting endpoint does not parse.
		{"not even JSON", []byte("one\ntwo\n"), true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, c, e.URL()+"/v2.1/track", tc.body, tc.gz)
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("answer %d %s %v", a.status, a.body, a.err)
			}
			if r := decodeTrack(t, a.body); r.ItemsReceived != tc.items || r.ItemsAccepted != tc.items || len(r.Errors) != 0 {
				t.Errorf("answer %+v, want %d items accepted", r, tc.items)
			}
			if tc.gz {
				size += int64(len(testkit.Gzip(tc.body)))
			} else {
				size += int64(len(tc.body))
			}
		})
	}
	rep := e.Report()
	if rep.Requests != 4 || rep.ByOutcome["ok_200"] != 4 || rep.ItemsReceived != 11 || rep.ItemsAccepted != 11 || rep.ItemsAcknowledged != 11 {
		t.Errorf("stats %+v, want 4 requests and 11 items accepted", rep.Stats)
	}
	if rep.BodyBytes != size {
		t.Errorf("BodyBytes %d, want %d", rep.BodyBytes, size)
	}
	if len(rep.IDs) != 0 || rep.Accepted != 0 {
		t.Errorf("ids tracked: %v", rep.IDs)
	}
}

// TestDiscardBodies: a discarding endpoint reads bodies without gunzipping
// them, answers 200 and counts requests and bytes, not items.
func TestDiscardBodies(t *testing.T) {
	e := startEndpoint(t, Config{Bodies: DiscardBodies})
	c := newClient(t, 5*time.Second)
	body := ndjson(ids("d", 5)...)
	for _, gz := range []bool{true, false} {
		if a := post(t, c, e.URL()+"/v2/track", body, gz); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("answer %d %s %v", a.status, a.body, a.err)
		}
	}
	// Not an envelope, nor even JSON: nothing reads it, so nothing refuses it.
	if a := post(t, c, e.URL()+"/v2/track", []byte("plain"), false); a.status != http.StatusOK {
		t.Fatalf("answer %d %s %v", a.status, a.body, a.err)
	}
	st := e.Stats()
	want := int64(len(testkit.Gzip(body)) + len(body) + len("plain"))
	if st.Requests != 3 || st.ByOutcome["ok_200"] != 3 || st.ItemsReceived != 0 || st.BodyBytes != want {
		t.Errorf("stats %+v, want 3 requests, no items, %d body bytes", st, want)
	}
}

// TestCountBodiesRefusesBadBodies: the counting modes answer what they
// cannot read as the decoding mode does.
func TestCountBodiesRefusesBadBodies(t *testing.T) {
	e := startEndpoint(t, Config{Bodies: CountBodies, MaxBodyBytes: 4096, MaxDecodedBytes: 8192})
	c := newClient(t, 5*time.Second)
	bomb := testkit.Gzip(bytes.Repeat([]byte("{}\n"), 10_000)) // small, but 30 kB unzipped
	for _, tc := range []struct {
		name, ce string
		body     []byte
		status   int
	}{
		{"broken gzip", "gzip", []byte{0x1f, 0x8b, 0, 0}, 400},
		{"empty gzip", "gzip", nil, 400},
		{"too large", "", bytes.Repeat([]byte("{}\n"), 2000), 413},
		{"too large unzipped", "gzip", bomb, 413},
		{"encoding", "br", []byte("{}"), 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2.1/track", bytes.NewReader(tc.body))
			if tc.ce != "" {
				req.Header.Set("Content-Encoding", tc.ce)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, b, tc.status)
			}
		})
	}
	if st := e.Stats(); st.ByOutcome["bad_body_400"] != 2 || st.ByOutcome["bad_body_413"] != 2 || st.ByOutcome["bad_body_415"] != 1 || st.BodyBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSetUnavailable: while unavailable, every track request is answered
// 503 without Retry-After, its items kept for a retry; then the endpoint
// accepts again. In every body mode.
func TestSetUnavailable(t *testing.T) {
	for _, mode := range []BodyMode{DecodeBodies, CountBodies, DiscardBodies} {
		t.Run(mode.String(), func(t *testing.T) {
			e := startEndpoint(t, Config{Bodies: mode})
			c := newClient(t, 5*time.Second)
			e.SetUnavailable(true)
			a := post(t, c, e.URL()+"/v2.1/track", ndjson(ids("u", 3)...), true)
			if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "" {
				t.Fatalf("answer %d %v %s %v, want 503 without Retry-After", a.status, a.header, a.body, a.err)
			}
			e.SetUnavailable(false)
			if a := post(t, c, e.URL()+"/v2.1/track", ndjson(ids("u", 3)...), true); a.status != http.StatusOK {
				t.Fatalf("answer %d %s %v after SetUnavailable(false)", a.status, a.body, a.err)
			}
			st := e.Stats()
			if st.ByOutcome["outage_503"] != 1 || st.ByOutcome["ok_200"] != 1 || st.LostAnswers != 0 {
				t.Errorf("outcomes %v", st.ByOutcome)
			}
			if items := map[BodyMode]int{DecodeBodies: 3, CountBodies: 3}[mode]; st.RetriableItems != items || st.ItemsAccepted != items {
				t.Errorf("stats %+v, want %d items retriable then accepted", st, items)
			}
		})
	}
}

// TestFallback: the requests that are not for a track path go to
// Config.Fallback, unrecorded; the track paths stay the endpoint's.
func TestFallback(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "fallback "+r.Method+" "+r.URL.Path)
	})
	e := startEndpoint(t, Config{Fallback: fallback})
	c := newClient(t, 5*time.Second)
	get := func(path string) (int, string) {
		resp, err := c.Get(e.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("/stats"); status != http.StatusOK || body != "fallback GET /stats" {
		t.Errorf("GET /stats: %d %q", status, body)
	}
	if status, _ := get("/v2.1/track"); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /v2.1/track: %d, want 405", status)
	}
	if a := post(t, c, e.URL()+"/v2.1/track", ndjson("f"), false); a.status != http.StatusOK || !strings.Contains(string(a.body), `"itemsAccepted":1`) {
		t.Errorf("POST /v2.1/track: %d %s", a.status, a.body)
	}
	if st := e.Stats(); st.Requests != 2 || st.ByOutcome["not_track_405"] != 1 || st.ByOutcome["ok_200"] != 1 {
		t.Errorf("stats %+v, want the two track requests only", st)
	}
}

// TestDecodeBodiesCountsBodyBytes: the decoding mode counts the bytes of
// processed bodies, not of refused ones.
func TestDecodeBodiesCountsBodyBytes(t *testing.T) {
	e := startEndpoint(t, Config{})
	c := newClient(t, 5*time.Second)
	body := ndjson(ids("b", 7)...)
	if a := post(t, c, e.URL()+"/v2.1/track", body, true); a.status != http.StatusOK {
		t.Fatalf("answer %d %s %v", a.status, a.body, a.err)
	}
	e.SetUnavailable(true)
	_ = post(t, c, e.URL()+"/v2.1/track", body, true)
	if st := e.Stats(); st.BodyBytes != int64(len(testkit.Gzip(body))) || st.Requests != 2 {
		t.Errorf("stats %+v, want the first body's %d bytes", st, len(testkit.Gzip(body)))
	}
}
