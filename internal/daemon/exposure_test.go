package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos"
)

// runDaemon starts a daemon for cfg and stops it at the end of the test,
// checking that Run returned nil.
func runDaemon(t *testing.T, cfg Config) *Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after ctx ended")
		}
	})
	return d
}

// trackAnswer is the intake's TrackResponse.
type trackAnswer struct {
	ItemsReceived int `json:"itemsReceived"`
	ItemsAccepted int `json:"itemsAccepted"`
	Errors        []struct {
		Index      int    `json:"index"`
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	} `json:"errors"`
}

// post sends body to url with client (http.DefaultClient if nil) and
// returns the status and the raw answer.
func post(t *testing.T, client *http.Client, url, body string, hdr ...string) (int, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestIntakeKeysAreCaseSensitive: an envelope whose keys are spelled in
// another case is refused with an error naming the key as found; the
// valid envelope of the same request is stored and delivered.
func TestIntakeKeysAreCaseSensitive(t *testing.T) {
	up := startUpstream(t)
	d := runDaemon(t, testConfig(t, up.ConnectionString("")))
	misCased := `{"nAme":"Microsoft.ApplicationInsights.Message","tIme":"2026-01-02T03:04:05Z",` +
		`"iKeY":"11111111-2222-3333-4444-555555555555","dAtA":{"BAseTYpe":"MessageData","bAsEdAtA":{"message":"m"}}}`
	stack := `{"name":"Microsoft.ApplicationInsights.Exception","time":"2026-01-02T03:04:05Z",` +
		`"iKey":"11111111-2222-3333-4444-555555555555","data":{"baseType":"ExceptionData",` +
		`"baseData":{"exceptions":[{"message":"m","StACk":false}]}}}`
	body := "[" + string(chaos.Envelope("kept")) + "," + misCased + "," + stack + "]"
	status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", body)
	var ans trackAnswer
	if err := json.Unmarshal([]byte(raw), &ans); err != nil {
		t.Fatalf("answer %d %q: %v", status, raw, err)
	}
	if status != http.StatusPartialContent || ans.ItemsReceived != 3 || ans.ItemsAccepted != 1 || len(ans.Errors) != 2 {
		t.Fatalf("answer %d %s, want 206 with 1 of 3 accepted and 2 errors", status, raw)
	}
	for i, want := range []struct {
		index int
		words []string
	}{
		{1, []string{"name", `"nAme"`, "case-sensitive"}},
		{2, []string{"exceptions[0].stack", `"StACk"`, "case-sensitive"}},
	} {
		e := ans.Errors[i]
		if e.Index != want.index || e.StatusCode != 400 {
			t.Errorf("error %d = %+v, want index %d status 400", i, e, want.index)
		}
		for _, w := range want.words {
			if !strings.Contains(e.Message, w) {
				t.Errorf("error %d message %q lacks %s", i, e.Message, w)
			}
		}
	}
	waitDelivered(t, up, []string{"kept"})
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, logs *logBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", want, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEndpointCredentialsNotLogged: user information and the query string
// of the IngestionEndpoint appear neither in the start line nor in the
// sender's errors; the host and path do.
func TestEndpointCredentialsNotLogged(t *testing.T) {
	var logs logBuffer
	cfg := testConfig(t, "InstrumentationKey=11111111-2222-3333-4444-555555555555;"+
		"IngestionEndpoint=http://someone:pa55word@127.0.0.1:1/prefix/?sig=s1gnature&se=2030")
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	cfg.Sender.TransportRetries = -1
	d := runDaemon(t, cfg)
	if status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", string(chaos.Envelope("x"))); status != 200 {
		t.Fatalf("post: %d %s", status, raw)
	}
	waitLog(t, &logs, "endpoint unavailable")
	out := logs.String()
	for _, secret := range []string{"someone", "pa55word", "s1gnature", "2030"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"ingestion":"http://REDACTED@127.0.0.1:1/prefix/v2.1/track?REDACTED"`) {
		t.Errorf("start line does not show the redacted endpoint:\n%s", out)
	}
}

// TestConnectionStringFile: the daemon and the drain read the connection
// string from ConnectionStringFile; a missing or empty file is a
// configuration error naming the flag.
func TestConnectionStringFile(t *testing.T) {
	up := startUpstream(t)
	file := filepath.Join(t.TempDir(), "cs")
	if err := os.WriteFile(file, []byte(up.ConnectionString("")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "")
	cfg.ConnectionStringFile = file
	d := runDaemon(t, cfg)
	if status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", string(chaos.Envelope("from-file"))); status != 200 {
		t.Fatalf("post: %d %s", status, raw)
	}
	waitDelivered(t, up, []string{"from-file"})

	for _, tc := range []struct{ content, want string }{{"", "empty"}, {"x", "--connection-string-file " + file}} {
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Drain(context.Background(), cfg, time.Millisecond, nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Drain with %q in the file = %v, want ErrConfig naming %q", tc.content, err, tc.want)
		}
	}
}
