package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze/breezetest"
	"github.com/aispool/aispool/internal/testkit"
)

// TestResponseVectorsEndToEnd replays every vector through the real sending
// path: gzip body, HTTP over loopback, redirects, classification, the
// endpoint's back-off gate.
func TestResponseVectorsEndToEnd(t *testing.T) {
	for _, tc := range breezetest.Vectors(t) {
		t.Run(tc.Name, func(t *testing.T) {
			clk := newFakeClock()
			first := reply{status: tc.Status, header: tc.Headers, body: tc.ResponseBody()}
			if tc.TransportError == "timeout" {
				first = reply{hang: true}
			}
			script := []reply{first}
			if tc.Then != nil {
				script = append(script, reply{status: tc.Then.Status, body: string(tc.Then.Body)})
			}
			if tc.Status == 413 {
				// Both halves are refused again, then each single item
				// is accepted (depth first): the split ends with
				// everything acknowledged.
				ok := reply{status: 200, body: `{"itemsReceived":1,"itemsAccepted":1}`}
				script = append(script, first, ok, ok, first, ok, ok)
			}
			e := newEndpoint(t, clk, script...)
			logs := &testkit.SyncBuffer{}
			cfg := testConfig(e, clk, logs)
			switch tc.TransportError {
			case "connection refused":
				dead := httptest.NewServer(http.NotFoundHandler())
				dead.Close()
				cfg.ConnectionString = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + dead.URL
			case "timeout":
				cfg.RequestTimeout = 100 * time.Millisecond
			}
			if tc.Status == 307 {
				cfg.Transport = routeTo(t, e.URL())
			}
			s := mustNew(t, cfg)
			out := s.send(context.Background(), lines(tc.Items))

			wantKeep := tc.Keep
			wantDrop := breezetest.NonNil(tc.Drop)
			if tc.Status == 413 {
				wantKeep = nil // resent in halves, accepted
			}
			if got := breezetest.Sorted(out.retry); !reflect.DeepEqual(got, breezetest.Sorted(wantKeep)) {
				t.Errorf("keep = %v, want %v", got, wantKeep)
			}
			if got := breezetest.DropByIndex(out.drop); !reflect.DeepEqual(got, wantDrop) {
				t.Errorf("drop = %v, want %v", got, wantDrop)
			}
			ep := s.tx.endpoint(s.tx.target())
			wait := ep.wait(clk.Now())
			if (wait > 0) != tc.Backoff {
				t.Errorf("gate armed for %v, want backoff=%v", wait, tc.Backoff)
			}
			if tc.WaitMin != nil && wait < time.Duration(*tc.WaitMin*float64(time.Second)) {
				t.Errorf("wait %v, want at least %vs", wait, *tc.WaitMin)
			}
			if tc.WaitMax != nil && wait > time.Duration(*tc.WaitMax*float64(time.Second)) {
				t.Errorf("wait %v, want at most %vs", wait, *tc.WaitMax)
			}
			if tc.Backoff && tc.WaitMin == nil && (wait < 500*time.Millisecond || wait > 1500*time.Millisecond) {
				t.Errorf("first back-off %v, want 1 s ± 50%%", wait)
			}
			reqs := e.requests()
			switch {
			case tc.TransportError == "connection refused":
				if len(reqs) != 0 {
					t.Errorf("%d requests reached a dead endpoint", len(reqs))
				}
				if st := s.Stats(); st.TransportRetries != DefaultTransportRetries || st.Requests[0] != 1 {
					t.Errorf("transport retries %d, requests %v; want %d quick retries in one request", st.TransportRetries, st.Requests, DefaultTransportRetries)
				}
			case tc.TransportError == "timeout":
				if len(reqs) != 1 {
					t.Errorf("%d requests, want 1 (timeouts are not retried by the transport layer)", len(reqs))
				}
			case tc.Status == 307:
				if len(reqs) != 2 || reqs[1].host != "westus-1.in.applicationinsights.azure.com" || reqs[1].path != "/v2.1/track" {
					t.Fatalf("requests %+v, want the second at the Location", reqs)
				}
				if got := s.tx.target(); got != tc.Headers["Location"] {
					t.Errorf("target now %q, want the redirect remembered", got)
				}
				clk.Advance(61 * time.Second)
				if got := s.tx.target(); got != s.Endpoint() {
					t.Errorf("target after max-age = %q, want %q", got, s.Endpoint())
				}
			case tc.Status == 413:
				if len(reqs) != 1+2+tc.Items {
					t.Errorf("%d requests, want %d (whole, halves, singles)", len(reqs), 1+2+tc.Items)
				}
			default:
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1 (the transport layer never retries a response)", len(reqs))
				}
				if len(reqs[0].lines) != tc.Items {
					t.Errorf("body has %d lines, want %d", len(reqs[0].lines), tc.Items)
				}
			}
		})
	}
}
