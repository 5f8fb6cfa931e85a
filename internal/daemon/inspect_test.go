package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aispool/aispool/spool"
)

func TestSpoolHandler(t *testing.T) {
	sp, err := spool.Open(context.Background(), filepath.Join(t.TempDir(), "spool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	env := []byte(`{"name":"Microsoft.ApplicationInsights.Event","time":"2026-01-02T03:04:05Z","data":{"baseType":"EventData","baseData":{"name":"checkout"}}}`)
	for range 4 {
		if err := sp.Append(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	h := spoolHandler(sp)
	for _, tc := range []struct {
		name, target, remote string
		code, peek           int
	}{
		{"counts from anywhere", "/spool", "192.0.2.7:4000", 200, 0},
		{"peek from loopback", "/spool?peek=2", "127.0.0.1:4000", 200, 2},
		{"peek from IPv6 loopback", "/spool?peek=9", "[::1]:4000", 200, 4},
		{"peek from another machine", "/spool?peek=2", "192.0.2.7:4000", 403, 0},
		{"bad peek", "/spool?peek=-1", "127.0.0.1:4000", 400, 0},
		{"peek too large", "/spool?peek=100000", "127.0.0.1:4000", 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			h(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("%s: %d %s, want %d", tc.target, rec.Code, rec.Body, tc.code)
			}
			if tc.code != 200 {
				return
			}
			var r InspectReport
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Source != "daemon" || r.Records != 4 || !r.RecordsExact || len(r.Peek) != tc.peek {
				t.Fatalf("report %+v", r)
			}
			if tc.peek > 0 && (r.Peek[0].Type != "EventData" || r.Peek[0].Name != "checkout") {
				t.Fatalf("peek %+v", r.Peek[0])
			}
		})
	}
}
