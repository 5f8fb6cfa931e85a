package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// FuzzOTLPHandler feeds any body to the OTLP/HTTP intake, as protobuf or
// OTLP JSON, plain or gzip, for each signal, and checks the answer
// against what was stored: a 200 decodes as the signal's export response,
// its rejected count is within the items received, and the stored records
// are valid envelopes (one line each); any other answer is 400 or 413 with
// a google.rpc.Status and stores nothing.
//
// mode: bit 0 JSON, bit 1 gzip-compressed; sig: the signal (mod 3).
func FuzzOTLPHandler(f *testing.F) {
	for sig := Traces; sig < numSignals; sig++ {
		for mode := range byte(4) {
			f.Add(otlpBody(f, sig, 2, mode&1 == 1), byte(sig), mode)
		}
		f.Add([]byte{}, byte(sig), byte(0))
		f.Add([]byte("\x0a\x02\x0a\x00"), byte(sig), byte(0))
		f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), byte(sig), byte(1))
	}
	lim := breeze.Limits{MaxBodyBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, body []byte, sigb, mode byte) {
		app := &memAppender{}
		h, err := New(Config{Spool: app, Limits: lim, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		o, err := h.OTLP(OTLPConfig{Envelope: envelope.Config{InstrumentationKey: otlpTestIKey, HostName: "fuzz"}})
		if err != nil {
			t.Fatal(err)
		}
		sig := Signal(sigb % 3)
		asJSON := mode&1 == 1
		send := body
		req := httptest.NewRequest(http.MethodPost, signalPaths[sig], nil)
		if asJSON {
			req.Header.Set("Content-Type", contentTypeJSON)
		} else {
			req.Header.Set("Content-Type", contentTypeProto)
		}
		if mode&2 != 0 {
			send = testkit.Gzip(string(body))
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.Body = httpBody(send)
		req.ContentLength = int64(len(send))
		w := httptest.NewRecorder()
		o.ServeHTTP(w, req)
		stored := app.records
		if w.Code != http.StatusOK {
			if w.Code != 400 && w.Code != 413 {
				t.Fatalf("status %d %q", w.Code, w.Body)
			}
			var st spb.Status
			if asJSON {
				var js struct {
					Code    int32  `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &js); err != nil {
					t.Fatalf("%d %q: %v", w.Code, w.Body, err)
				}
				st.Message = js.Message
			} else if err := proto.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatalf("%d %q: %v", w.Code, w.Body, err)
			}
			if st.Message == "" || len(stored) != 0 {
				t.Fatalf("%d %v with %d records stored", w.Code, &st, len(stored))
			}
			return
		}
		var rejected int64
		var err2 error
		switch sig {
		case Traces:
			r := ptraceotlp.NewExportResponse()
			err2 = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, w.Body.Bytes(), asJSON)
			rejected = r.PartialSuccess().RejectedSpans()
		case Logs:
			r := plogotlp.NewExportResponse()
			err2 = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, w.Body.Bytes(), asJSON)
			rejected = r.PartialSuccess().RejectedLogRecords()
		default:
			r := pmetricotlp.NewExportResponse()
			err2 = unmarshal(r.UnmarshalProto, r.UnmarshalJSON, w.Body.Bytes(), asJSON)
			rejected = r.PartialSuccess().RejectedDataPoints()
		}
		if err2 != nil {
			t.Fatalf("200 %q: %v", w.Body, err2)
		}
		st := o.Stats()
		received := int64(st.Received[sig.String()])
		if rejected < 0 || rejected > received || int64(st.Accepted[sig.String()]) != received-rejected {
			t.Fatalf("rejected %d of %d, stats %+v", rejected, received, st)
		}
		if accepted := received - rejected; sig != Traces && int64(len(stored)) != accepted {
			t.Fatalf("%d stored for %d accepted", len(stored), accepted)
		} else if sig == Traces && int64(len(stored)) < accepted {
			t.Fatalf("%d stored for %d accepted spans", len(stored), accepted)
		}
		for _, rec := range stored {
			if bytes.IndexByte(rec, '\n') != len(rec)-1 || envelope.Validate(rec) != nil {
				t.Fatalf("stored record %q: %v", rec, envelope.Validate(rec))
			}
		}
	})
}
