package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// TestSIGTERMLogsJSONAndWhatIsLeft: with --log-format json every line the
// daemon writes is a JSON object, the signal included; durations are
// strings; the back-off warning names the endpoint once; and the last line
// says how many records stay in the spool.
func TestSIGTERMLogsJSONAndWhatIsLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("signals a child process")
	}
	const cs = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=http://127.0.0.1:1"
	d := startDaemon(t, t.TempDir()+"/spool", cs)
	ids := postEnvelopes(t, http.DefaultClient, d.ingest, "left", 20, 100)
	if !testkit.Poll(20*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(d.logs.String(), "backing off")
	}) {
		t.Fatalf("no back-off logged\n%s", d.logs)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-d.eof
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.logs)
	}
	var sawSignal, sawStopped, sawBackoff, sawShutdown bool
	for _, line := range strings.Split(strings.TrimSpace(d.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line in the JSON log: %q", line)
			continue
		}
		switch msg, _ := rec["msg"].(string); {
		case strings.HasPrefix(msg, "signal received"):
			sawSignal = rec["signal"] == "terminated"
		case msg == "shutting down":
			sawShutdown = true
			if rec["timeout"] != "2s" {
				t.Errorf("shutdown timeout logged as %#v, want \"2s\"", rec["timeout"])
			}
		case strings.Contains(msg, "backing off"):
			sawBackoff = true
			if _, ok := rec["wait"].(string); !ok {
				t.Errorf("back-off wait logged as %#v, want a duration string", rec["wait"])
			}
			if e, _ := rec["err"].(string); strings.Contains(e, "http://") {
				t.Errorf("back-off error repeats the URL: %q (endpoint %v)", e, rec["endpoint"])
			}
		case msg == "stopped":
			sawStopped = true
			if left, _ := rec["records_left"].(float64); int(left) != len(ids) {
				t.Errorf("stopped with records_left %v, want %d: %s", rec["records_left"], len(ids), line)
			}
		}
	}
	if !sawSignal || !sawShutdown || !sawBackoff || !sawStopped {
		t.Fatalf("signal %v, shutting down %v, back-off %v, stopped %v\n%s", sawSignal, sawShutdown, sawBackoff, sawStopped, d.logs)
	}
}

// TestJSONLogEndsInJSON: with --log-format json, the error a command ends
// with is a JSON record too.
func TestJSONLogEndsInJSON(t *testing.T) {
	code, _, errOut := cli(t, nil, "run", "--log-format", "json", "--spool-dir", t.TempDir()+"/spool")
	var rec struct {
		Level    string `json:"level"`
		Msg      string `json:"msg"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(errOut), &rec); err != nil || code != exitConfig || rec.Level != "ERROR" || rec.ExitCode != exitConfig ||
		!strings.Contains(rec.Msg, "--connection-string") {
		t.Fatalf("exit %d, stderr %q (%v)", code, errOut, err)
	}
}
